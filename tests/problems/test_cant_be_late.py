"""cant_be_late: replay semantics, fidelity to the leaderboard, trust (tampering, forged logs, future
reads), infeasible and broken policies, stages and the synthetic workload.

Evaluations go through the real evaluator, harness and sandboxed candidate processes; only the
replay's hand-made cases and the workload checks run in-process.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from adrs.problem import load_problem
from adrs.problemkit import CandidateError
from evaluators.cant_be_late import real_traces, rules, synthetic
from evaluators.cant_be_late.replay import replay
from evaluators.cant_be_late.workload import stage_workload

PROBLEM = Path(__file__).resolve().parents[2] / "problems" / "cant_be_late"
GREEDY = PROBLEM / "baselines" / "greedy.py"
UNIFORM_PROGRESS = PROBLEM / "baselines" / "uniform_progress.py"
HEADER = (
    "import math\nimport random\nimport sys\n\nfrom evaluators.cant_be_late.strategy import ClusterType, Strategy\n"
)


from tests.problems.helpers import load_module as _load  # noqa: E402


@pytest.fixture(scope="module")
def evaluator() -> ModuleType:
    return _load(PROBLEM / "evaluator.py", "cant_be_late_evaluator")


def _evaluate(evaluator: ModuleType, program: Path, stage: str, tmp_path: Path, data_dir=None) -> dict:
    workdir = tmp_path / f"work-{stage}"
    workdir.mkdir(exist_ok=True)
    return evaluator.evaluate(str(program), stage=stage, workdir=str(workdir), data_dir=data_dir)


def _policy(tmp_path: Path, body: str, name: str = "candidate.py") -> Path:
    """A candidate whose Strategy subclass has the given class body (a `_step` and helpers)."""
    path = tmp_path / name
    path.write_text(HEADER + "\n\nclass Candidate(Strategy):\n" + textwrap.indent(textwrap.dedent(body), "    "))
    return path


def _write_greedy_then(tmp_path: Path, extra: str) -> Path:
    source = GREEDY.read_text()
    hook = "    def _step(self, last_cluster_type: ClusterType, has_spot: bool) -> ClusterType:\n"
    assert hook in source
    indented = textwrap.indent(textwrap.dedent(extra).strip() + "\n", " " * 8)
    path = tmp_path / "candidate.py"
    path.write_text(source.replace(hook, hook + indented))
    return path


# --- the replay, on hand-made cases -------------------------------------------------------------


def _replay_one(bits: str, requests: str, deadline_s: float, overhead_s: float, duration_s: float):
    unavailable = np.array([[c == "1" for c in bits]])
    asked = np.array([[int(c) for c in requests.ljust(len(bits), "2")]], dtype=np.int8)
    return replay(unavailable, asked, np.array([deadline_s]), np.array([overhead_s]), duration_s)


def test_replay_charges_overhead_bills_full_ticks_and_stops_when_done():
    # 1200 s of work on spot: tick 0 pays 60 s overhead (540 done), tick 1 600, tick 2 the last 60
    out = _replay_one("0000000000", "1111111111", deadline_s=6000, overhead_s=60, duration_s=1200)
    assert out.end_tick[0] == 3 and out.finished[0] and out.deadline_met[0]
    assert out.cost[0] == pytest.approx(3 * rules.SPOT_PRICE / 6)
    assert out.restarts[0] == 1


def test_replay_turns_unavailable_spot_into_none_and_restarts_after_preemption():
    # spot runs tick 0, is preempted for tick 1 (runs NONE), restarts at tick 2 with new overhead
    out = _replay_one("0100000000", "1111111111", deadline_s=6000, overhead_s=60, duration_s=1200)
    assert out.actions[0, :4].tolist() == [1, 0, 1, 1]
    assert out.spot_denied[0] == 1 and out.restarts[0] == 2
    assert out.end_tick[0] == 4  # 540 + 0 + 540 + 120 of the last tick


def test_replay_deadline_guard_forces_on_demand_and_keeps_a_running_spot():
    # always idle: the guard forces ON_DEMAND once the remaining ticks are all needed
    idle = _replay_one("0" * 12, "0" * 12, deadline_s=3000, overhead_s=60, duration_s=1200)
    assert idle.actions[0, : idle.end_tick[0]].tolist() == [0, 0, 2, 2, 2]
    assert idle.guard_forced[0] == 3 and idle.deadline_met[0]
    # the quirk: the job turns tight just as a running spot is preempted (work + overhead is a
    # whole number of ticks, so the restart tick uses up the last spare tick); the guard keeps
    # SPOT, the availability guard turns it into NONE, and the run ends past its deadline
    quirk = _replay_one("01" + "0" * 10, "1" + "0" * 11, deadline_s=2400, overhead_s=60, duration_s=1740)
    assert quirk.actions[0, : quirk.end_tick[0]].tolist() == [1, 0, 2, 2, 2]
    assert quirk.guard_forced[0] == 4 and quirk.end_tick[0] == 5
    assert not quirk.deadline_met[0]


# --- fidelity on the real traces ----------------------------------------------------------------


def test_real_data_full_stage_reproduces_the_leaderboard(evaluator, shared_data, tmp_path):
    greedy = _evaluate(evaluator, GREEDY, "full", tmp_path, data_dir=str(shared_data))
    assert greedy["metrics"]["mean_cost"] == pytest.approx(119.0345, abs=1e-3)
    assert greedy["metrics"]["leaderboard_score"] == 28
    assert greedy["score"] == pytest.approx(27.80, abs=0.01)
    # Uniform Progress (the simulator's rc_cr_threshold): the leaderboard's own evaluator gives
    # $101.68 / 45 as well (run here); the spec's 48 / $99.23 is not reproducible (see README)
    uniform = _evaluate(evaluator, UNIFORM_PROGRESS, "full", tmp_path, data_dir=str(shared_data))
    assert uniform["metrics"]["mean_cost"] == pytest.approx(101.6827, abs=1e-3)
    assert uniform["metrics"]["leaderboard_score"] == 45
    for result in (greedy, uniform):
        assert result["metrics"]["runs"] == 1080 and result["metrics"]["deadline_misses"] == 0
        assert result["metrics"]["tampered_runs"] == 0


def test_real_data_selection_matches_the_manifest_and_holdout_is_disjoint(shared_data):
    folder = shared_data / "cant_be_late"
    scored = real_traces.scored_traces(folder)  # raises if it drifts from selected_traces.json
    held = real_traces.holdout_traces(folder)
    assert set(held) == set(real_traces.SCORED_ENVS + real_traces.POOL_ONLY_ENVS)
    for env, traces in scored.items():
        assert len(traces) == 30
        assert not {t.name for t in traces} & {t.name for t in held[env]}
    assert {len(s.trace.bits) for s in stage_workload("holdout", str(shared_data)).simulations} == {554}


# --- trust: tampering, forged logs, future reads ------------------------------------------------


def test_policy_that_claims_work_done_gains_nothing_and_is_flagged(evaluator, tmp_path):
    honest = _evaluate(evaluator, GREEDY, "quick", tmp_path)
    cheat = _write_greedy_then(
        tmp_path,
        """
        if self.env.tick == 10:
            self.task_done_time.append(self.task_duration)  # claim the whole job done
    """,
    )
    result = _evaluate(evaluator, cheat, "quick", tmp_path)
    metrics = result["metrics"]
    assert metrics["tampered_runs"] == metrics["runs"]
    assert metrics["padded_runs"] == metrics["runs"]  # the logs stop at tick 11; the replay goes on
    assert result["score"] < honest["score"]
    assert "FLAGGED" in result["feedback"] and "task_done_time" in result["feedback"]


def test_policy_that_never_pays_restart_overhead_is_flagged_and_scored_honestly(evaluator, tmp_path):
    honest = _evaluate(evaluator, GREEDY, "quick", tmp_path)
    source = GREEDY.read_text()
    anchor = '    NAME = "greedy_safety"\n'
    cheat = tmp_path / "candidate.py"
    cheat.write_text(
        source.replace(
            anchor,
            anchor
            + textwrap.indent(
                textwrap.dedent("""
        @property
        def remaining_restart_overhead(self):
            return 0.0  # the simulator reads no pending overhead, so it credits full ticks

        @remaining_restart_overhead.setter
        def remaining_restart_overhead(self, value):
            pass  # and its writes are ignored
    """),
                "    ",
            ),
        )
    )
    result = _evaluate(evaluator, cheat, "quick", tmp_path)
    assert result["metrics"]["tampered_runs"] == result["metrics"]["runs"]
    # the in-process simulator finished early, but the replay charges every restart: the same
    # decisions as greedy until the logs end, then ON_DEMAND, so no better than greedy
    assert result["score"] <= honest["score"]
    assert "FLAGGED" in result["feedback"]


def test_forged_action_log_is_replayed_from_the_requests_only(evaluator, tmp_path):
    # the program replaces the in-process simulator: it claims spot ran at every tick, forever
    forged = tmp_path / "forged.py"
    forged.write_text(
        HEADER
        + textwrap.dedent("""
        import evaluators.cant_be_late.episode as episode

        def _forged(strategy, env, *config):
            yield None
            while True:
                yield "11"  # asked for spot, and "spot ran", at every tick

        episode._loop = _forged

        class Candidate(Strategy):
            def _step(self, last_cluster_type, has_spot):
                return ClusterType.SPOT
    """)
    )
    always_spot = _policy(
        tmp_path,
        """
        def _step(self, last_cluster_type, has_spot):
            return ClusterType.SPOT
    """,
        name="always_spot.py",
    )
    result = _evaluate(evaluator, forged, "quick", tmp_path)
    honest = _evaluate(evaluator, always_spot, "quick", tmp_path)
    assert result["metrics"]["tampered_runs"] == result["metrics"]["runs"]
    assert honest["metrics"]["tampered_runs"] == 0
    assert result["metrics"]["mean_cost"] == pytest.approx(honest["metrics"]["mean_cost"])
    assert "spot was not available" in result["feedback"]


def test_malformed_answer_is_an_invalid_output_failure(evaluator, tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text(
        HEADER
        + textwrap.dedent("""
        import evaluators.cant_be_late.episode as episode
        episode.Lockstep.tick = lambda self, message: "SPOT"

        class Candidate(Strategy):
            def _step(self, last_cluster_type, has_spot):
                return ClusterType.SPOT
    """)
    )
    with pytest.raises(CandidateError) as caught:
        _evaluate(evaluator, broken, "quick", tmp_path)
    assert caught.value.kind == "invalid_output"


# A policy that looks `ticks` ticks ahead wherever the future could be in its process: any string
# of availability codes in a frame of the call stack (the old simulator held the whole trace
# there) or, now and then, anywhere on the heap, that continues what this run has seen so far.
# Finding one fails the evaluation loudly; finding none leaves it the honest policy beside it.
PEEKER = """
    def _step(self, last_cluster_type, has_spot):
        seen = self.__dict__.setdefault("seen", [])
        seen.append("0" if has_spot else "1")
        history = "".join(seen)
        future = None
        places = []
        if _distinctive(history) and self.env.tick % 4 == 0:  # every 4th tick: it is slow
            places = [sys._getframe(depth).f_locals for depth in range(1, 12) if _deep_enough(depth)]
            if not HEAP_SCANNED:  # once per process: the heap is large
                HEAP_SCANNED.append(True)
                places.append([o for o in gc.get_objects() if isinstance(o, (dict, list, tuple))])
        for text in _strings(places):
            if len(text) >= len(history) + TICKS and text.startswith(history) and set(text) <= set("01"):
                future = text[len(history):len(history) + TICKS]
        if future is not None:
            raise RuntimeError(f"PEEKED {TICKS} ticks ahead: {future}")
        work_left = self.task_duration - sum(self.task_done_time)
        slack = self.deadline - self.env.elapsed_seconds - work_left
        if has_spot:
            return ClusterType.SPOT
        return ClusterType.NONE if slack > 4 * 3600 else ClusterType.ON_DEMAND


