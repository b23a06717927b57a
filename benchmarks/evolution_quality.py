"""Offline evolution on a built-in problem: best score after 50/100/300 evaluations, per seed.

    .venv/bin/python benchmarks/evolution_quality.py problems/prism --budget 300 --seeds 0 1 2

Prints, per seed, the best complete score after the given numbers of evaluations (in evaluation
order), against the initial program and the problem's baselines (scored with the same evaluator,
full stage), plus the holdout score of the final best.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from adrs import api
from adrs.archive.store import Archive
from adrs.evaluate.runner import EvalSettings, evaluate_code_sync
from adrs.problem import load_problem


def best_after(archive: Path, checkpoints: list[int]) -> dict[int, float]:
    """The best complete score after each checkpoint's number of evaluations (the archive's last run)."""
    store = Archive.open(archive, create=False)
    try:
        landed = store.landed_programs(store.run().id)
    finally:
        store.close()
    out, best = {}, float("-inf")
    for n, program in enumerate(landed, start=1):
        if program.complete and program.score is not None:
            best = max(best, program.score)
        if n in checkpoints:
            out[n] = best
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("problem")
    parser.add_argument("--budget", type=int, default=300)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--data", default=None)
    args = parser.parse_args()
    problem = load_problem(args.problem)
    checkpoints = sorted({c for c in (50, 100, args.budget) if c <= args.budget})
    full = tuple(s for s in problem.evolution_stages)[-1:]
    settings = EvalSettings(data_dir=args.data)
    for path in [problem.initial_path, *problem.baselines()]:
        evaluation = evaluate_code_sync(problem, path.read_text(), settings, full)[-1]
        print(f"{path.relative_to(problem.root)}: {evaluation.stage} score {evaluation.score}")
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            archive = Path(tmp) / "run.sqlite"
            started = time.perf_counter()
            summary = api.evolve(problem, archive=archive, budget=args.budget, seed=seed, data_dir=args.data)
            wall = time.perf_counter() - started
            curve = best_after(archive, checkpoints)
            shown = ", ".join(f"@{n}: {curve.get(n, float('nan')):.2f}" for n in checkpoints)
            print(
                f"seed {seed}: {shown}; initial {summary.initial_score:.2f}; holdout of best {summary.holdout_score}; "
                f"{wall:.0f} s wall"
            )


if __name__ == "__main__":
    main()
