"""eplb: synthetic trace fidelity, baseline balancedness, validation of every output, the timing
defences, and candidate failures.

Evaluations run through the real evaluator, harness and sandboxed candidate processes; trace and
balancedness checks call the trusted modules in-process.
"""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from adrs.problem import load_problem
from adrs.problemkit import CandidateError
from evaluators.eplb import stages
from evaluators.eplb.balance import balancedness
from evaluators.eplb.judge import judge
from evaluators.eplb.placement import Placement
from evaluators.eplb.timing import TimingError, candidate_timing
from evaluators.eplb.trace import TraceSpec, generate, spec_json

PROBLEM = Path(__file__).resolve().parents[2] / "problems" / "eplb"
BASELINE = PROBLEM / "baselines" / "deepseek_eplb.py"
SPEC_STANDIN_SHA256 = "c597da5c789ff10dc901c93b62358d96a35558e52b5a978e3929e399064ade3e"


from tests.problems.helpers import load_module as _load  # noqa: E402


@pytest.fixture(scope="module")
def evaluator() -> ModuleType:
    return _load(PROBLEM / "evaluator.py", "eplb_evaluator")


def _evaluate(evaluator: ModuleType, program: Path, tmp_path: Path, stage: str = "quick", **kw) -> dict:
    workdir = tmp_path / f"work-{stage}"
    workdir.mkdir(exist_ok=True)
    return evaluator.evaluate(str(program), stage=stage, workdir=str(workdir), **kw)


def _wrapped(tmp_path: Path, wrapper: str, prelude: str = "") -> Path:
    """A candidate computing the DeepSeek placement as `_deepseek`, then running `wrapper`."""
    source = BASELINE.read_text().replace("def rebalance_experts(", "def _deepseek(")
    path = tmp_path / "candidate.py"
    path.write_text(textwrap.dedent(prelude) + "\n" + source + "\n" + textwrap.dedent(wrapper))
    return path


def _failure(evaluator: ModuleType, program: Path, tmp_path: Path) -> CandidateError:
    with pytest.raises(CandidateError) as caught:
        _evaluate(evaluator, program, tmp_path)
    return caught.value


def test_problem_directory_loads():
    problem = load_problem(PROBLEM)
    assert [s.name for s in problem.stages] == ["quick", "full", "holdout"]
    assert problem.stage("holdout").holdout


def test_synthetic_trace_is_the_spec_standin_byte_for_byte():
    assert hashlib.sha256(spec_json(generate(stages.DRIFT)).encode()).hexdigest() == SPEC_STANDIN_SHA256


def test_baseline_balancedness_matches_the_spec_on_the_standin():
    policy = _load(BASELINE, "deepseek")
    windows = generate(stages.DRIFT).windows()
    scores = []
    for i in range(len(windows) - 1):
        phy2log, log2phy, logcnt = policy.rebalance_experts(windows[i], 288, 8, 4, 32)
        scores.append(balancedness(Placement(phy2log, logcnt), windows[i + 1], 32)[0])
    assert np.mean(scores) == pytest.approx(0.8989, abs=5e-5)  # shared/problems/eplb.md, Human SOTA


def test_bursts_change_the_trace_and_every_timed_input_differs():
    quiet, bursty = (
        generate(TraceSpec("q", 1, steps=200)),
        generate(TraceSpec("b", 1, steps=200, bursts=stages.BURSTY.bursts)),
    )
    assert not np.array_equal(quiet.history, bursty.history)
    workload = stages.build("quick")
    flat = [w.tobytes() for sweep in workload.inputs for w in sweep]
    assert len(set(flat)) == len(flat) == 3 * 20
    windows = generate(TraceSpec("drift", 0, steps=400)).windows()
    assert all(np.array_equal(a, b) for a, b in zip(workload.inputs[0], windows[:3], strict=True))


def test_initial_program_scores_like_the_baseline_on_quick(evaluator, tmp_path):
    result = _evaluate(evaluator, PROBLEM / "initial.py", tmp_path)
    m = result["metrics"]
    assert m["balancedness_exact"] == pytest.approx(m["baseline_balancedness_exact"])
    assert m["balancedness_exact"] == pytest.approx(0.87135, abs=1e-4)
    assert m["calls"] == 3 * m["sweeps"] and 1 <= m["sweeps"] <= 20  # fewer only past the 1 s budget
    assert 0.3 < m["time_ratio"] < 3.0  # same code; the margin is load on a shared machine
    assert result["score"] == pytest.approx(90 * m["balancedness"] + m["speed_points"] - m["penalty"])
    assert "balancedness" in result["feedback"]


def test_dropping_an_expert_is_rejected(evaluator, tmp_path):
    # The historical zero-weighting hack: give the coldest expert's slot to the hottest expert.
    program = _wrapped(
        tmp_path,
        """
        def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
            phy2log, log2phy, logcnt = _deepseek(weight, num_replicas, num_groups, num_nodes, num_gpus)
            cold, hot = np.argmin(weight[0]), np.argmax(weight[0])
            phy2log[0][phy2log[0] == cold] = hot
            logcnt[0, hot] += logcnt[0, cold]
            logcnt[0, cold] = 0
            return phy2log, log2phy, logcnt
        """,
    )
    error = _failure(evaluator, program, tmp_path)
    assert error.kind == "invalid_output" and "has no replica" in error.message


