"""eplb: synthetic trace fidelity, baseline balancedness, validation of every output, the timing
defences, and candidate failures.

Evaluations run through the real evaluator, harness and sandboxed candidate processes; trace and
balancedness checks call the trusted modules in-process.
"""

from __future__ import annotations

import hashlib
import os
import textwrap
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from adrs.problem import load_problem
from adrs.problemkit import CandidateError
from evaluators.eplb import stages
from evaluators.eplb.balance import balancedness
from evaluators.eplb.placement import Placement
from evaluators.eplb.timing import paired_timing
from evaluators.eplb.trace import TraceSpec, generate, spec_json
from tests.conftest import SHARED_DATA

PROBLEM = Path(__file__).resolve().parents[2] / "problems" / "eplb"
BASELINE = PROBLEM / "baselines" / "deepseek_eplb.py"
SPEC_STANDIN_SHA256 = "c597da5c789ff10dc901c93b62358d96a35558e52b5a978e3929e399064ade3e"


from tests.problems.helpers import load_module as _load  # noqa: E402


@pytest.fixture(scope="module")
def evaluator() -> ModuleType:
    return _load(PROBLEM / "evaluator.py", "eplb_evaluator")


def _evaluate(evaluator: ModuleType, program: Path, tmp_path: Path, stage: str = "quick", **kw) -> dict:
    workdir = tmp_path / f"work-{stage}"
    workdir.mkdir(parents=True, exist_ok=True)
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
    assert m["calls"] == 3 * m["sweeps"] == 60 and m["pairs_cut"] == 0  # the budget binds slow policies only
    assert 0.5 < m["time_ratio"] < 2.0  # same code, paired calls; the margin is load on a shared machine
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


def test_a_candidate_cannot_look_fast_by_patching_its_clocks(evaluator, tmp_path):
    # Calls are timed by the evaluator: a clock patched to 0 inside the candidate changes nothing
    # (it used to be floored by a wall-clock bound that charged imports too).
    program = _wrapped(
        tmp_path,
        """
        def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
            return _deepseek(weight, num_replicas, num_groups, num_nodes, num_gpus)
        """,
        prelude="""
        import time
        time.perf_counter_ns = lambda: 0
        time.perf_counter = lambda: 0.0
        time.monotonic = lambda: 0.0
        """,
    )
    m = _evaluate(evaluator, program, tmp_path)["metrics"]
    assert m["time_ms"] > 0.1 and 0.5 < m["time_ratio"] < 2.0  # the baseline's own code, timed from outside


# An evolved-style policy in the leaderboard's manner: an import that costs seconds (their programs
# import torch: 1-2 s), then calls faster than the baseline with about its balancedness (vectorised
# D'Hondt apportionment by bisection, snake placement). The public evaluator times only the calls
# and ranks such programs above the DeepSeek baseline; so must this one.
EVOLVED_STYLE = """
import time

import numpy as np

time.sleep(1.5)  # stands in for `import torch`


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    layers, experts = weight.shape
    load = weight.astype(np.float64) + 1e-6
    low, high = np.zeros((layers, 1)), load.max(axis=1, keepdims=True)
    for _ in range(40):
        mid = (low + high) / 2
        fits = np.maximum(1, np.floor(load / mid)).sum(axis=1, keepdims=True) <= num_replicas
        high, low = np.where(fits, mid, high), np.where(fits, low, mid)
    count = np.maximum(1, np.floor(load / high)).astype(np.int64)
    short = num_replicas - count.sum(axis=1)
    rows = np.arange(layers)
    for _ in range(int(short.max())):
        need = short > 0
        pick = np.argmax(load / (count + 1), axis=1)
        count[rows[need], pick[need]] += 1
        short -= need
    expert_of = np.repeat(np.tile(np.arange(experts), layers), count.ravel()).reshape(layers, num_replicas)
    order = np.argsort(-np.take_along_axis(load / count, expert_of, axis=1), axis=1, kind="stable")
    per_gpu, gpus = num_replicas // num_gpus, np.arange(num_gpus)
    snake = np.concatenate([(gpus if s % 2 == 0 else gpus[::-1]) * per_gpu + s for s in range(per_gpu)])
    phy2log = np.empty((layers, num_replicas), dtype=np.int64)
    np.put_along_axis(phy2log, np.broadcast_to(snake, (layers, num_replicas)),
                      np.take_along_axis(expert_of, order, axis=1), axis=1)
    experts_sorted = np.sort(phy2log, axis=1)
    starts = np.cumsum(count, axis=1) - count
    rank = np.arange(num_replicas)[None, :] - np.take_along_axis(starts, experts_sorted, axis=1)
    log2phy = np.full((layers, experts, int(count.max())), -1, dtype=np.int64)
    log2phy[rows[:, None], experts_sorted, rank] = np.argsort(phy2log, axis=1, kind="stable")
    return phy2log, log2phy, count
"""


