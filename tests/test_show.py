"""`adrs show` never cuts code or diffs: the change that made a score must be visible whatever the width.

Piped (not a terminal), the code comes out verbatim; on a terminal it is wrapped at the width.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from adrs import api
from adrs.archive.store import Archive, NewProgram
from adrs.evaluate.result import Evaluation
from adrs.inspect_run import render_program
from adrs.problem import load_problem
from adrs.program import normalized_hash, unified_diff

TERMS = [f"weight_{k:03d}" for k in range(40)]
LONG_LINE = "    return sorted(range(len(jobs)), key=lambda i: jobs[i][0] * (" + " + ".join(TERMS) + "))"


def _archive_with_a_long_line(problem_dir: Path, path: Path) -> tuple[int, str]:
    problem = load_problem(problem_dir)
    initial = problem.initial_code()
    child = (
        "\n".join(LONG_LINE if "return sorted" in line else line for line in initial.splitlines()).replace(
            "def order_jobs(jobs):", "def order_jobs(jobs):\n    " + "; ".join(f"{t} = 1" for t in TERMS)
        )
        + "\n"
    )
    store = Archive.open(path)
    try:
        run = store.create_run(problem.name, str(problem.root), problem.fingerprint(), 0, {})
        parent = store.add_program(run.id, NewProgram(initial, normalized_hash(initial), 0, "initial"))
        store.record_evaluations(parent.id, [Evaluation("quick", True, 1.0, {"score": 1.0})], complete=False)
        new = NewProgram(
            child, normalized_hash(child), 1, "offline", parent_id=parent.id, diff=unified_diff(initial, child)
        )
        program = store.add_program(run.id, new)
        store.record_evaluations(program.id, [Evaluation("quick", True, 2.0, {"score": 2.0})], complete=False)
        return program.id, child
    finally:
        store.close()


def test_piped_show_prints_code_and_diffs_verbatim(toy_problem, tmp_path):
    archive = tmp_path / "a.sqlite"
    program_id, code = _archive_with_a_long_line(toy_problem, archive)
    done = subprocess.run(
        [sys.executable, "-m", "adrs.cli", "show", str(archive), str(program_id)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "80", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert LONG_LINE in lines  # the code, whole
    assert "+" + LONG_LINE in lines  # the diff against the parent, whole
    assert lines.count("+" + LONG_LINE) == 2  # ... and against the initial program
    assert code in done.stdout


def test_a_terminal_gets_the_code_wrapped_not_cut(toy_problem, tmp_path):
    archive = tmp_path / "a.sqlite"
    program_id, _ = _archive_with_a_long_line(toy_problem, archive)
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=60, color_system=None)
    render_program(console, api.show_program(archive, program_id))
    text = out.getvalue()
    assert all(len(line) <= 60 for line in text.splitlines())
    for term in TERMS:  # every part of the long line is on screen, on some wrapped line
        assert text.count(term) >= 4, term  # the assignment line and the sum, in the code and both diffs