def test_logcnt_that_disagrees_with_phy2log_is_rejected(evaluator, tmp_path):
    program = _wrapped(
        tmp_path,
        """
        def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
            phy2log, log2phy, logcnt = _deepseek(weight, num_replicas, num_groups, num_nodes, num_gpus)
            logcnt = logcnt.copy()
            top = np.argmax(logcnt[0]); bottom = np.argmin(logcnt[0])
            logcnt[0, top] -= 1; logcnt[0, bottom] += 1   # still sums to 288
            return phy2log, log2phy, logcnt
        """,
    )
    error = _failure(evaluator, program, tmp_path)
    assert error.kind == "invalid_output" and "logcnt" in error.message


def test_log2phy_listing_a_slot_twice_is_rejected(evaluator, tmp_path):
    # In the leaderboard a repeated slot id received the share once: load vanished.
    program = _wrapped(
        tmp_path,
        """
        def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
            phy2log, log2phy, logcnt = _deepseek(weight, num_replicas, num_groups, num_nodes, num_gpus)
            e = int(np.argmax(logcnt[0]))
            log2phy[0, e, 1] = log2phy[0, e, 0]
            return phy2log, log2phy, logcnt
        """,
    )
    error = _failure(evaluator, program, tmp_path)
    assert error.kind == "invalid_output" and "exactly once" in error.message


def test_wrong_shape_is_rejected(evaluator, tmp_path):
    program = _wrapped(
        tmp_path,
        """
        def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
            phy2log, log2phy, logcnt = _deepseek(weight, num_replicas, num_groups, num_nodes, num_gpus)
            return phy2log[:, :-1], log2phy, logcnt
        """,
    )
    error = _failure(evaluator, program, tmp_path)
    assert error.kind == "invalid_output" and "phy2log has shape" in error.message


def test_a_clock_patched_to_zero_is_replaced_by_the_wall_clock(evaluator, tmp_path):
    program = _wrapped(
        tmp_path,
        """
        def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
            return _deepseek(weight, num_replicas, num_groups, num_nodes, num_gpus)
        """,
        prelude="""
        import time
        time.perf_counter_ns = lambda: 0
        """,
    )
    result = _evaluate(evaluator, program, tmp_path)
    m = result["metrics"]
    assert m["reported_median_ms"] == 0.0
    assert m["time_ms"] == m["wall_bound_ms"] > 0.25 * m["baseline_time_ms"]
    assert m["speed_points"] < 10.0  # the clock alone would have earned the 2x cap
    assert "wall clock" in result["feedback"]


def test_a_clock_claiming_more_time_than_the_process_lived_is_rejected(evaluator, tmp_path):
    program = _wrapped(
        tmp_path,
        """
        def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
            return _deepseek(weight, num_replicas, num_groups, num_nodes, num_gpus)
        """,
        prelude="""
        import itertools, time
        _ticks = itertools.count(0, 10**9)
        time.perf_counter_ns = lambda: next(_ticks)
        """,
    )
    error = _failure(evaluator, program, tmp_path)
    # Either rule catches it: more call time than the process lived, or the driver "ran out of
    # budget" sooner than the wall clock allows.
    assert error.kind == "invalid_output"
    assert "tampered" in error.message or "budget" in error.message


def test_reported_time_beyond_the_wall_time_is_rejected():
    workload = stages.build("quick")
    policy = _load(BASELINE, "deepseek_for_reply")
    driver = _load(PROBLEM / "driver.py", "eplb_driver")
    reply = driver.run(policy, workload.payload())
    for sweep in reply["sweeps"]:
        for record in sweep:
            record["ns"] = 10**9
    judged = judge(workload, reply, wall_s=2.0)
    with pytest.raises(TimingError, match="tampered"):
        candidate_timing(judged.reported_ns, 2.0, 0.1)


def test_stopping_before_the_budget_is_rejected():
    workload = stages.build("quick")
    reply = {"sweeps": [[{"ns": 1}] * len(workload.pairs)]}  # one sweep of 20, in 0.1 s
    with pytest.raises(CandidateError, match="budget"):
        judge(workload, reply, wall_s=0.1)


def test_a_raising_candidate_is_a_recorded_failure(evaluator, tmp_path):
    program = tmp_path / "raises.py"
    program.write_text("def rebalance_experts(*args):\n    raise RuntimeError('policy exploded')\n")
    error = _failure(evaluator, program, tmp_path)
    assert error.kind == "exception" and "policy exploded" in error.message


def test_real_trace_from_data_dir_replaces_the_synthetic_one(evaluator, tmp_path):
    small = generate(TraceSpec("tiny", seed=3, layers=4, steps=400))
    folder = tmp_path / "data" / "eplb"
    folder.mkdir(parents=True)
    (folder / "expert-load.json").write_text(spec_json(small))
    result = _evaluate(evaluator, BASELINE, tmp_path, data_dir=str(tmp_path / "data"))
    assert "balancedness_expert-load" in result["metrics"]
    assert result["metrics"]["calls"] == 3 * result["metrics"]["sweeps"]


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["full", "holdout"])
def test_baseline_on_full_and_holdout(evaluator, tmp_path, stage):
    result = _evaluate(evaluator, BASELINE, tmp_path, stage=stage)
    m = result["metrics"]
    assert m["calls"] == 18 * m["sweeps"]
    assert m["balancedness_exact"] == pytest.approx(m["baseline_balancedness_exact"])
    if stage == "full":
        assert m["balancedness_drift"] == pytest.approx(0.8991, abs=2e-3)
        assert m["balancedness_drift"] > m["balancedness_bursty"]
