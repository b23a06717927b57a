"""The evaluator compiled once by the engine (adrs/evaluate/evaluator_code.py): a worker runs that
code only for the very file it was compiled from, and an evaluator changed during a run is what
the next stage runs."""

from __future__ import annotations

import asyncio
import marshal
import os
from pathlib import Path

from adrs.evaluate import evaluator_code
from adrs.evaluate.runner import EvalSettings, evaluate_stage
from adrs.problem import load_problem

EVALUATOR = 'def evaluate(program_path, **_):\n    return {"score": SCORE}\n'


def test_the_code_is_used_only_for_the_file_it_was_compiled_from(tmp_path):
    path = tmp_path / "evaluator.py"
    path.write_text(EVALUATOR.replace("SCORE", "1.0"))
    entry = evaluator_code.for_request(path)
    assert entry is not None
    code = evaluator_code.load(entry, str(path))
    assert code is not None and code.co_filename == str(path)
    scope: dict = {}
    exec(code, scope)
    assert scope["evaluate"]("x") == {"score": 1.0}
    assert evaluator_code.load(entry, str(tmp_path / "other.py")) is None  # another path
    assert evaluator_code.load({**entry, "magic": "00000000"}, str(path)) is None  # another interpreter's bytecode
    forged = {**entry, "code": marshal.dumps(compile("X = 1", "elsewhere.py", "exec")).hex()}
    assert evaluator_code.load(forged, str(path)) is None  # code compiled from another file
    path.write_text(EVALUATOR.replace("SCORE", "2.0"))
    os.utime(path, ns=(1, 1))  # even with an old time stamp: the identity (size, inode, time) changed
    assert evaluator_code.load(entry, str(path)) is None
    assert evaluator_code.load(None, str(path)) is None


def test_a_file_that_does_not_compile_is_left_to_the_worker(tmp_path):
    path = tmp_path / "evaluator.py"
    path.write_text("def evaluate(:\n")
    assert evaluator_code.for_request(path) is None
    assert evaluator_code.for_request(tmp_path / "missing.py") is None


def test_an_evaluator_changed_during_a_run_is_what_the_next_stage_runs(toy_problem: Path):
    problem = load_problem(toy_problem)
    program = toy_problem / "initial.py"
    settings = EvalSettings(seed=0)
    stage = problem.stages[0]
    evaluator = Path(problem.evaluator_path)
    evaluator.write_text(EVALUATOR.replace("SCORE", "1.0"))
    first = asyncio.run(evaluate_stage(problem, program, stage, settings))
    evaluator.write_text(EVALUATOR.replace("SCORE", "22.0"))
    second = asyncio.run(evaluate_stage(problem, program, stage, settings))
    assert (first.ok, second.ok) == (True, True), (first.error, second.error)
    assert (first.score, second.score) == (1.0, 22.0)