def test_an_evolved_style_policy_with_a_slow_import_ranks_above_the_baseline(evaluator, tmp_path):
    evolved = tmp_path / "evolved.py"
    evolved.write_text(EVOLVED_STYLE)
    (tmp_path / "evolved-run").mkdir()
    (tmp_path / "baseline-run").mkdir()
    mine = _evaluate(evaluator, evolved, tmp_path / "evolved-run")
    base = _evaluate(evaluator, BASELINE, tmp_path / "baseline-run")
    # about the baseline's balancedness (within ~1.4 points of score), markedly faster per call
    assert mine["metrics"]["balancedness"] == pytest.approx(base["metrics"]["balancedness"], abs=0.015)
    assert mine["metrics"]["time_ratio"] < 0.8
    assert mine["score"] > base["score"]


def test_paired_times_cancel_the_load_all_three_calls_saw():
    # Each step of three calls ran under its own load: a CPU-share factor (1x to 6x) and a wake-up
    # latency (0 to 5 ms) that every call pays. The ratio of the null-corrected times sees neither,
    # while the plain medians (or their ratio) would.
    rng = np.random.default_rng(0)
    factor, latency = rng.uniform(1.0, 6.0, size=200), rng.uniform(0.0, 0.005, size=200)
    cost = 0.0002  # decoding, encoding, the channel: what a null call does
    candidate = list(factor * (0.002 + cost) + latency)
    baseline = list(factor * (0.004 + cost) + latency)
    null = list(factor * cost + latency)
    timing = paired_timing(candidate, baseline, null)
    assert timing.ratio == pytest.approx(0.5, rel=0.05)
    assert np.median(candidate) / np.median(baseline) > 0.55  # what the latency does uncorrected
    with pytest.raises(ValueError):
        paired_timing([0.1], [0.1], [])


def test_the_candidate_never_holds_an_input_before_its_call_nor_the_window_that_scores_it(evaluator, tmp_path):
    # The payload used to carry every input of the stage: window i + 1 (which scores the answer to
    # window i) sat in the candidate's process. Now inputs arrive one call at a time, in time order.
    program = _wrapped(
        tmp_path,
        """
        def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
            payload = json.load(open(json.load(open(sys.argv[1]))["payload"]))
            if "sweeps" in payload or "weight" in json.dumps(payload):
                raise RuntimeError("PEEKED: the payload holds inputs")
            with open("seen.txt", "a") as log:
                log.write(hashlib.sha256(np.ascontiguousarray(weight, dtype="<i4").tobytes()).hexdigest() + "\\n")
            return _deepseek(weight, num_replicas, num_groups, num_nodes, num_gpus)
        """,
        prelude="import hashlib, json, sys",
    )
    _evaluate(evaluator, program, tmp_path)
    workload = stages.build("quick")
    call_of = {
        hashlib.sha256(np.ascontiguousarray(w, dtype="<i4").tobytes()).hexdigest(): (pair, sweep)
        for sweep, inputs in enumerate(workload.inputs)
        for pair, w in enumerate(inputs)
    }
    (seen,) = (tmp_path / "work-quick" / "candidate").glob("s*/seen.txt")
    calls = [call_of[line] for line in seen.read_text().split() if line in call_of]  # warm-ups are not
    assert len(calls) == 60
    assert [pair for pair, _ in calls] == sorted(pair for pair, _ in calls)  # window i before window i + 1


def test_a_raising_candidate_is_a_recorded_failure(evaluator, tmp_path):
    program = tmp_path / "raises.py"
    program.write_text("def rebalance_experts(*args):\n    raise RuntimeError('policy exploded')\n")
    error = _failure(evaluator, program, tmp_path)
    assert error.kind == "exception" and "policy exploded" in error.message


SLOW = """
    import time

    def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
        time.sleep({seconds})  # as slow as DeepSeek's per-layer loops, or slower
        return _deepseek(weight, num_replicas, num_groups, num_nodes, num_gpus)
"""


def test_a_candidate_slower_than_its_limit_is_its_own_timeout_not_the_evaluators(evaluator, tmp_path, monkeypatch):
    # The human-SOTA file (2.8 s per call) used to outlive the baseline session's limit first, and
    # was recorded as evaluator_error; the baseline now outlives the candidate's limit.
    monkeypatch.setenv("ADRS_CANDIDATE_TIMEOUT_S", "6")
    error = _failure(evaluator, _wrapped(tmp_path, SLOW.format(seconds=0.8)), tmp_path)
    assert error.kind == "timeout", error
    assert "6 s" in error.message