def _distinctive(history):
    # Long, with a one-tick blip: what another run's current availability, or a lockstep tick's
    # codes (one per run, a trace's runs side by side), does not reproduce by chance.
    return len(history) >= 48 and ("010" in history or "101" in history)


def _deep_enough(depth):
    try:
        sys._getframe(depth)
        return True
    except ValueError:
        return False


def _strings(places, depth=0):
    for place in places:
        values = place.values() if isinstance(place, dict) else place
        for value in list(values):
            if isinstance(value, str) and len(value) > 1:
                yield value
            elif depth < 2 and isinstance(value, (dict, list, tuple)):
                yield from _strings([value], depth + 1)
"""


def _peeker(tmp_path: Path, ticks: int) -> Path:
    body, helpers = PEEKER.split("\n\ndef _distinctive", 1)
    path = tmp_path / f"peek_{ticks}.py"
    path.write_text(
        HEADER
        + f"import gc\nTICKS = {ticks}\nHEAP_SCANNED = []\n"
        + "\n\ndef _distinctive"
        + textwrap.dedent(helpers)
        + "\n\nclass Candidate(Strategy):\n"
        + textwrap.indent(textwrap.dedent(body), "    ")
    )
    return path


@pytest.mark.parametrize("ticks", [1, 2, 3])
def test_a_policy_peeking_ahead_finds_no_future_to_peek_at(evaluator, tmp_path, ticks):
    # The old simulator kept the whole trace in the candidate's process: a 1-tick peek from its
    # frames went through 0 of 54 causality probes. Availability now arrives one tick at a time.
    result = _evaluate(evaluator, _peeker(tmp_path, ticks), "quick", tmp_path)  # no "PEEKED" failure
    honest = _policy(
        tmp_path,
        """
        def _step(self, last_cluster_type, has_spot):
            work_left = self.task_duration - sum(self.task_done_time)
            slack = self.deadline - self.env.elapsed_seconds - work_left
            if has_spot:
                return ClusterType.SPOT
            return ClusterType.NONE if slack > 4 * 3600 else ClusterType.ON_DEMAND
    """,
        name="honest.py",
    )
    assert result["score"] == _evaluate(evaluator, honest, "quick", tmp_path)["score"]


def test_a_peek_from_real_windows_of_the_same_env_finds_no_future_either(evaluator, shared_data, tmp_path):
    # Real windows of one env overlap (they are cut from one trace): a session runs them on that
    # trace's clock, so no window shows another one's future.
    _evaluate(evaluator, _peeker(tmp_path, 1), "quick", tmp_path, data_dir=str(shared_data))


def test_a_random_policy_replays_exactly_and_is_reproducible(evaluator, tmp_path):
    # random decisions exercise every branch of both simulators (guards, preemption, overhead);
    # the driver seeds `random` per session, so the same program scores the same every time
    chaotic = _policy(
        tmp_path,
        """
        def _step(self, last_cluster_type, has_spot):
            return random.choice([ClusterType.NONE, ClusterType.SPOT, ClusterType.SPOT, ClusterType.ON_DEMAND])
    """,
    )
    result = _evaluate(evaluator, chaotic, "quick", tmp_path)
    assert result["metrics"]["tampered_runs"] == 0
    assert _evaluate(evaluator, chaotic, "quick", tmp_path)["score"] == result["score"]


# --- infeasible and broken policies -------------------------------------------------------------


def test_always_idle_policy_is_rescued_by_the_guard_and_scores_zero(evaluator, tmp_path):
    idle = _policy(
        tmp_path,
        """
        def _step(self, last_cluster_type, has_spot):
            return ClusterType.NONE
    """,
    )
    result = _evaluate(evaluator, idle, "quick", tmp_path)
    metrics = result["metrics"]
    assert result["score"] == 0.0  # the whole job on on-demand, plus one restart: above the anchor
    assert metrics["mean_cost"] > rules.ON_DEMAND_ANCHOR
    assert metrics["deadline_misses"] == 0 and metrics["guard_forced_share"] > 0.5
    assert "deadline guard overrode" in result["feedback"]


def test_policy_that_raises_fails_the_evaluation_naming_run_and_tick(evaluator, tmp_path):
    raising = _policy(
        tmp_path,
        """
        def _step(self, last_cluster_type, has_spot):
            if self.env.tick == 5:
                raise ValueError("boom")
            return ClusterType.SPOT if has_spot else ClusterType.NONE
    """,
    )
    with pytest.raises(CandidateError) as caught:
        _evaluate(evaluator, raising, "quick", tmp_path)
    assert caught.value.kind == "exception"
    assert "at tick 5" in caught.value.message and "ValueError: boom" in caught.value.message


def test_bad_return_value_and_missing_strategy_are_explained(evaluator, tmp_path):
    wrong_type = _policy(
        tmp_path,
        """
        def _step(self, last_cluster_type, has_spot):
            return "SPOT"
    """,
    )
    with pytest.raises(CandidateError) as caught:
        _evaluate(evaluator, wrong_type, "quick", tmp_path)
    assert "expected ClusterType" in caught.value.message
    empty = tmp_path / "empty.py"
    empty.write_text("def step():\n    return 1\n")
    with pytest.raises(CandidateError) as caught:
        _evaluate(evaluator, empty, "quick", tmp_path)
    assert "no subclass of Strategy" in caught.value.message


def test_leaderboard_style_program_runs_unchanged(evaluator, tmp_path):
    # the leaderboard's imports and _from_args, as its programs are written
    source = (
        GREEDY.read_text()
        .replace(
            "from evaluators.cant_be_late.strategy import ClusterType, Strategy",
            "from sky_spot.strategies.strategy import Strategy\nfrom sky_spot.utils import ClusterType",
        )
        .replace(
            '    NAME = "greedy_safety"\n',
            textwrap.indent(
                textwrap.dedent("""
        NAME = "greedy_safety"

        @classmethod
        def _from_args(cls, parser):
            parser.add_argument_group("GreedySafetyStrategy")
            args, _ = parser.parse_known_args()
            assert args.deadline_hours in (52.0, 70.0) and args.task_duration_hours == [48.0]
            return cls(args)
    """),
                "    ",
            ),
        )
    )
    assert "sky_spot" in source and "_from_args" in source
    ported = tmp_path / "leaderboard_style.py"
    ported.write_text(source)
    assert (
        _evaluate(evaluator, ported, "quick", tmp_path)["score"]
        == _evaluate(evaluator, GREEDY, "quick", tmp_path)["score"]
    )


# --- stages, the synthetic workload, the problem directory --------------------------------------


def test_quick_stage_passes_the_threshold(evaluator, tmp_path):
    # its speed (~1 s on an idle 2-core machine) is measured by benchmarks/cant_be_late_speed.py
    result = _evaluate(evaluator, GREEDY, "quick", tmp_path)
    assert result["metrics"]["runs"] == 180
    assert result["score"] > load_problem(PROBLEM).stage("quick").threshold


def test_synthetic_full_stage_ranks_the_baselines_like_the_real_one(evaluator, tmp_path):
    greedy = _evaluate(evaluator, GREEDY, "full", tmp_path)
    uniform = _evaluate(evaluator, UNIFORM_PROGRESS, "full", tmp_path)
    assert greedy["metrics"]["runs"] == uniform["metrics"]["runs"] == 1080
    # recorded in the README: greedy 31.20, Uniform Progress 49.74 on the synthetic traces
    assert greedy["score"] == pytest.approx(31.20, abs=0.01)
    assert uniform["score"] == pytest.approx(49.74, abs=0.01)
    assert "synthetic traces" in greedy["feedback"]


def test_synthetic_workload_is_deterministic_and_the_holdout_is_fresh():
    first = stage_workload("full", None)
    again = stage_workload("full", None)
    assert [s.trace.bits for s in first.simulations] == [s.trace.bits for s in again.simulations]
    quick = stage_workload("quick", None)
    assert {s.trace.bits for s in quick.simulations} <= {s.trace.bits for s in first.simulations}
    holdout = stage_workload("holdout", None)
    assert len(holdout.simulations) == 720 and len(holdout.traces) == 8
    assert not {s.trace.bits for s in holdout.simulations} & {s.trace.bits for s in first.simulations}


def test_synthetic_traces_follow_the_fitted_availability():
    for env, params in synthetic.fitted_params().items():
        traces = synthetic.synthetic_traces((env,), "scored", 60)[env]
        available = np.mean([trace.bits.count("0") / len(trace.bits) for trace in traces])
        assert available == pytest.approx(params["availability"], abs=0.06), env


def test_unknown_stage_and_missing_data_folder_are_clear_errors(evaluator, tmp_path):
    with pytest.raises(ValueError, match="no stage 'nightly'"):
        _evaluate(evaluator, GREEDY, "nightly", tmp_path)
    (tmp_path / "cant_be_late").mkdir()  # this problem's folder, without its tarballs
    with pytest.raises(FileNotFoundError, match="real_traces_scored.tar.gz"):
        _evaluate(evaluator, GREEDY, "quick", tmp_path, data_dir=str(tmp_path))


def test_problem_directory_loads_with_its_stages_and_references():
    problem = load_problem(PROBLEM)
    assert [stage.name for stage in problem.stages] == ["quick", "full", "holdout"]
    assert problem.stage("holdout").holdout
    assert set(problem.references) == {"baselines/greedy.py", "baselines/uniform_progress.py"}
    initial = problem.initial_code()
    assert "# EVOLVE-BLOCK-START" in initial and "# EVOLVE-BLOCK-END" in initial
