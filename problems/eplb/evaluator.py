"""Trusted evaluator of eplb: runs the trusted DeepSeek baseline and then the candidate through the
harness on the same inputs, validates every placement, and scores balancedness on the next window
plus speed relative to the baseline measured in this same evaluation.

Data: synthetic traces by default (evaluators.eplb.stages); with `data_dir` (--data / ADRS_DATA)
holding expert-load.json, quick and full use that real trace.
Must not: import or call the candidate, or read anything it printed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from adrs.problemkit import EVALUATOR, INVALID_OUTPUT, CandidateError, find_data, run_candidate
from evaluators.eplb import stages
from evaluators.eplb.judge import Judged, judge
from evaluators.eplb.scoring import score
from evaluators.eplb.timing import TimingError, baseline_timing, candidate_timing
from evaluators.eplb.trace import load_real
from evaluators.leaderboard import source_imports

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "driver.py"
BASELINE = HERE / "baselines" / "deepseek_eplb.py"
REAL_FILE = "expert-load.json"


def evaluate(
    program_path: str, *, stage: str = "full", workdir: str | None = None, data_dir: str | None = None
) -> dict:
    folder = find_data(data_dir, "eplb", REAL_FILE)
    real = load_real(folder / REAL_FILE) if folder is not None else None
    workload = stages.build(stage, real)
    payload = workload.payload()
    if source_imports(program_path, "torch"):
        # The driver imports torch before the program, in the baseline's processes too, so that
        # the wall-clock floor on the policy's time does not charge it the ~1 s torch import.
        payload["preload_torch"] = True

    # Baseline, candidate, baseline: the same machine under (nearly) the same load for both.
    before = _run_baseline(workload, payload, workdir)
    run = run_candidate(program_path, DRIVER, payload, workdir=workdir)
    mine = judge(workload, run.raise_for_failure(), run.wall_s)  # a broken candidate stops here
    after = _run_baseline(workload, payload, workdir)
    base = before[0]
    base_time, overhead_s = baseline_timing([(b.reported_ns, wall) for b, wall in (before, after)])
    try:
        timing = candidate_timing(mine.reported_ns, run.wall_s, overhead_s)
    except TimingError as exc:
        raise CandidateError(INVALID_OUTPUT, str(exc)) from None

    balance = float(mine.gpu_balance.mean())
    result = score(balance, timing.seconds, base_time.seconds)
    metrics = {
        "balancedness": balance,
        "balancedness_exact": float(mine.gpu_balance[0].mean()),
        "slot_balancedness": float(mine.slot_balance.mean()),
        # over the sweeps both completed (the driver may stop later sweeps at its time budget)
        "baseline_balancedness": float(base.gpu_balance[: mine.sweeps].mean()),
        "baseline_balancedness_exact": float(base.gpu_balance[0].mean()),
        "time_ms": timing.seconds * 1e3,
        "baseline_time_ms": base_time.seconds * 1e3,
        "time_ratio": result.time_ratio,
        "speed_points": result.speed_points,
        "penalty": result.penalty,
        "reported_median_ms": timing.reported_median_s * 1e3,
        "wall_bound_ms": timing.wall_bound_s * 1e3,
        "calls": float(timing.calls),
        "sweeps": float(mine.sweeps),
        "candidate_wall_s": run.wall_s,
        "baseline_wall_s": before[1],
        "baseline_overhead_s": overhead_s,
    }
    metrics.update(_per_trace(workload, mine))
    return {
        "score": result.score,
        "metrics": metrics,
        "feedback": _feedback(workload, mine, base, metrics, timing.source),
        "features": {"balancedness": balance, "speedup": 1.0 / result.time_ratio},
    }


def _run_baseline(workload: stages.Workload, payload: dict, workdir: str | None) -> tuple[Judged, float]:
    reference = run_candidate(BASELINE, DRIVER, payload, workdir=workdir)
    if not reference.ok:
        raise CandidateError(
            EVALUATOR, f"the trusted baseline failed: {reference.error_kind}: {reference.error}"
        )
    return judge(workload, reference.value, reference.wall_s), reference.wall_s


def _per_trace(workload: stages.Workload, judged: Judged) -> dict[str, float]:
    names = [p.trace for p in workload.pairs]
    out = {}
    for name in dict.fromkeys(names):
        columns = [k for k, n in enumerate(names) if n == name]
        out[f"balancedness_{name}"] = float(judged.gpu_balance[:, columns].mean())
    return out


def _feedback(workload: stages.Workload, mine: Judged, base: Judged, m: dict, source: str) -> str:
    lines = [
        f"GPU balancedness {m['balancedness']:.4f} (baseline {m['baseline_balancedness']:.4f}) over "
        f"{len(workload.pairs)} window pairs x {mine.sweeps} input variants; placement at window i is "
        "scored on the load of window i+1.",
        f"time per call {m['time_ms']:.3f} ms vs baseline {m['baseline_time_ms']:.3f} ms "
        f"(ratio {m['time_ratio']:.2f}): speed {m['speed_points']:.2f}, penalty {m['penalty']:.2f}.",
    ]
    if source == "wall":
        lines.append(
            "time came from the wall clock of the whole process, not the per-call clock: work at import "
            "time or outside rebalance_experts counts as policy time."
        )
    worst = np.argsort(mine.gpu_balance.mean(axis=0))[:3]
    shown = ", ".join(
        f"{workload.pairs[k].trace}#{workload.pairs[k].index}: {mine.gpu_balance[:, k].mean():.3f}"
        for k in worst
    )
    lines.append(f"worst window pairs: {shown}")
    return "\n".join(lines)
