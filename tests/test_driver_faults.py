"""Whose failure it is: the candidate runner (adrs/candidate/runner.py) claims a driver fault
(`evaluator_error`, recorded by the harness as `exception` with a note of the claim) for a driver that
fails before the candidate runs, has no run(), or meets an error only a bug in code raises (NameError,
UnboundLocalError, ImportError) with no candidate code on the stack; and blames the candidate for its
own exceptions, for what the driver raises on purpose, and for the driver choking on a bad answer (a
TypeError converting the None it returned). The engine (adrs/evaluate/driver_check.py) records
`evaluator_error` only when the problem's initial program meets a driver fault at the same stage too,
checked once per stage. Real candidate processes and workers."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from adrs.evaluate.runner import EvalSettings, evaluate_code
from adrs.problem import load_problem
from adrs.problemkit import EVALUATOR, EXCEPTION, ProcessLimits, run_candidate
from adrs.problemkit.failures import DRIVER_FAULT_CLAIM

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
        # (issue 15: a candidate's process may not label the evaluator broken), so the harness records
        # `exception` with a note of the claim, which the engine verifies (tests below).
        assert DRIVER_FAULT_CLAIM in run.error, run.error
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


def test_a_candidate_that_breaks_the_import_system_still_has_its_failure_recorded(tmp_path):
    # runner.py imports traceback only once something failed (a run that succeeds never pays for it):
    # a candidate that emptied the import system before raising still gets its own exception recorded,
    # in its own words, and the runner does not die without a result.
    program, driver = tmp_path / "candidate.py", tmp_path / "driver.py"
    program.write_text(
        "import sys\n\n"
        "def explode(x):\n"
        "    for name in ('traceback', 'linecache', 'ast'):\n"
        "        sys.modules.pop(name, None)\n"
        "    sys.meta_path.clear()\n"
        "    sys.path_hooks.clear()\n"
        "    sys.path_importer_cache.clear()\n"
        "    raise ValueError('raised after breaking imports')\n"
    )
    driver.write_text("def run(candidate, payload):\n    return candidate.explode(payload['x'])\n")
    run = run_candidate(
        program, driver, {"x": 1}, workdir=tmp_path / "work", limits=ProcessLimits(timeout_s=30, memory_mb=1024)
    )
    assert not run.ok
    assert run.error_kind == EXCEPTION, run.error
    assert "ValueError: raised after breaking imports" in run.error, run.error


# --- the engine's verdict: a claimed driver fault is checked on the problem's initial program -------------

INITIAL = "# initial\ndef answer(x):\n    return x + 1\n"
GOOD_DRIVER = "def run(candidate, payload):\n    return candidate.answer(payload['x'])\n"
BROKEN_DRIVER = "def run(candidate, payload):\n    value = candidate.answer(payload['x'])\n    return valeu + 1\n"
# The evaluator logs each program it is asked to score (its first line) and the stage, beside itself.
EVALUATOR_SOURCE = """
from pathlib import Path

from adrs.problemkit import run_candidate

DRIVER = Path(__file__).with_name("driver.py")
LOG = Path(__file__).with_name("evaluations.log")


def evaluate(program_path, *, stage="full", workdir=None):
    with LOG.open("a") as log:
        log.write(f"{stage} {Path(program_path).read_text().splitlines()[0]}\\n")
    value = run_candidate(program_path, DRIVER, {"x": 1}, workdir=workdir).raise_for_failure()
    return {"score": float(value)}
"""


def _problem(folder, driver_source):
    """A two-stage toy problem; its description names the folder, so each test's problem has its own
    fingerprint (verdicts are kept per fingerprint for the life of the process)."""
    folder.mkdir()
    (folder / "problem.toml").write_text(
        f'[problem]\nname = "driverfault"\ndescription = "driver faults ({folder})"\n\n'
        '[[stages]]\nname = "quick"\ntimeout_s = 120\n\n[[stages]]\nname = "full"\ntimeout_s = 120\n\n'
        "[limits]\ncandidate_timeout_s = 30\ncandidate_memory_mb = 512\n"
    )
    (folder / "initial.py").write_text(INITIAL)
    (folder / "evaluator.py").write_text(EVALUATOR_SOURCE)
    (folder / "driver.py").write_text(driver_source)
    return load_problem(folder)


def _evaluate(problem, codes, stage_name):
    """Evaluate the programs concurrently at one stage, as the engine's slots do."""
    stage = problem.stage(stage_name)

    async def all_of_them():
        return await asyncio.gather(*(evaluate_code(problem, code, EvalSettings(), (stage,)) for code in codes))

    return [results[-1] for results in asyncio.run(all_of_them())]


