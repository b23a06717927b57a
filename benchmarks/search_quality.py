"""Search quality: best score at 50/100/N evaluations per selection strategy, offline mutator.

    .venv/bin/python benchmarks/search_quality.py problems/prism --budget 300 --seeds 0 1 2 3 4 \
        --strategies mixed rank weighted tournament pareto random hill

`random` (every child from the initial program) and `hill` (always mutate the best) are the
baselines; the archive strategies should beat both at the full budget. Prints one row per
strategy: mean (and min-max over seeds) of the best complete score after each checkpoint, and a
markdown table at the end for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from evolution_quality import best_after  # noqa: E402

from adrs import api  # noqa: E402
from adrs.archive.select import STRATEGIES, SelectionConfig  # noqa: E402
from adrs.problem import load_problem  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("problem")
    parser.add_argument("--budget", type=int, default=300)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--data", default=None)
    args = parser.parse_args()
    problem = load_problem(args.problem)
    checkpoints = sorted({c for c in (50, 100, args.budget) if c <= args.budget})
    rows = []
    for strategy in args.strategies:
        curves: dict[int, list[float]] = {c: [] for c in checkpoints}
        started = time.perf_counter()
        for seed in args.seeds:
            with tempfile.TemporaryDirectory() as tmp:
                archive = Path(tmp) / "run.sqlite"
                settings = {"budget": args.budget, "seed": seed, "data_dir": args.data, "evaluate_holdout": False}
                if args.workers:
                    settings["workers"] = args.workers
                api.evolve(problem, archive=archive, selection=SelectionConfig(strategy=strategy), **settings)
                for n, value in best_after(archive, checkpoints).items():
                    curves[n].append(value)
        wall = time.perf_counter() - started
        cells = [f"{statistics.mean(v):.2f} ({min(v):.2f}-{max(v):.2f})" for v in curves.values()]
        rows.append((strategy, cells, wall))
        print(f"{strategy:10s} " + "  ".join(f"@{n}: {c}" for n, c in zip(checkpoints, cells, strict=True)) + f"  [{wall:.0f} s]", flush=True)
    print()
    print(f"| strategy | {' | '.join(f'@{n}' for n in checkpoints)} |")
    print(f"|---|{'---|' * len(checkpoints)}")
    for strategy, cells, _ in rows:
        print(f"| {strategy} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
