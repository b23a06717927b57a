"""Whose failure it is: the candidate runner (adrs/candidate/runner.py) blames the problem
(`evaluator_error`) for a driver that fails before the candidate runs, has no run(), or meets an
error only a bug in code raises (NameError, UnboundLocalError, ImportError) with no candidate code on
the stack; and the candidate for its own exceptions, for what the driver raises on purpose, and for
the driver choking on a bad answer (a TypeError converting the None it returned). Real candidate
processes."""

from __future__ import annotations

import pytest

from adrs.problemkit import EVALUATOR, EXCEPTION, ProcessLimits, run_candidate

CANDIDATE = (
    "def answer(x):\n    return x + 1\n\n"
    "def explode(x):\n    raise ValueError('candidate bug')\n\n"
    "def nothing(x):\n    pass\n"
)

DRIVERS = {
    # the candidate raises: its own failure
    "candidate_raises": (
        "def run(candidate, payload):\n    return candidate.explode(payload['x'])\n",
        EXCEPTION,
        "candidate bug",
    ),
    # the driver reports what the candidate got wrong, on purpose: the candidate's failure
    "deliberate": (
        "def run(candidate, payload):\n"
        "    if not hasattr(candidate, 'missing'):\n"
        "        raise AttributeError(\n            'the program defines no function missing()'\n        )\n",
        EXCEPTION,
        "defines no function missing",
    ),
    # the candidate answered; the driver then fails on its own: the problem's failure
    "driver_bug": (
        "def run(candidate, payload):\n    value = candidate.answer(payload['x'])\n    return valeu + 1\n",
        EVALUATOR,
        "NameError",
    ),
    "driver_unbound": (
        "def run(candidate, payload):\n    if candidate.answer(1) > 5:\n        total = 1\n    return total\n",
        EVALUATOR,
        "UnboundLocalError",
    ),
    # the candidate's bad answer makes the driver's conversion fail: the candidate's failure
    "bad_answer": (
        "def run(candidate, payload):\n    return float(candidate.nothing(payload['x']))\n",
        EXCEPTION,
        "NoneType",
    ),
    "driver_name_error": (
        "def run(candidate, payload):\n    return undefined_helper(candidate.answer(1))\n",
        EVALUATOR,
        "NameError",
    ),
    # a driver that cannot even load, or fails before the candidate is imported
    "driver_import": (
        "import no_such_module_anywhere\n\ndef run(candidate, payload):\n    return 1\n",
        EVALUATOR,
        "failed to load",
    ),
    "before_import": (
        "def before_import(payload):\n    payload['seed'] + 1\n\ndef run(candidate, payload):\n    return 1\n",
        EVALUATOR,
        "in before_import",
    ),
    # no run() at all is the problem's bug too
    "no_run": ("VALUE = 1\n", EVALUATOR, "defines no function run(candidate, payload)"),
}


@pytest.mark.parametrize("name", sorted(DRIVERS))
def test_failures_are_blamed_on_whoever_failed(name, tmp_path):
    source, kind, words = DRIVERS[name]
    program, driver = tmp_path / "candidate.py", tmp_path / "driver.py"
    program.write_text(CANDIDATE)
    driver.write_text(source)
    run = run_candidate(
        program, driver, {"x": 1}, workdir=tmp_path / "work", limits=ProcessLimits(timeout_s=30, memory_mb=1024)
    )
    assert not run.ok
    assert words in run.error
    if kind == EVALUATOR:
        # The runner names the problem's bug in the message; the kind it claims is not trusted
        # (issue 15: a candidate's process may not label the evaluator broken), so it is recorded
        # as `exception`.
        assert "the problem's driver" in run.error, run.error
        assert run.error_kind == EXCEPTION, run.error
    else:
        assert run.error_kind == kind, run.error
        assert "the problem's driver" not in run.error, run.error


def test_a_working_driver_still_returns_the_value(tmp_path):
    program, driver = tmp_path / "candidate.py", tmp_path / "driver.py"
    program.write_text(CANDIDATE)
    driver.write_text("def run(candidate, payload):\n    return candidate.answer(payload['x'])\n")
    run = run_candidate(
        program, driver, {"x": 41}, workdir=tmp_path / "work", limits=ProcessLimits(timeout_s=30, memory_mb=1024)
    )
    assert run.ok and run.value == 42
