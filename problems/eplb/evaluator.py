"""Trusted evaluator of eplb: runs the trusted DeepSeek baseline and the candidate side by side on
the same inputs, validates every placement, and scores balancedness on the next window plus speed
relative to the baseline, both timed by this side call by call (evaluators/eplb/paired.py).
A program that imports torch is handed torch tensors (driver.py) and is timed against the same
baseline written with torch (evaluators/eplb/deepseek_torch.py), so that both sides pay torch's
per-operation cost on CPU, as on the public evaluator; a numpy program against the numpy baseline.

Data: synthetic traces by default (evaluators.eplb.stages); with `data_dir` (--data / ADRS_DATA)
holding expert-load.json, quick and full use that real trace.
Must not: import or call the candidate, or read anything it printed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from adrs.problemkit import find_data
from evaluators.eplb import stages
from evaluators.eplb.paired import PairedRun, run_paired
from evaluators.eplb.scoring import score
from evaluators.eplb.timing import paired_timing
from evaluators.eplb.trace import load_real
from evaluators.leaderboard import source_imports

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "driver.py"
BASELINE = HERE / "baselines" / "deepseek_eplb.py"
TORCH_BASELINE = Path(stages.__file__).with_name("deepseek_torch.py")  # trusted code beside stages.py
REAL_FILE = "expert-load.json"


def evaluate(
    program_path: str, *, stage: str = "full", workdir: str | None = None, data_dir: str | None = None
) -> dict:
    folder = find_data(data_dir, "eplb", REAL_FILE)
    real = load_real(folder / REAL_FILE) if folder is not None else None
    workload = stages.build(stage, real)
    baseline = baseline_for(program_path)
    run = run_paired(program_path, baseline, DRIVER, workload, workdir)  # a broken candidate stops here
    timing = paired_timing(run.candidate_s, run.baseline_s, run.null_s)
    balance = run.candidate.balance()
    result = score(balance, timing.ratio)
    metrics = {
        "balancedness": balance,
        "balancedness_exact": run.candidate.exact(),
        "slot_balancedness": run.candidate.slot_balance(),
        "baseline_balancedness": run.baseline.balance(),
        "baseline_balancedness_exact": run.baseline.exact(),
        "time_ms": timing.candidate_s * 1e3,
        "baseline_time_ms": timing.baseline_s * 1e3,
        "call_overhead_ms": timing.overhead_s * 1e3,
        "time_ratio": result.time_ratio,
        "speed_points": result.speed_points,
        "penalty": result.penalty,
        "calls": float(timing.calls),
        "sweeps": float(max(len(calls) for calls in run.candidate.gpu)),
        "pairs_cut": float(run.pairs_cut),
        "candidate_wall_s": run.wall_s,
        "torch_baseline": float(baseline == TORCH_BASELINE),
    }
    metrics.update(_per_trace(workload, run))
    return {
        "score": result.score,
        "metrics": metrics,
        "feedback": _feedback(workload, run, metrics),
        "features": {"balancedness": balance, "speedup": 1.0 / result.time_ratio},
    }


def baseline_for(program_path: str) -> Path:
    """The baseline a program is timed against: the torch port when the program imports torch
    (the driver then hands it torch tensors), else the numpy port.

    Read from the program's source before any of it runs (the same test the driver applies).
    Without torch installed the numpy port stays: the program then fails on its own import,
    a failed candidate rather than a baseline that cannot start.
    """
    if source_imports(program_path, "torch") and importlib.util.find_spec("torch") is not None:
        return TORCH_BASELINE
    return BASELINE


def _per_trace(workload: stages.Workload, run: PairedRun) -> dict[str, float]:
    names = [p.trace for p in workload.pairs]
    return {
        f"balancedness_{name}": run.candidate.balance([k for k, n in enumerate(names) if n == name])
        for name in dict.fromkeys(names)
    }


def _feedback(workload: stages.Workload, run: PairedRun, m: dict) -> str:
    lines = [
        f"GPU balancedness {m['balancedness']:.4f} (baseline {m['baseline_balancedness']:.4f}) over "
        f"{len(workload.pairs)} window pairs, {int(m['calls'])} calls; placement at window i is scored on "
        "the load of window i+1.",
        f"time per call {m['time_ms']:.3f} ms vs baseline {m['baseline_time_ms']:.3f} ms "
        f"(DeepSeek's algorithm in {'torch' if m['torch_baseline'] else 'numpy'}, as your program), timed by the "
        f"evaluator call by call, net of {m['call_overhead_ms']:.3f} ms that every call costs besides the policy "
        f"(ratio {m['time_ratio']:.2f}): speed {m['speed_points']:.2f}, penalty {m['penalty']:.2f}. Imports and "
        "the first calls are not timed.",
    ]
    if run.pairs_cut:
        lines.append(
            f"the calls took more than the {workload.budget_s:g} s budget: the last {run.pairs_cut} window "
            "pairs got one input each instead of every variant."
        )
    means = run.candidate.pair_means()
    worst = np.argsort(means)[:3]
    shown = ", ".join(f"{workload.pairs[k].trace}#{workload.pairs[k].index}: {means[k]:.3f}" for k in worst)
    lines.append(f"worst window pairs: {shown}")
    return "\n".join(lines)
