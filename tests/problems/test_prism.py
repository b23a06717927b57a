"""prism: case generation and check values, baseline scores, validation, and the closed loopholes.

Evaluations go through the real evaluator, harness and sandboxed candidate processes; only the
check values of single cases call the trusted driver and scorer in-process.
"""

from __future__ import annotations

import json
import textwrap
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from adrs.problem import load_problem
from adrs.problemkit import CandidateError
from evaluators.prism import (
    FULL_SEED,
    HOLDOUT_SEED,
    case_message,
    case_score,
    generate_cases,
    lower_bound,
    max_kvpr,
    parse_placement,
    round_robin,
)

PROBLEM = Path(__file__).resolve().parents[2] / "problems" / "prism"
GREEDY = PROBLEM / "baselines" / "greedy.py"
ROUND_ROBIN = PROBLEM / "baselines" / "round_robin.py"


from tests.problems.helpers import load_module as _load  # noqa: E402


@pytest.fixture(scope="module")
def evaluator() -> ModuleType:
    return _load(PROBLEM / "evaluator.py", "prism_evaluator")


def _evaluate(evaluator: ModuleType, program: Path, stage: str, tmp_path: Path) -> dict:
    workdir = tmp_path / f"work-{stage}"
    workdir.mkdir(exist_ok=True)
    return evaluator.evaluate(str(program), stage=stage, workdir=str(workdir))


def _greedy_wrapped(tmp_path: Path, wrapper: str, name: str = "candidate.py") -> Path:
    """A candidate that computes the greedy placement as `_greedy` and then runs `wrapper`."""
    source = GREEDY.read_text().replace("def compute_model_placement(", "def _greedy(")
    path = tmp_path / name
    path.write_text(source + "\n" + textwrap.dedent(wrapper))
    return path


def _in_process_placements(program: Path, stage_cases) -> list:
    """Driver records of `program` on the cases, run in this process (trusted baselines only)."""
    driver = _load(PROBLEM / "driver.py", "prism_driver_inproc")
    policy = _load(program, "prism_policy_inproc")
    return [driver.handle(policy, case_message(case)) for case in stage_cases]


# --- generation and check values -------------------------------------------------------------


def test_cases_reproduce_the_leaderboard_draws():
    cases = generate_cases(FULL_SEED)
    assert Counter(c.gpu_num for c in cases) == {5: 11, 6: 7, 7: 10, 8: 12, 9: 10}
    assert sum(len(c.models) for c in cases) == 706
    first = [(m.size_gb, m.req_rate, m.slo) for m in cases[0].models[:4]]
    assert cases[0].gpu_num == 8 and first == [(24, 8, 9), (16, 3, 7), (20, 8, 9), (13, 8, 7)]
    second = [(m.size_gb, m.req_rate, m.slo) for m in cases[1].models[:2]]
    assert cases[1].gpu_num == 9 and second == [(17, 3, 5), (13, 2, 8)]
    assert max_kvpr(cases[0], round_robin(cases[0])) == pytest.approx(0.089167, abs=1e-6)
    assert lower_bound(cases[0]) == pytest.approx(0.038597, abs=1e-6)
    mean_rr = sum(max_kvpr(c, round_robin(c)) for c in cases) / len(cases)
    mean_bound = sum(lower_bound(c) for c in cases) / len(cases)
    assert mean_rr == pytest.approx(0.0618380051, abs=1e-10)
    assert mean_bound == pytest.approx(0.0352065636, abs=1e-10)


def test_generation_leaves_the_global_rng_alone_and_holdout_differs():
    np = pytest.importorskip("numpy")
    np.random.seed(7)
    expected = np.random.RandomState(7).randint(0, 1_000_000, size=5).tolist()
    np.random.seed(7)
    holdout = generate_cases(HOLDOUT_SEED)
    assert np.random.randint(0, 1_000_000, size=5).tolist() == expected
    assert generate_cases(FULL_SEED) == generate_cases(FULL_SEED)
    assert [c.models for c in holdout] != [c.models for c in generate_cases(FULL_SEED)]


def test_greedy_case_zero_check_value():
    case = generate_cases(FULL_SEED)[0]
    record = _in_process_placements(GREEDY, [case])[0]
    assert record["status"] == "placed"
    solution = max_kvpr(case, parse_placement(record["placement"], case))
    assert solution == pytest.approx(0.057823, abs=1e-6)


def test_case_score_formula():
    assert case_score(0.08, 0.04, 0.08) == 0.0
    assert case_score(0.08, 0.04, 0.07) == pytest.approx(50.0)  # a quarter of the way gives 50
    assert case_score(0.08, 0.04, 0.03) == 100.0
    assert case_score(0.08, 0.04, 0.09) == 0.0


# --- reference scores through the real harness ------------------------------------------------


