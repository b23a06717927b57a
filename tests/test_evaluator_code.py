"""The evaluator compiled once by the engine (adrs/evaluate/evaluator_code.py): a worker runs that
code only for the very file it was compiled from, and an evaluator changed during a run is what
the next stage runs; and what the worker reads of evaluate()'s parameters."""

from __future__ import annotations

import asyncio
import functools
import inspect
import marshal
import os
from pathlib import Path

import pytest

from adrs.evaluate import evaluator_code, worker
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


def _wrapped(function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        return function(*args, **kwargs)

    return wrapper


class _Callable:
    def __call__(self, program_path, stage, seed=0):
        return {}


def _plain(program_path, stage, *, workdir, seed=0):
    return {}


def _any(program_path, **kwargs):
    return {}


def _positional(program_path, stage, /, seed):
    return {}


def _starred(program_path, *stage, workdir, **rest):
    local = 1
    return {"local": local}


@pytest.mark.parametrize(
    "function",
    [
        _plain,
        _any,
        _positional,
        _starred,
        _wrapped(_plain),
        functools.partial(_plain, stage="full"),
        _Callable(),
        lambda p: {},
    ],
)
def test_the_keywords_an_evaluate_takes_are_what_inspect_says(function):
    # the worker reads a plain function's parameters from its code object (inspect.signature costs
    # ≈ 0.3 ms of copied pages in a freshly forked worker); every shape answers as inspect does
    params = inspect.signature(function).parameters
    takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    takes, names = worker._keywords(function)
    assert takes == takes_all and set(names) == set(params)
