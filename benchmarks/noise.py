"""Score noise of a problem: the same program evaluated again and again on one stage.

    python benchmarks/noise.py problems/eplb [--program baselines/deepseek_eplb.py] [--stage full] [--repeats 10]

Evaluates the program (default: the problem's initial program) `--repeats` times, one after the
other, on the stage (default: the problem's scoring stage, the last evolution stage), exactly as a
run does (sandboxed worker and candidate), and prints the scores, their mean, sample standard
deviation, range, the standard deviation of every other metric that moved (the figures a problem
may declare in `[score.metric_noise]`), and the load average before and after. The score's
standard deviation is the figure a problem declares as `[score] noise` (docs/benchmarks.md,
"Score noise", lists each problem's).
`--json FILE` writes the same as a record.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from adrs.evaluate.runner import EvalSettings, evaluate_code_sync
from adrs.problem import load_problem


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("problem")
    parser.add_argument("--program", default=None, help="a program file (relative to the problem folder or not)")
    parser.add_argument("--stage", default=None)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--data", default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    problem = load_problem(args.problem)
    path = problem.initial_path
    if args.program:
        path = Path(args.program) if Path(args.program).exists() else problem.root / args.program
    stage = problem.stage(args.stage) if args.stage else problem.scoring_stage
    code = path.read_text()
    settings = EvalSettings(data_dir=args.data)
    load_before = os.getloadavg()
    scores, seconds, metrics = [], [], []
    for k in range(args.repeats):
        began = time.perf_counter()
        (evaluation,) = evaluate_code_sync(problem, code, settings, (stage,))
        seconds.append(time.perf_counter() - began)
        if not evaluation.ok:
            raise SystemExit(f"evaluation {k} failed ({evaluation.error_kind}): {evaluation.error[-800:]}")
        scores.append(evaluation.score)
        metrics.append(evaluation.metrics)
        print(f"{k}: {evaluation.score:.4f} ({seconds[-1]:.1f} s)", flush=True)
    load_after = os.getloadavg()
    spread = statistics.stdev(scores) if len(scores) > 1 else 0.0
    shared = set(metrics[0]).intersection(*metrics[1:])
    metric_std = {k: statistics.stdev([m[k] for m in metrics]) for k in sorted(shared) if len(metrics) > 1}
    record = {
        "problem": problem.name,
        "program": str(path),
        "stage": stage.name,
        "scores": scores,
        "mean": statistics.fmean(scores),
        "std": spread,
        "min": min(scores),
        "max": max(scores),
        "metric_std": {k: v for k, v in metric_std.items() if v > 0},
        "seconds_median": statistics.median(seconds),
        "load_before": load_before[0],
        "load_after": load_after[0],
        "date": time.strftime("%Y-%m-%d"),
    }
    print(
        f"{problem.name} {path.name} [{stage.name}] x{len(scores)}: mean {record['mean']:.4f}, std {spread:.4f}, "
        f"range {record['min']:.4f}..{record['max']:.4f}; {record['seconds_median']:.1f} s each; "
        f"load {load_before[0]:.1f} -> {load_after[0]:.1f}"
    )
    moved = {k: v for k, v in metric_std.items() if v > 0 and k != "score"}
    print("metrics that moved (std): " + (", ".join(f"{k} {v:.4g}" for k, v in moved.items()) or "none"))
    if args.json:
        Path(args.json).write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