def test_reference_scores_on_the_full_stage(evaluator, tmp_path):
    greedy = _evaluate(evaluator, GREEDY, "full", tmp_path)
    assert greedy["score"] == pytest.approx(60.82, abs=0.1)
    assert greedy["metrics"]["mean_max_kvpr"] == pytest.approx(0.047866, abs=1e-6)
    assert greedy["metrics"]["cases"] == 50 and greedy["metrics"]["cases_failed"] == 0
    assert set(greedy["features"]) == {"pressure_balance", "memory_spread"}
    assert "case " in greedy["feedback"] and "bound" in greedy["feedback"]
    rr = _evaluate(evaluator, ROUND_ROBIN, "full", tmp_path)
    assert rr["score"] == 0.0
    assert rr["metrics"]["mean_max_kvpr"] == pytest.approx(0.0618380051, abs=1e-9)


def test_quick_and_holdout_stages(evaluator, tmp_path):
    quick = _evaluate(evaluator, PROBLEM / "initial.py", "quick", tmp_path)
    assert quick["metrics"]["cases"] == 10
    assert quick["score"] > load_problem(PROBLEM).stage("quick").threshold
    holdout = _evaluate(evaluator, GREEDY, "holdout", tmp_path)
    assert holdout["metrics"]["cases"] == 50
    assert holdout["metrics"]["mean_lower_bound_kvpr"] != pytest.approx(0.0352065636, abs=1e-6)
    assert 40 < holdout["score"] < 80


def test_problem_directory_contract():
    problem = load_problem(PROBLEM)
    assert [s.name for s in problem.stages] == ["quick", "full", "holdout"]
    assert problem.stage("holdout").holdout
    assert problem.references["baselines/greedy.py"] == 60.82
    # A candidate's rlimits cannot exceed its evaluation worker's, which the stage timeout sets.
    assert problem.limits.candidate_timeout_s <= min(s.timeout_s for s in problem.stages)
    initial = (PROBLEM / "initial.py").read_text()
    assert "# EVOLVE-BLOCK-START" in initial and "# EVOLVE-BLOCK-END" in initial
    assert initial == GREEDY.read_text()


# --- invalid placements score the whole evaluation 0, naming the case and the reason ---------

# Each wrapper corrupts the greedy placement of the third call only (case 2), so the feedback must
# name case 2; the quick stage has 10 cases.
CORRUPTIONS = {
    "duplicate": (
        "p[0][-1] = p[1][0]",
        "more than once",
    ),
    "missing": ("p[0].pop()", "not all models placed"),
    "gpu_out_of_range": ("p[gpu_num] = [p[0].pop()]", "not an int in range"),
    "negative_gpu": ("p[-1] = [p[0].pop()]", "not an int in range"),
    "string_gpu_id": ("p['0'] = p.pop(0)", "is not an int"),
    "bool_gpu_id": ("p[True] = p.pop(1)", "is not an int"),
    "over_memory": ("p = {0: [m for ms in p.values() for m in ms]}", "exceeds memory"),
    "not_a_dict": ("p = list(p.items())", "expected a dict"),
    "tuple_value": ("p[0] = tuple(p[0])", "must be a list"),
    "foreign_object": ("import copy; p[0][0] = copy.copy(p[0][0])", "not one of the input model objects"),
}


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_invalid_placement_scores_zero_with_a_reason(evaluator, tmp_path, kind):
    corruption, reason = CORRUPTIONS[kind]
    program = _greedy_wrapped(
        tmp_path,
        f"""
        CALLS = []

        def compute_model_placement(gpu_num, models):
            p = _greedy(gpu_num, models)
            CALLS.append(1)
            if len(CALLS) == 3:
                {corruption}
            return p
        """,
    )
    result = _evaluate(evaluator, program, "quick", tmp_path)
    assert result["score"] == 0.0
    assert result["metrics"]["valid"] == 0.0 and result["metrics"]["invalid_case"] == 2
    assert "case 2 " in result["feedback"] and reason in result["feedback"], result["feedback"]


# --- failures and loopholes -------------------------------------------------------------------


def test_raising_cases_score_zero_instead_of_leaving_the_average(evaluator, tmp_path):
    program = _greedy_wrapped(
        tmp_path,
        """
        def compute_model_placement(gpu_num, models):
            if gpu_num == 5:
                raise RuntimeError("too hard for me")
            return _greedy(gpu_num, models)
        """,
    )
    result = _evaluate(evaluator, program, "quick", tmp_path)
    quick_cases = generate_cases(FULL_SEED)[:10]
    hard = [c for c in quick_cases if c.gpu_num == 5]
    assert hard, "the quick stage should contain 5-GPU cases"
    records = _in_process_placements(GREEDY, quick_cases)
    kept = [
        case_score(max_kvpr(c, round_robin(c)), lower_bound(c), max_kvpr(c, parse_placement(r["placement"], c)))
        for c, r in zip(quick_cases, records, strict=True)
        if c.gpu_num != 5
    ]
    assert result["metrics"]["cases_failed"] == len(hard)
    assert result["score"] == pytest.approx(sum(kept) / len(quick_cases))  # zeros stay in the mean
    assert result["score"] < sum(kept) / len(kept)
    assert "too hard for me" in result["feedback"]


