"""Search quality: best score at 50/100/N evaluations per selection strategy, offline mutator.

    .venv/bin/python benchmarks/search_quality.py problems/prism --budget 300 --seeds 0 1 2 3 4 \
        --json benchmarks/results/search_prism.json

`random` (every child from the initial program) and `hill` (always mutate the best) are the
baselines, run by the same harness; the archive strategies should beat both at the full budget.
Prints one row per strategy: mean (and min-max over seeds) of the best complete score after each
checkpoint, then a markdown table for docs/benchmarks.md with a verdict per strategy.

`--stages quick` evolves on a subset of the problem's cascade (a cheaper verifier, for problems
whose full stage is too slow for 40 runs on a small machine); the final best of each run is then
also scored on the last evolution stage of the unmodified problem, shown as `final on <stage>`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from evolution_quality import best_after  # noqa: E402

from adrs import api  # noqa: E402
from adrs.archive.select import STRATEGIES, SelectionConfig  # noqa: E402
from adrs.evaluate.runner import EvalSettings, evaluate_code_sync  # noqa: E402
from adrs.problem import Problem, load_problem  # noqa: E402

BASELINES = ("random", "hill")


def restricted(problem: Problem, names: list[str] | None) -> Problem:
    """The problem evolved on the named stages only (in the problem's order)."""
    if not names:
        return problem
    for name in names:
        problem.stage(name)  # an unknown name fails here, naming the problem's stages
    return dataclasses.replace(problem, stages=tuple(s for s in problem.stages if s.name in names))


def final_best_code(archive: Path) -> str | None:
    with sqlite3.connect(archive) as db:
        row = db.execute(
            "SELECT code FROM programs WHERE migrated_from IS NULL AND complete = 1 AND score IS NOT NULL "
            "ORDER BY score DESC, id LIMIT 1"
        ).fetchone()
    return row[0] if row else None


def run_strategy(args: argparse.Namespace, problem: Problem, full: Problem, strategy: str, checkpoints: list[int]) -> dict:
    curves: dict[int, list[float]] = {c: [] for c in checkpoints}
    finals: list[float] = []
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
            code = final_best_code(archive) if problem is not full else None
            if code is not None:
                last = full.evolution_stages[-1:]
                finals.append(evaluate_code_sync(full, code, EvalSettings(data_dir=args.data, seed=seed), last)[-1].score or 0.0)
    return {"strategy": strategy, "curves": curves, "finals": finals, "wall_s": time.perf_counter() - started}


def cell(values: list[float]) -> str:
    return f"{statistics.mean(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def verdict(row: dict, baselines: dict[str, float], last: int) -> str:
    if row["strategy"] in BASELINES:
        return "baseline"
    mean = statistics.mean(row["curves"][last])
    beaten = [name for name, value in baselines.items() if mean > value + 1e-9]
    if len(beaten) == len(baselines) == len(BASELINES):
        return "beats both"
    return "beats " + (", ".join(beaten) if beaten else "neither")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("problem")
    parser.add_argument("--budget", type=int, default=300)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    parser.add_argument("--stages", nargs="+", default=None, help="evolve on these stages only (default: the cascade)")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--data", default=None)
    parser.add_argument("--json", default=None, help="write every figure (per seed) to this file")
    args = parser.parse_args()
    full = load_problem(args.problem)
    problem = restricted(full, args.stages)
    checkpoints = sorted({c for c in (50, 100, args.budget) if c <= args.budget})
    rows = []
    for strategy in args.strategies:
        row = run_strategy(args, problem, full, strategy, checkpoints)
        rows.append(row)
        shown = "  ".join(f"@{n}: {cell(v)}" for n, v in row["curves"].items())
        print(f"{strategy:10s} {shown}  [{row['wall_s']:.0f} s]", flush=True)
    last = checkpoints[-1]
    baselines = {r["strategy"]: statistics.mean(r["curves"][last]) for r in rows if r["strategy"] in BASELINES}
    with_finals = problem is not full
    final_head = f" final on {full.evolution_stages[-1].name} |" if with_finals else ""
    print()
    print(f"| strategy | {' | '.join(f'@{n}' for n in checkpoints)} |{final_head} at @{last} | wall |")
    print(f"|---|{'---|' * len(checkpoints)}{'---|' if with_finals else ''}---|---|")
    for row in rows:
        finals = f" {cell(row['finals'])} |" if with_finals and row["finals"] else (" |" if with_finals else "")
        cells = " | ".join(cell(v) for v in row["curves"].values())
        print(f"| {row['strategy']} | {cells} |{finals} {verdict(row, baselines, last)} | {row['wall_s']:.0f} s |")
    if args.json:
        record = {
            "problem": full.name,
            "budget": args.budget,
            "seeds": args.seeds,
            "stages": [s.name for s in problem.evolution_stages],
            "rows": [{**r, "curves": {str(k): v for k, v in r["curves"].items()}} for r in rows],
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
