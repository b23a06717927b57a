"""Evaluation time of the llm_routing and kv_ttl stages, with their scores.

    .venv/bin/python benchmarks/serving_speed.py [--repeats 3] [--problems llm_routing,kv_ttl]

Each listed program is evaluated `--repeats` times per stage through the real evaluator (one
interactive session, so one sandboxed candidate process, per trace; the trusted simulator asks
each question over it); the table gives the median and best wall time of the whole evaluation,
its CPU time (this process plus the candidate processes: a figure that barely depends on the
machine's load), the slowest candidate process's own wall time, the questions asked (one round
trip each) and the score. The load average is printed before and after.
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

ROOT = Path(__file__).resolve().parents[1]
PROGRAMS = {
    "llm_routing": ("baselines/round_robin.py", "baselines/dualmap.py", "baselines/skywalker.py"),
    "kv_ttl": ("baselines/vllm_lru.py", "baselines/continuum.py"),
}
STAGES = {"llm_routing": ("single_region", "full", "holdout"), "kv_ttl": ("quick", "full", "holdout")}


def load_evaluator(problem: str):
    spec = importlib.util.spec_from_file_location(f"{problem}_evaluator", ROOT / "problems" / problem / "evaluator.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(evaluator, program: Path, stage: str, repeats: int) -> dict:
    walls, cpus, candidate = [], [], []
    result: dict = {}
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as workdir:
            cpu_before = _cpu_seconds()
            started = time.perf_counter()
            result = evaluator.evaluate(str(program), stage=stage, workdir=workdir)
            walls.append(time.perf_counter() - started)
            cpus.append(_cpu_seconds() - cpu_before)
        candidate.append(result["metrics"]["candidate_wall_s"])
    return {
        "median_s": statistics.median(walls),
        "best_s": min(walls),
        "cpu_s": statistics.median(cpus),
        "candidate_s": statistics.median(candidate),
        "questions": result["metrics"]["questions"],
        "score": result["score"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--problems", default="llm_routing,kv_ttl")
    args = parser.parse_args()
    print(
        f"{time.strftime('%Y-%m-%d %H:%M')}, cpus {os.cpu_count()}, load average before: "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(
        f"{'program':36s} {'stage':14s} {'median s':>9s} {'best s':>7s} {'cpu s':>6s} {'cand s':>7s} "
        f"{'questions':>9s} {'score':>7s}"
    )
    for problem in args.problems.split(","):
        evaluator = load_evaluator(problem)
        for program in PROGRAMS[problem]:
            for stage in STAGES[problem]:
                row = measure(evaluator, ROOT / "problems" / problem / program, stage, args.repeats)
                print(
                    f"{problem + '/' + program:36s} {stage:14s} {row['median_s']:9.2f} {row['best_s']:7.2f} "
                    f"{row['cpu_s']:6.2f} {row['candidate_s']:7.2f} {row['questions']:9d} {row['score']:7.2f}"
                )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
