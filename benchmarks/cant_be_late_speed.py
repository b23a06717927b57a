"""Evaluation time of the cant_be_late baselines per stage, with their scores and mean costs.

    .venv/bin/python benchmarks/cant_be_late_speed.py                        # synthetic traces
    .venv/bin/python benchmarks/cant_be_late_speed.py --data ../shared/data  # real traces too

Each baseline is evaluated `--repeats` times per stage through the real evaluator (sandboxed
candidate processes, one per CPU, at least two); the table gives the median and best wall time of
the whole evaluation, its CPU time (this process plus the candidate processes: a figure that
barely depends on the machine's load), the slowest candidate process's own wall time, the
trusted replay's time,
the score and the mean cost. Times include process start-up and depend on the machine's load,
printed before and after (the public leaderboard evaluator takes 8-17 s for the full stage on an
idle 2-core machine).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

PROBLEM = Path(__file__).resolve().parents[1] / "problems" / "cant_be_late"
PROGRAMS = ("baselines/uniform_progress.py", "baselines/greedy.py")


def load_evaluator():
    spec = importlib.util.spec_from_file_location("cant_be_late_evaluator", PROBLEM / "evaluator.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure(evaluator, program: Path, stage: str, data_dir: str | None, repeats: int) -> dict:
    walls, cpus, candidate, replay = [], [], [], []
    result: dict = {}
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as workdir:
            cpu_before = _cpu_seconds()
            started = time.perf_counter()
            result = evaluator.evaluate(str(program), stage=stage, workdir=workdir, data_dir=data_dir)
            walls.append(time.perf_counter() - started)
            cpus.append(_cpu_seconds() - cpu_before)
        candidate.append(result["metrics"]["candidate_wall_s"])
        replay.append(result["metrics"]["replay_s"])
    return {
        "median_s": statistics.median(walls),
        "best_s": min(walls),
        "cpu_s": statistics.median(cpus),
        "candidate_s": statistics.median(candidate),
        "replay_s": statistics.median(replay),
        "score": result["score"],
        "mean_cost": result["metrics"]["mean_cost"],
        "runs": result["metrics"]["runs"],
    }


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the candidate processes): unlike wall
    time, it barely depends on how many other jobs share the machine."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="real data (../shared/data); synthetic traces are always measured")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--stages", default="quick,full,holdout")
    args = parser.parse_args()
    evaluator = load_evaluator()
    sources = [("synthetic", None)] + ([("real", args.data)] if args.data else [])
    print(f"cpus {os.cpu_count()}, load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"{'program':30s} {'stage':8s} {'traces':9s} {'runs':>5s} {'median s':>9s} {'best s':>7s} "
        f"{'cpu s':>6s} {'cand s':>7s} {'replay s':>8s} {'score':>8s} {'cost $':>8s}"
    )
    for program in PROGRAMS:
        for stage in args.stages.split(","):
            for source, data_dir in sources:
                row = measure(evaluator, PROBLEM / program, stage, data_dir, args.repeats)
                print(
                    f"{program:30s} {stage:8s} {source:9s} {row['runs']:5d} {row['median_s']:9.2f} "
                    f"{row['best_s']:7.2f} {row['cpu_s']:6.2f} {row['candidate_s']:7.2f} {row['replay_s']:8.3f} "
                    f"{row['score']:8.2f} {row['mean_cost']:8.2f}"
                )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