def test_a_slow_case_scores_zero_although_the_candidate_switches_off_its_timers(evaluator, tmp_path, monkeypatch):
    # The limit used to be a SIGALRM timer inside the candidate's process: this program switched it
    # off and got full credit for its slow cases. The evaluator now times each case itself.
    monkeypatch.setattr(evaluator, "CASE_TIMEOUT_S", 1.0)
    program = _greedy_wrapped(
        tmp_path,
        """
        import signal, time
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        signal.setitimer = lambda *args, **kwargs: (0.0, 0.0)
        time.perf_counter = lambda: 0.0

        def compute_model_placement(gpu_num, models):
            if gpu_num == 5:
                end = time.monotonic() + 3.0  # three times the (patched) limit, on the hardest cases
                while time.monotonic() < end:
                    pass
            return _greedy(gpu_num, models)
        """,
    )
    result = _evaluate(evaluator, program, "quick", tmp_path)
    quick_cases = generate_cases(FULL_SEED)[:10]
    slow = [c for c in quick_cases if c.gpu_num == 5]
    records = _in_process_placements(GREEDY, quick_cases)
    fast_scores = [
        case_score(max_kvpr(c, round_robin(c)), lower_bound(c), max_kvpr(c, parse_placement(r["placement"], c)))
        for c, r in zip(quick_cases, records, strict=True)
        if c.gpu_num != 5
    ]
    assert slow and result["metrics"]["cases_failed"] == len(slow)
    assert result["score"] == pytest.approx(sum(fast_scores) / len(quick_cases))  # the rest went on
    assert "timed by the evaluator" in result["feedback"]
    assert result["metrics"]["slowest_case_s"] >= 1.0


def test_mutating_model_objects_gains_nothing(evaluator, tmp_path):
    # Shrinking every model to 0 GB and packing all on GPU 0 is over memory by the ORIGINAL sizes.
    packer = _greedy_wrapped(
        tmp_path,
        """
        def compute_model_placement(gpu_num, models):
            for m in models:
                m.model_size = 0
            return {0: list(models)}
        """,
        "packer.py",
    )
    packed = _evaluate(evaluator, packer, "quick", tmp_path)
    assert packed["score"] == 0.0 and "exceeds memory" in packed["feedback"]
    # Zeroing rates and returning round robin is still scored as round robin: 0.
    zeroer = tmp_path / "zeroer.py"
    zeroer.write_text(
        ROUND_ROBIN.read_text().replace(
            "    placement = {",
            "    for m in models:\n        m.req_rate = 0\n        m.model_size = 79\n    placement = {",
        )
    )
    zeroed = _evaluate(evaluator, zeroer, "quick", tmp_path)
    assert zeroed["metrics"]["valid"] == 1.0 and zeroed["score"] == 0.0


def test_printed_or_forged_results_gain_nothing(evaluator, tmp_path):
    fake = json.dumps({"ok": True, "value": [], "score": 100.0, "combined_score": 100.0})
    printer = tmp_path / "printer.py"
    printer.write_text(
        ROUND_ROBIN.read_text().replace("    placement = {", f"    print({fake!r}, flush=True)\n    placement = {{")
    )
    printed = _evaluate(evaluator, printer, "quick", tmp_path)
    assert printed["score"] == 0.0 and printed["metrics"]["valid"] == 1.0
    # A candidate that forges a reply frame on the session's channel and exits: the reply is
    # re-validated like any other, and the result file it writes is never read.
    forger = tmp_path / "forger.py"
    forger.write_text(
        textwrap.dedent(
            """
            import json, os, struct

            def compute_model_placement(gpu_num, models):
                with open("result.json", "w") as f:
                    json.dump({"ok": True, "value": [], "score": 100.0}, f)
                channel = [int(fd) for fd in os.listdir("/proc/self/fd")
                           if os.path.exists(f"/proc/self/fd/{fd}")
                           and os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")][0]
                record = {"status": "placed", "score": 100.0, "placement": [[0, list(range(len(models)))]]}
                body = json.dumps({"ok": True, "value": record}).encode()
                os.write(channel, struct.pack(">I", len(body)) + body)
                os._exit(0)
            """
        )
    )
    with pytest.raises(CandidateError) as forged:
        _evaluate(evaluator, forger, "quick", tmp_path)
    assert forged.value.kind == "nonzero_exit"  # the forged first case was read; then no process answered


def test_broken_programs_are_recorded_failures(evaluator, tmp_path):
    missing = tmp_path / "missing.py"
    missing.write_text("def place(gpu_num, models):\n    return {}\n")
    with pytest.raises(CandidateError) as info:
        _evaluate(evaluator, missing, "quick", tmp_path)
    assert info.value.kind == "exception" and "compute_model_placement" in info.value.message
    broken = tmp_path / "broken.py"
    broken.write_text("def compute_model_placement(gpu_num, models)\n    return {}\n")
    with pytest.raises(CandidateError) as info:
        _evaluate(evaluator, broken, "quick", tmp_path)
    assert info.value.kind == "syntax"