def _initial_runs(problem):
    log = problem.root / "evaluations.log"
    lines = log.read_text().splitlines() if log.exists() else []
    return Counter(line.split()[0] for line in lines if line.endswith("# initial"))


def test_a_driver_broken_for_every_program_is_the_problems_failure(tmp_path):
    problem = _problem(tmp_path / "toy", BROKEN_DRIVER)
    candidates = [f"# candidate {k}\ndef answer(x):\n    return x * {k}\n" for k in range(3)]
    quick = _evaluate(problem, candidates[:2], "quick") + _evaluate(problem, candidates[2:], "quick")
    full = _evaluate(problem, candidates, "full")
    for evaluation in quick + full:
        assert evaluation.error_kind == EVALUATOR, evaluation.error
        first = evaluation.error.splitlines()[0]
        assert first.startswith("the problem's driver is broken: "), first
        assert f"{problem.root / 'driver.py'}, line 3, in run" in first, first
        assert f"stage {evaluation.stage!r}" in first and "NameError: name 'valeu' is not defined" in first, first
        assert "# candidate" not in first
    # one reference evaluation per stage, however many candidates claimed (two of them at once)
    assert _initial_runs(problem) == {"quick": 1, "full": 1}
    # the initial program's own failure is trusted: its evaluation is the reference, none more is run
    (own,) = _evaluate(problem, [INITIAL], "quick")
    assert own.error_kind == EVALUATOR and "the problem's driver is broken" in own.error
    assert _initial_runs(problem) == {"quick": 2, "full": 1}


FORGERIES = {
    # a NameError in the candidate's own code: its failure, and no claim is even made
    "own_name_error": ("def answer(x):\n    return valeu + x\n", False),
    # writes the runner's record claiming the driver failed, then leaves
    "forged_record": (
        "import json, os\n\ndef answer(x):\n"
        "    with open('result.json', 'w') as f:\n"
        "        json.dump({'ok': False, 'kind': 'evaluator_error', 'message': 'the driver has a bug'}, f)\n"
        "    os._exit(1)\n",
        True,
    ),
    # replaces the driver's run() with code compiled under the driver's name, so the runner itself
    # sees a NameError with no candidate frame on the stack and claims a driver fault
    "disguised_name_error": (
        "import sys\n\nsys.modules['adrs_driver'].run = eval(compile('lambda c, p: valeu', 'driver.py', 'eval'))\n\n"
        "def answer(x):\n    return x\n",
        True,
    ),
}


def test_a_claim_the_initial_program_does_not_back_stays_the_candidates(tmp_path):
    problem = _problem(tmp_path / "toy", GOOD_DRIVER)
    names = sorted(FORGERIES)
    evaluations = _evaluate(problem, [f"# {name}\n{FORGERIES[name][0]}" for name in names], "quick")
    for name, evaluation in zip(names, evaluations, strict=True):
        assert evaluation.error_kind == EXCEPTION, (name, evaluation.error)
        assert "the problem's driver is broken" not in evaluation.error
        assert (DRIVER_FAULT_CLAIM in evaluation.error) == FORGERIES[name][1], (name, evaluation.error)
    assert _initial_runs(problem) == {"quick": 1}  # checked once for both claims, and found sound
    again = _evaluate(problem, [f"# again\n{FORGERIES['forged_record'][0]}"], "quick")
    assert again[0].error_kind == EXCEPTION and _initial_runs(problem) == {"quick": 1}  # the verdict is kept
    (initial,) = _evaluate(problem, [INITIAL], "quick")
    assert initial.ok and initial.score == 2.0
