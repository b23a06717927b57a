"""Scoring and evolving never write into the problem folder: it may be a user's read-only tree."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import adrs


def _tree(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def test_scoring_and_evolving_leave_the_problem_folder_as_it_was(toy_problem, tmp_path):
    # The evaluator imports a module of its own folder, as built-in problems import their driver.
    (toy_problem / "helper.py").write_text("OFFSET = 0\n")
    evaluator = toy_problem / "evaluator.py"
    evaluator.write_text("import helper  # noqa: F401\n" + evaluator.read_text())
    before = _tree(toy_problem)

    (evaluation, *_) = adrs.evaluate_program(toy_problem, toy_problem / "initial.py")
    assert evaluation.ok, evaluation.error
    adrs.evolve(toy_problem, archive=tmp_path / "a.sqlite", budget=3, workers=1, seed=0, evaluate_holdout=False)

    assert _tree(toy_problem) == before  # in particular no __pycache__ from the worker's imports


def test_eval_and_check_from_the_command_line_leave_the_problem_folder_as_it_was(toy_problem):
    """As a user runs them: a fresh `adrs` process that may write bytecode (PYTHONDONTWRITEBYTECODE
    unset), which must still write none into the problem folder, nor anything else."""
    (toy_problem / "helper.py").write_text("OFFSET = 0\n")
    evaluator = toy_problem / "evaluator.py"
    evaluator.write_text("import helper  # noqa: F401\n" + evaluator.read_text())
    before = _tree(toy_problem)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for argv in (["eval", str(toy_problem), str(toy_problem / "initial.py")], ["check", str(toy_problem)]):
        done = subprocess.run(
            [sys.executable, "-m", "adrs.cli", *argv], capture_output=True, text=True, timeout=300, env=env
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert _tree(toy_problem) == before, argv
