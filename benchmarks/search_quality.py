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
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from evolution_quality import best_after  # noqa: E402

from adrs import api  # noqa: E402
from adrs.archive.select import STRATEGIES, SelectionConfig  # noqa: E402
from adrs.archive.store import Archive  # noqa: E402
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
    """The code of the best complete program (the earliest of equal scores) of the archive's last run."""
    store = Archive.open(archive, create=False)
    try:
        programs = store.programs(store.run().id)
    finally:
        store.close()
    scored = [p for p in programs if p.migrated_from is None and p.complete and p.score is not None]
    return max(scored, key=lambda p: (p.score, -p.id)).code if scored else None


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
            if args.islands:
                settings["islands"] = args.islands
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


def versus(values: list[float], baseline: list[float]) -> str:
    """Mean difference to a baseline, with two standard errors (Welch): within it is seed noise."""
    diff = statistics.mean(values) - statistics.mean(baseline)
    if len(values) < 2 or len(baseline) < 2:
        return f"{diff:+.2f}"
    spread = 2 * (statistics.variance(values) / len(values) + statistics.variance(baseline) / len(baseline)) ** 0.5
    return f"{diff:+.2f} ± {spread:.2f}"


def verdict(values: list[float], baselines: dict[str, list[float]]) -> str:
    beaten = [name for name, base in baselines.items() if statistics.mean(values) > statistics.mean(base) + 1e-9]
    if len(beaten) == len(baselines) == len(BASELINES):
        return "beats both"
    return "beats " + (", ".join(beaten) if beaten else "neither")


def table(rows: list[dict], final_stage: str | None) -> list[str]:
    """The markdown table for docs/benchmarks.md: checkpoints, verdict, difference to each baseline."""
    checkpoints = list(rows[0]["curves"])
    last = checkpoints[-1]
    baselines = {r["strategy"]: r["curves"][last] for r in rows if r["strategy"] in BASELINES}
    head = ["strategy", *(f"@{n}" for n in checkpoints)]
    head += [f"final on {final_stage}"] if final_stage else []
    head += [f"at @{last}", *(f"vs {name} (±2 s.e.)" for name in baselines), "wall"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [row["strategy"], *(cell(v) for v in row["curves"].values())]
        cells += [cell(row["finals"]) if row["finals"] else ""] if final_stage else []
        baseline_row = row["strategy"] in BASELINES
        cells.append("baseline" if baseline_row else verdict(row["curves"][last], baselines))
        cells += ["" if baseline_row else versus(row["curves"][last], base) for base in baselines.values()]
        cells.append(f"{row['wall_s']:.0f} s")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("problem", nargs="?", help="the problem directory (not needed with --from-json)")
    parser.add_argument("--budget", type=int, default=300)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    parser.add_argument("--stages", nargs="+", default=None, help="evolve on these stages only (default: the cascade)")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--islands", type=int, default=None, help="islands per run (default: the run default, 3)")
    parser.add_argument("--data", default=None)
    parser.add_argument("--json", default=None, help="write every figure (per seed) to this file")
    parser.add_argument("--from-json", default=None, help="print the table of a saved --json file; run nothing")
    args = parser.parse_args()
    if args.from_json:
        record = json.loads(Path(args.from_json).read_text())
        rows = [{**r, "curves": {int(k): v for k, v in r["curves"].items()}} for r in record["rows"]]
        print("\n".join(table(rows, record.get("final_stage"))))
        return
    if args.problem is None:
        parser.error("a problem directory is needed (or --from-json FILE)")
    full = load_problem(args.problem)
    problem = restricted(full, args.stages)
    checkpoints = sorted({c for c in (50, 100, args.budget) if c <= args.budget})
    rows = []
    for strategy in args.strategies:
        row = run_strategy(args, problem, full, strategy, checkpoints)
        rows.append(row)
        shown = "  ".join(f"@{n}: {cell(v)}" for n, v in row["curves"].items())
        print(f"{strategy:10s} {shown}  [{row['wall_s']:.0f} s]", flush=True)
    print()
    print("\n".join(table(rows, full.evolution_stages[-1].name if problem is not full else None)))
    if args.json:
        record = {
            "problem": full.name,
            "budget": args.budget,
            "islands": args.islands or 3,
            "seeds": args.seeds,
            "stages": [s.name for s in problem.evolution_stages],
            "final_stage": full.evolution_stages[-1].name if problem is not full else None,
            "rows": [{**r, "curves": {str(k): v for k, v in r["curves"].items()}} for r in rows],
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