def test_a_slow_candidate_within_its_limit_is_scored_and_loses_on_time(evaluator, tmp_path):
    result = _evaluate(evaluator, _wrapped(tmp_path, SLOW.format(seconds=0.25)), tmp_path)
    assert result["metrics"]["time_ms"] > 200
    assert result["metrics"]["pairs_cut"] > 0  # past the budget, later pairs get one call each
    assert result["score"] < 80  # balanced as the baseline, but the time term costs it


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


# A program that imports torch receives torch tensors and is timed against DeepSeek's algorithm in
# torch (evaluators/eplb/deepseek_torch.py): both sides then pay torch's per-operation cost on CPU, as
# on the public evaluator, whose baseline is torch. Numpy programs keep the numpy baseline.
TORCH_BASELINE = PROBLEM.parents[1] / "evaluators" / "eplb" / "deepseek_torch.py"
LEADERBOARD_DIR = Path(os.environ.get("ADRS_EPLB_LEADERBOARD", str(SHARED_DATA / "eplb" / "leaderboard")))


def test_the_torch_baseline_places_exactly_as_the_numpy_baseline():
    torch = pytest.importorskip("torch")
    numpy_port, torch_port = _load(BASELINE, "deepseek_numpy"), _load(TORCH_BASELINE, "deepseek_torch")
    rng = np.random.default_rng(3)
    for weight in (rng.integers(0, 4096, size=(48, 64)), np.full((4, 64), 5), rng.integers(0, 9, size=(6, 64))):
        for groups in (8, 3):  # 3 groups on 4 nodes: the reference's one-group fallback
            mine = torch_port.rebalance_experts(torch.from_numpy(weight), 288, groups, 4, 32)
            theirs = numpy_port.rebalance_experts(weight, 288, groups, 4, 32)
            for a, b in zip(mine, theirs, strict=True):
                assert isinstance(a, torch.Tensor) and a.dtype == torch.int64
                np.testing.assert_array_equal(a.numpy(), b)


def test_torch_programs_are_timed_against_the_torch_baseline(evaluator, tmp_path):
    pytest.importorskip("torch")
    numpy_program = tmp_path / "plain.py"
    numpy_program.write_text("import numpy as np\n")
    torch_program = tmp_path / "tensors.py"
    torch_program.write_text("import numpy as np\nfrom torch import Tensor\n")
    assert evaluator.baseline_for(str(numpy_program)) == BASELINE
    assert evaluator.baseline_for(str(torch_program)) == TORCH_BASELINE
    result = _evaluate(evaluator, TORCH_BASELINE, tmp_path)
    m = result["metrics"]
    assert m["torch_baseline"] == 1.0 and "in torch" in result["feedback"]
    # the torch baseline against itself: the same placements, a ratio about 1 (loose: a shared machine)
    assert m["balancedness"] == m["baseline_balancedness"]
    assert 0.5 < m["time_ratio"] < 2.0
    assert _evaluate(evaluator, BASELINE, tmp_path / "numpy")["metrics"]["torch_baseline"] == 0.0


def test_the_leaderboards_evolved_torch_policies_rank_above_the_baseline(evaluator, tmp_path):
    # LEVI's policy runs a 224-step loop of small torch operations: timed against the numpy baseline
    # it paid torch's per-operation cost alone (time ratio 2.06, score 78.74 < the baseline's 81.14).
    # Against DeepSeek in torch it is about as fast (ratio 0.9-1.0) and balances better, so it ranks
    # above by about half a point: less than one evaluation's noise (about 1 point, docs/benchmarks.md),
    # so for LEVI the test checks the two terms that put it above, not one pair of noisy scores.
    pytest.importorskip("torch")
    programs = [LEADERBOARD_DIR / name for name in ("eplb_LEVI.py", "eplb_shinkaevolve.py")]
    missing = [p.name for p in programs if not p.is_file()]
    if missing:
        pytest.skip(
            f"the leaderboard's eplb programs {missing} are not in {LEADERBOARD_DIR} "
            "(set ADRS_EPLB_LEADERBOARD to the folder holding the public files)"
        )
    levi, shinka = (_evaluate(evaluator, p, tmp_path / p.stem, stage="full") for p in programs)
    base = _evaluate(evaluator, BASELINE, tmp_path / "baseline", stage="full")
    for result in (levi, shinka):
        assert result["metrics"]["torch_baseline"] == 1.0
    assert levi["metrics"]["balancedness"] > levi["metrics"]["baseline_balancedness"]
    assert levi["metrics"]["time_ratio"] < 1.3, levi["metrics"]["time_ratio"]  # 2.06 against numpy
    assert shinka["score"] > base["score"] + 2, (shinka["score"], base["score"])  # 85.97 against 81.14
