"""Evaluation time of the txn_scheduling baselines at each stage, with their scores and makespans.

    .venv/bin/python benchmarks/txn_scheduling_speed.py                       # synthetic workloads
    .venv/bin/python benchmarks/txn_scheduling_speed.py --data ../shared/data # real workloads too

Each program (the baselines, initial.py, and a reference local search that spends the whole
cost-function budget, i.e. the slowest a well-behaved candidate can be) is evaluated `--repeats`
times per stage through the real evaluator (sandboxed candidate processes); the table gives the
median wall time of the whole evaluation, the candidate processes' own wall time, and the score
with the total makespan. Times include process start-up and depend on the machine's load.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import tempfile
import time
from pathlib import Path

PROBLEM = Path(__file__).resolve().parents[1] / "problems" / "txn_scheduling"
BUDGET_BOUND_SEARCH = '''
import random


def get_best_schedule(workload, num_seqs):
    """Insertion local search from the identity order until the call budget runs out."""
    n = workload.num_txns
    best = list(range(n))
    best_cost = workload.get_opt_seq_cost(best)
    while True:
        cand = best[:]
        cand.insert(random.randrange(n), cand.pop(random.randrange(n)))
        cost = workload.get_opt_seq_cost(cand)
        if cost <= best_cost:
            best, best_cost = cand, cost
'''


def load_evaluator():
    spec = importlib.util.spec_from_file_location("txn_scheduling_evaluator", PROBLEM / "evaluator.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure(evaluator, program: Path, stage: str, data_dir: str | None, repeats: int) -> dict:
    walls, candidate = [], []
    result: dict = {}
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as workdir:
            started = time.perf_counter()
            result = evaluator.evaluate(str(program), stage=stage, workdir=workdir, data_dir=data_dir)
            walls.append(time.perf_counter() - started)
            candidate.append(result["metrics"]["candidate_wall_s"])
    return {
        "wall_s": statistics.median(walls),
        "candidate_s": statistics.median(candidate),
        "score": result["score"],
        "makespan": result["metrics"].get("makespan_total"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="folder with the real workloads.json (or the data root)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--stages", default="quick,full")
    args = parser.parse_args()
    evaluator = load_evaluator()
    with tempfile.TemporaryDirectory() as scratch:
        search = Path(scratch) / "budget_bound_search.py"
        search.write_text(BUDGET_BOUND_SEARCH)
        programs = [
            PROBLEM / "baselines" / "identity.py",
            PROBLEM / "baselines" / "smf_greedy.py",
            PROBLEM / "initial.py",
            search,
        ]
        sources = [("synthetic", None)] + ([("real", args.data)] if args.data else [])
        print(f"cpus: {os.cpu_count()}, repeats: {args.repeats} (median)")
        print("| workloads | stage | program | eval wall s | candidate s | score | total makespan |")
        print("|---|---|---|---|---|---|---|")
        for label, data_dir in sources:
            for stage in args.stages.split(","):
                for program in programs:
                    row = measure(evaluator, program, stage, data_dir, args.repeats)
                    name = program.relative_to(PROBLEM) if program.is_relative_to(PROBLEM) else program.name
                    print(
                        f"| {label} | {stage} | {name} | {row['wall_s']:.2f} | {row['candidate_s']:.2f} "
                        f"| {row['score']:.2f} | {row['makespan']} |",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
