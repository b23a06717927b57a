"""Where real data is looked for: the problem's folder, a root of folders, or nowhere."""

from __future__ import annotations

import asyncio

import pytest

from adrs.evaluate.runner import EvalSettings, evaluate_stage
from adrs.problem import load_problem
from adrs.problemkit import find_data


def test_problem_folder_and_root_folder_both_resolve(tmp_path):
    (tmp_path / "prob").mkdir()
    (tmp_path / "prob" / "trace.json").write_text("{}")
    assert find_data(tmp_path, "prob", "trace.json") == tmp_path / "prob"
    assert find_data(tmp_path / "prob", "prob", "trace.json") == tmp_path / "prob"


def test_no_data_given_means_synthetic(monkeypatch):
    monkeypatch.delenv("ADRS_DATA", raising=False)
    assert find_data(None, "prob", "trace.json") is None


def test_a_root_without_this_problem_means_synthetic(tmp_path, monkeypatch):
    (tmp_path / "other").mkdir()
    monkeypatch.setenv("ADRS_DATA", str(tmp_path))
    assert find_data(None, "prob", "trace.json") is None


def test_the_problem_folder_without_the_file_is_an_error(tmp_path):
    (tmp_path / "prob").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no 'trace.json'"):
        find_data(tmp_path, "prob", "trace.json")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="holds no"):
        find_data(empty, "prob", "trace.json")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        find_data(tmp_path / "missing", "prob", "trace.json")


def test_adrs_data_reaches_the_evaluator_in_its_sandboxed_worker(toy_problem, tmp_path, monkeypatch):
    # The worker's environment is scrubbed, so the runner must hand the folder down itself.
    (toy_problem / "evaluator.py").write_text(
        "def evaluate(program_path, *, data_dir=None):\n"
        "    return {'score': 1.0 if data_dir else 0.0, 'feedback': str(data_dir)}\n"
    )
    (tmp_path / "data").mkdir()
    problem = load_problem(toy_problem)
    quick = problem.stage("quick")
    monkeypatch.delenv("ADRS_DATA", raising=False)
    assert asyncio.run(evaluate_stage(problem, problem.initial_path, quick, EvalSettings())).score == 0.0
    monkeypatch.setenv("ADRS_DATA", str(tmp_path / "data"))
    evaluation = asyncio.run(evaluate_stage(problem, problem.initial_path, quick, EvalSettings()))
    assert (evaluation.score, evaluation.feedback) == (1.0, str(tmp_path / "data"))


def test_a_relative_data_folder_is_resolved_where_the_command_runs(toy_problem, tmp_path, monkeypatch):
    # The worker runs in its private folder: `--data ../shared/data` must mean the user's folder.
    (toy_problem / "evaluator.py").write_text(
        "import os\n"
        "def evaluate(program_path, *, data_dir=None):\n"
        "    return {'score': 1.0 if data_dir and os.path.isdir(data_dir) else 0.0, 'feedback': str(data_dir)}\n"
    )
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ADRS_DATA", raising=False)
    problem = load_problem(toy_problem)
    evaluation = asyncio.run(
        evaluate_stage(problem, problem.initial_path, problem.stage("quick"), EvalSettings(data_dir="data"))
    )
    assert (evaluation.score, evaluation.feedback) == (1.0, str(tmp_path / "data"))
