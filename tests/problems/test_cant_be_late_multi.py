"""cant_be_late_multi: fidelity to the leaderboard, trusted replay, tampering, infeasible policies, stages.

Candidates run in real sandboxed processes through the harness; the evaluator is loaded in-process
(it is trusted code). Real-data tests skip where ../shared/data is absent.
"""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path

import pytest

from adrs.problemkit import CandidateError
from evaluators.cant_be_late_multi import feed, scenarios, synthetic
from evaluators.cant_be_late_multi.model import Job, Rules, Simulation, ZoneTrace
from evaluators.cant_be_late_multi.replay import ActionLog, replay

ROOT = Path(__file__).resolve().parents[2]
PROBLEM = ROOT / "problems" / "cant_be_late_multi"
INITIAL = PROBLEM / "initial.py"
LEADERBOARD_CHECK_COSTS = [135.77, 62.57, 67.15, 127.23, 52.41, 47.99]  # greedy, per scenario (spec)


def _evaluator():
    spec = importlib.util.spec_from_file_location("cblm_evaluator", PROBLEM / "evaluator.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EVALUATOR = _evaluator()


@pytest.fixture(autouse=True)
def _synthetic_unless_asked(monkeypatch):
    """ADRS_DATA would silently switch the synthetic tests to real data."""
    monkeypatch.delenv("ADRS_DATA", raising=False)


def evaluate(program: Path, tmp_path: Path, stage: str = "quick", data_dir: Path | None = None) -> dict:
    workdir = tmp_path / f"work-{stage}-{program.stem}"
    workdir.mkdir(exist_ok=True)
    return EVALUATOR.evaluate(
        str(program), stage=stage, workdir=str(workdir), seed=0, data_dir=str(data_dir) if data_dir else None
    )


def write_policy(tmp_path: Path, name: str, step_body: str, extra: str = "") -> Path:
    """A greedy-like policy whose _step runs `step_body` first (it may return early)."""
    source = textwrap.dedent("""
        import math
        import sys
        from evaluators.cant_be_late_multi.api import ClusterType, MultiRegionStrategy
        {extra}

        class Policy(MultiRegionStrategy):
            NAME = "test_policy"

            def _step(self, last_cluster_type, has_spot):
                env = self.env
        {body}
                if has_spot:
                    return ClusterType.SPOT
                env.switch_region((env.get_current_region() + 1) % env.get_num_regions())
                return ClusterType.NONE

            @classmethod
            def _from_args(cls, parser):
                args, _ = parser.parse_known_args()
                return cls(args)
        """).format(extra=extra, body=textwrap.indent(textwrap.dedent(step_body), " " * 8))
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    return path


# --- fidelity and stages --------------------------------------------------------------------------


def test_greedy_reproduces_the_leaderboard_on_real_data(tmp_path, shared_data):
    result = evaluate(INITIAL, tmp_path, "leaderboard", shared_data)
    metrics = result["metrics"]
    assert metrics["real_data"] == 1.0
    assert abs(result["score"] - 64.58) <= 0.5
    assert metrics["cost"] == pytest.approx(82.187, abs=0.01)
    costs = [metrics[f"cost_{s.name}"] for s in scenarios.SCENARIOS]
    assert costs == pytest.approx(LEADERBOARD_CHECK_COSTS, abs=0.01)
    assert metrics["runs"] == 34 and metrics["deadline_misses"] == 0

    full = evaluate(INITIAL, tmp_path, "full", shared_data)
    # Same decisions; per-tick billing moves greedy by +0.65 points. Leaderboard billing of this very
    # run is reported beside it and matches the leaderboard.
    assert full["metrics"]["final_zone_billing_score"] == pytest.approx(64.58, abs=0.01)
    assert full["score"] == pytest.approx(65.23, abs=0.01)
    assert full["metrics"]["cost"] == pytest.approx(81.54, abs=0.01)
    assert "real traces" in full["feedback"]


def test_holdout_uses_other_windows(tmp_path, shared_data):
    real = evaluate(INITIAL, tmp_path, "holdout", shared_data)
    assert real["metrics"]["runs"] == 34
    assert real["score"] != pytest.approx(65.23, abs=0.01)  # windows 50.. differ from the full stage's
    windows = scenarios.stage_windows("holdout", real_data=True)
    assert min(i for _, i in windows) >= scenarios.HOLDOUT_FIRST_INDEX


def test_quick_stage_is_deterministic_on_synthetic_data(tmp_path):
    # its speed is measured by benchmarks/cant_be_late_multi_speed.py, not asserted here
    first = evaluate(INITIAL, tmp_path)
    assert first["metrics"]["runs"] == 6 and first["metrics"]["real_data"] == 0.0
    assert first["score"] == pytest.approx(67.34, abs=0.01)  # synthetic seed 1031, window 0
    assert evaluate(INITIAL, tmp_path)["score"] == first["score"]


def test_uniform_progress_baseline_beats_greedy(tmp_path):
    greedy = evaluate(INITIAL, tmp_path, "full")
    uniform = evaluate(PROBLEM / "baselines" / "uniform_progress.py", tmp_path, "full")
    assert uniform["score"] > greedy["score"] > 0
    assert uniform["metrics"]["tampered_runs"] == 0 and uniform["metrics"]["deadline_misses"] == 0


def test_leaderboard_programs_port_unchanged(tmp_path):
    source = INITIAL.read_text().replace(
        "from evaluators.cant_be_late_multi.api import ClusterType, MultiRegionStrategy",
        "import configargparse\nfrom sky_spot.strategies.multi_strategy import MultiRegionStrategy\n"
        "from sky_spot.utils import ClusterType",
    )
    ported = tmp_path / "leaderboard_style.py"
    ported.write_text(source)
    assert evaluate(ported, tmp_path)["score"] == evaluate(INITIAL, tmp_path)["score"]


def test_synthetic_windows_are_seeded_and_fitted():
    a, b = synthetic.SyntheticTraces(synthetic.EVOLUTION_SEED), synthetic.SyntheticTraces(synthetic.EVOLUTION_SEED)
    assert a.window(3) == b.window(3)
    assert a.window(3) != synthetic.SyntheticTraces(synthetic.HOLDOUT_SEED).window(3)
    params = synthetic.load_params()
    for zone in ("us-east-1a", "us-west-2b"):
        windows = [a.window(i)[zone] for i in range(30)]
        assert all(len(w.available) == 1107 for w in windows)
        mean = sum(sum(w.available) for w in windows) / (30 * 1107)
        assert mean == pytest.approx(params["zones"][zone]["availability"], abs=0.12)
        deciles = params["zones"][zone]["spot_price_deciles"]
        assert all(deciles[0] <= w.spot_price <= deciles[-1] for w in windows)


# --- trust: replay, tampering, look-ahead -------------------------------------------------------------


def test_replay_recomputes_cost_and_rejects_missing_regions():
    zones = (ZoneTrace("a", (True,) * 1107, 1.0), ZoneTrace("b", (False,) * 1107, 0.5))
    sim = Simulation("unit", 0, zones)
    on_demand = ActionLog("O" * 891, [0] * 891, 0, "", 0.0)
    outcome = replay(sim, on_demand, Job(), Rules())
    assert outcome.end_tick == 890 and not outcome.infeasible  # (48 h + 0.2 h) / 195 s -> 890 ticks
    assert outcome.cost == pytest.approx(890 * 3.06 * 195 / 3600)
    assert outcome.tampered  # the claims (end tick 0, $0) disagree with the replay
    wrong_region = ActionLog("S" * 10, [0] * 5 + [2] * 5, 9, "", 0.0)
    assert "region 2 does not exist" in replay(sim, wrong_region, Job(), Rules()).infeasible


def test_attribute_tampering_is_flagged_and_gains_nothing(tmp_path):
    honest = write_policy(tmp_path, "honest", "pass")
    tamper = write_policy(
        tmp_path,
        "tamper",
        """
        self.remaining_restart_overhead = 0.0
        self.task_done_time.append(3600.0)
        env.tick = 0
    """,
    )
    honest_result, tamper_result = evaluate(honest, tmp_path), evaluate(tamper, tmp_path)
    assert tamper_result["score"] == honest_result["score"]
    assert tamper_result["metrics"]["tampered_runs"] > 0 and honest_result["metrics"]["tampered_runs"] == 0
    assert "FLAGGED" in tamper_result["feedback"]


def test_tampering_with_the_simulator_scores_zero(tmp_path):
    cheat = write_policy(
        tmp_path,
        "finish_early",
        """
        frame = sys._getframe(1)
        while "machine" not in frame.f_locals:
            frame = frame.f_back
        machine = frame.f_locals["machine"]
        if machine.tick == 100:
            machine.done = machine.duration  # claim the job is finished
    """,
    )
    result = evaluate(cheat, tmp_path)
    assert result["score"] == 0.0
    assert "altered" in result["feedback"] and result["metrics"]["infeasible_runs"] >= 1


def test_forged_or_malformed_results_are_caught(tmp_path):
    forged = write_policy(
        tmp_path,
        "forged",
        "pass",
        extra=textwrap.dedent("""
        # The driver is loaded before the candidate: replace its tick handler outright. Every run
        # "ends" at once on spot in zone 0, claiming $0.
        def fake(module, message):
            keys = [key for key, _ in message["add"]]
            claimed = {"claimed": {"end_tick": 1, "applied": "S", "cost": 0.0}, "notes": [], "error": None}
            return {"codes": [["S", 0] for _ in message["bits"]], "ended": {str(k): claimed for k in keys}}
        sys.modules["adrs_driver"].handle = fake
    """),
    )
    result = evaluate(forged, tmp_path)
    assert result["score"] == 0.0 and "work left" in result["feedback"]
    malformed = write_policy(
        tmp_path,
        "malformed",
        "pass",
        extra=textwrap.dedent("""
        def fake(module, message):
            keys = [key for key, _ in message["add"]]
            claimed = {"claimed": {"end_tick": 0, "applied": "X", "cost": 0.0}, "notes": [], "error": None}
            return {"codes": [["X", 0] for _ in message["bits"]], "ended": {str(k): claimed for k in keys}}
        sys.modules["adrs_driver"].handle = fake
    """),
    )
    with pytest.raises(CandidateError) as info:
        evaluate(malformed, tmp_path)
    assert info.value.kind == "invalid_output" and "N, S and O" in info.value.message


# The old candidate-side simulator held every zone's whole trace: an oracle read 200 ticks ahead
# from its frames and was caught only by the causality audits. These look `ticks` ahead there (and
# in any list of availability in the call stack); finding more than the present fails loudly.
PEEK = """
    frame = sys._getframe(1)
    while frame is not None and "machine" not in frame.f_locals:
        frame = frame.f_back
    machine = frame.f_locals["machine"] if frame is not None else None
    if machine is not None:
        ahead = [zone[machine.tick + 1:machine.tick + 1 + TICKS] for zone in machine.available]
        if any(len(future) == TICKS for future in ahead):
            raise RuntimeError(f"PEEKED {TICKS} ticks ahead: {ahead}")
"""


@pytest.mark.parametrize("ticks", [1, 2, 3])
def test_a_policy_peeking_ahead_finds_no_future_to_peek_at(tmp_path, ticks):
    peeker = write_policy(tmp_path, f"peek_{ticks}", PEEK, extra=f"TICKS = {ticks}")
    honest = write_policy(tmp_path, "honest", "pass")
    assert evaluate(peeker, tmp_path)["score"] == evaluate(honest, tmp_path)["score"]  # no "PEEKED" failure


def test_sessions_never_mix_windows_of_different_times():
    sims, _ = EVALUATOR.stage_simulations("full", None, seed=5)
    plans = feed.plan_sessions(sims)
    assert sum(len(plan) for plan in plans) == len(sims) == 34
    assert all(len({sim.trace_index for sim in plan}) == 1 for plan in plans)
    assert sorted(len(plan) for plan in plans) == [2, 2, 4, 4, 5, 5, 6, 6]  # one session per window index


# --- infeasible and broken policies ---------------------------------------------------------------


def test_switching_to_a_nonexistent_region_scores_zero_with_feedback(tmp_path):
    policy = write_policy(
        tmp_path,
        "region99",
        """
        if env.tick == 5:
            env.switch_region(99)
    """,
    )
    result = evaluate(policy, tmp_path)
    assert result["score"] == 0.0 and result["metrics"]["infeasible_runs"] == 6
    assert "region 99 does not exist" in result["feedback"] and "infeasible" in result["feedback"]


def test_writing_a_bad_region_directly_is_infeasible(tmp_path):
    policy = write_policy(
        tmp_path,
        "region_write",
        """
        if env.tick == 7:
            env._region = 12
            return ClusterType.ON_DEMAND
    """,
    )
    result = evaluate(policy, tmp_path)
    assert result["score"] == 0.0 and "region 12 does not exist" in result["feedback"]


def test_a_policy_that_raises_is_a_recorded_failure(tmp_path):
    policy = write_policy(
        tmp_path,
        "raises",
        """
        if env.tick == 10:
            raise RuntimeError("boom at ten")
    """,
    )
    with pytest.raises(CandidateError) as info:
        evaluate(policy, tmp_path)
    assert info.value.kind == "exception"
    assert "boom at ten" in info.value.message and "tick 10" in info.value.message


def test_a_program_without_a_strategy_or_returning_garbage_fails_clearly(tmp_path):
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    with pytest.raises(CandidateError) as info:
        evaluate(empty, tmp_path)
    assert "no strategy class" in info.value.message
    garbage = write_policy(tmp_path, "garbage", 'return "SPOT"')
    with pytest.raises(CandidateError) as info:
        evaluate(garbage, tmp_path)
    assert "expected ClusterType" in info.value.message
