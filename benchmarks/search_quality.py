"""Search quality: best score at 50/100/N evaluations per selection strategy, offline mutator.

    .venv/bin/python benchmarks/search_quality.py problems/prism --budget 300 --seeds 0 1 2 3 4 \
        --json benchmarks/results/search_prism.json

`random` (every child from the initial program) and `hill` (always mutate the best) are the
baselines, run by the same harness; the archive strategies should beat both at the full budget.
Prints one row per strategy: mean (and min-max over seeds) of the best complete score after each
checkpoint, then a markdown table for docs/benchmarks.md with a verdict per strategy. With
`--json`, the file is rewritten after every run (per seed: the curve, the final score, the wall
time and the load averages before and after), so a long benchmark loses nothing when it dies;
`--resume` keeps the runs already there. `--from-json A B` renders the rows of several files
(e.g. strategies re-run today beside ones kept from an earlier day).

`--llm-server` sends every proposal through adrs's LLM mutator to a local OpenAI-protocol endpoint
whose "model" is the offline mutator (benchmarks/peers/mutation_server.py, one per run, seeded by
the run's seed, full-rewrite replies, two calls in flight): the LLM path end to end, including
the adaptive search's breakthrough calls, which that server answers and follows.

`--stages quick` evolves on a subset of the problem's cascade (a cheaper verifier, for problems
whose full stage is too slow for 40 runs on a small machine); the final best of each run is then
also scored on the last evolution stage of the unmodified problem, shown as `final on <stage>`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from evolution_quality import best_after  # noqa: E402

from adrs import api  # noqa: E402
from adrs.archive.select import STRATEGIES, SelectionConfig  # noqa: E402
from adrs.archive.store import Archive  # noqa: E402
from adrs.evaluate.runner import EvalSettings, evaluate_code_sync  # noqa: E402
from adrs.problem import Problem, load_problem  # noqa: E402
from adrs.search.config import AdaptiveConfig  # noqa: E402

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


SERVER = Path(__file__).resolve().parent / "peers" / "mutation_server.py"


@contextmanager
def mutation_server(seed: int, workdir: Path) -> Iterator[str]:
    """A mutation server on a free port for one run; yields its base URL."""
    port_file = workdir / "port"
    log = workdir / "server.jsonl"
    command = [sys.executable, str(SERVER), "--seed", str(seed), "--port-file", str(port_file), "--log", str(log)]
    proc = subprocess.Popen(command)
    try:
        deadline = time.monotonic() + 60
        while not port_file.exists() or not port_file.read_text().strip():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the mutation server did not start")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port_file.read_text().strip()}/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def breakthrough_count(archive: Path) -> int:
    store = Archive.open(archive, create=False)
    try:
        return len(store.events(store.run().id, "breakthrough"))
    finally:
        store.close()


def strategy_outcomes(archive: Path) -> dict[str, int]:
    """--adaptive written_strategy=true: the written selection strategies adopted, refused and rolled back."""
    store = Archive.open(archive, create=False)
    try:
        outcomes = [payload.get("outcome") for _, payload, _ in store.events(store.run().id, "selection_strategy")]
    finally:
        store.close()
    return {name: outcomes.count(name) for name in ("adopted", "refused", "rolled_back")}


def run_seed(
    args: argparse.Namespace, problem: Problem, full: Problem, strategy: str, seed: int, checkpoints: list[int]
) -> dict:
    """One run: the best score at each checkpoint, the final best on the full stage, wall time, load."""
    load_before = os.getloadavg()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "run.sqlite"
        settings = {"budget": args.budget, "seed": seed, "data_dir": args.data, "evaluate_holdout": False}
        if args.workers:
            settings["workers"] = args.workers
        if args.islands:
            settings["islands"] = args.islands
        if args.adaptive:
            settings["adaptive"] = AdaptiveConfig.from_dict(adaptive_settings(args.adaptive))
        selection = SelectionConfig(strategy=strategy)
        breakthroughs, strategies = None, None
        if args.llm_server:
            with mutation_server(seed, Path(tmp)) as url:
                llm = {
                    "models": [{"name": "offline-mutator", "base_url": url}],
                    "edit_format": "rewrite",
                    "concurrency": 2,
                }
                api.evolve(problem, archive=archive, selection=selection, mutator="llm", llm=llm, **settings)
            breakthroughs = breakthrough_count(archive)
            strategies = strategy_outcomes(archive) if settings.get("adaptive") else None
        else:
            api.evolve(problem, archive=archive, selection=selection, **settings)
        curve = best_after(archive, checkpoints)
        code = final_best_code(archive) if problem is not full else None
        final = None
        if code is not None:
            last = full.evolution_stages[-1:]
            final = evaluate_code_sync(full, code, EvalSettings(data_dir=args.data, seed=seed), last)[-1].score or 0.0
    return {
        "seed": seed,
        "curve": curve,
        "final": final,
        "wall_s": time.perf_counter() - started,
        "load": [round(v, 2) for v in (*load_before, *os.getloadavg())],
        "breakthroughs": breakthroughs,
        "strategies": strategies,
    }


def adaptive_settings(pairs: list[str]) -> dict:
    """`--adaptive stall_window=20 spawn_below=0` as the run's [adaptive] table (numbers parsed)."""
    table: dict = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--adaptive: expected KEY=VALUE, got {pair!r}")
        table[key] = json.loads(value)
    return table


def row_of(strategy: str, runs: list[dict], checkpoints: list[int]) -> dict:
    """A table row from per-seed runs (in seed order)."""
    return {
        "strategy": strategy,
        "seeds": [r["seed"] for r in runs],
        "curves": {c: [r["curve"][c] for r in runs] for c in checkpoints},
        "finals": [r["final"] for r in runs if r["final"] is not None],
        "wall_s": sum(r["wall_s"] for r in runs),
        "loads": [r["load"] for r in runs],
        "breakthroughs": [r.get("breakthroughs") for r in runs],
        "strategies": [r.get("strategies") for r in runs],
    }


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


def load_rows(paths: list[str]) -> tuple[list[dict], str | None]:
    """Rows of saved --json files, in file order; a strategy in a later file replaces an earlier one."""
    rows: dict[str, dict] = {}
    final_stage = None
    for path in paths:
        record = json.loads(Path(path).read_text())
        final_stage = final_stage or record.get("final_stage")
        for row in record["rows"]:
            rows[row["strategy"]] = {**row, "curves": {int(k): v for k, v in row["curves"].items()}}
    return list(rows.values()), final_stage


def saved_runs(path: Path | None, checkpoints: list[int]) -> dict[str, list[dict]]:
    """Per-seed runs already in a --json file (to continue an interrupted benchmark with --resume)."""
    if path is None or not path.exists():
        return {}
    record = json.loads(path.read_text())
    runs: dict[str, list[dict]] = {}
    for row in record["rows"]:
        seeds = row.get("seeds", record["seeds"])
        finals = row.get("finals") or [None] * len(seeds)
        loads = row.get("loads") or [[]] * len(seeds)
        per_seed_wall = row["wall_s"] / max(1, len(seeds))
        runs[row["strategy"]] = [
            {
                "seed": seed,
                "curve": {c: row["curves"][str(c)][i] for c in checkpoints},
                "final": finals[i],
                "wall_s": per_seed_wall,
                "load": loads[i],
                "breakthroughs": (row.get("breakthroughs") or [None] * len(seeds))[i],
                "strategies": (row.get("strategies") or [None] * len(seeds))[i],
            }
            for i, seed in enumerate(seeds)
        ]
    return runs


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
    parser.add_argument(
        "--adaptive", nargs="+", default=[], metavar="KEY=VALUE", help="settings of --selection adaptive (config.py)"
    )
    parser.add_argument("--label", default=None, help="the row's name in the tables (default: the strategy)")
    parser.add_argument(
        "--llm-server", action="store_true", help="proposals through the LLM mutator from a local mutation server"
    )
    parser.add_argument("--json", default=None, help="write every figure (per seed) to this file, after each run")
    parser.add_argument(
        "--resume", action="store_true", help="keep the runs already in --json; run only the missing ones"
    )
    parser.add_argument(
        "--from-json",
        nargs="+",
        default=None,
        help="print the table of saved --json files (a strategy in a later file replaces it in an earlier one); "
        "run nothing",
    )
    args = parser.parse_args()
    if args.from_json:
        rows, final_stage = load_rows(args.from_json)
        print("\n".join(table(rows, final_stage)))
        return
    if args.problem is None:
        parser.error("a problem directory is needed (or --from-json FILE)")
    full = load_problem(args.problem)
    problem = restricted(full, args.stages)
    checkpoints = sorted({c for c in (50, 100, args.budget) if c <= args.budget})
    final_stage = full.evolution_stages[-1].name if problem is not full else None
    json_path = Path(args.json) if args.json else None
    done = saved_runs(json_path, checkpoints) if args.resume else {}

    def save(rows: list[dict]) -> None:
        if json_path is None:
            return
        record = {
            "problem": full.name,
            "budget": args.budget,
            "islands": args.islands or 3,
            "seeds": args.seeds,
            "stages": [s.name for s in problem.evolution_stages],
            "final_stage": final_stage,
            "mutator": "llm (benchmarks/peers/mutation_server.py)" if args.llm_server else "offline",
            "adaptive_settings": adaptive_settings(args.adaptive),
            "rows": [{**r, "curves": {str(k): v for k, v in r["curves"].items()}} for r in rows],
        }
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(record, indent=1))

    rows: list[dict] = []
    if args.label and len(args.strategies) != 1:
        parser.error("--label names one strategy's row: give exactly one --strategies")
    for strategy in args.strategies:
        name = args.label or strategy
        runs = [r for r in done.get(name, []) if r["seed"] in args.seeds]
        for seed in args.seeds:
            if any(r["seed"] == seed for r in runs):
                continue
            runs.append(run_seed(args, problem, full, strategy, seed, checkpoints))
            runs.sort(key=lambda r: args.seeds.index(r["seed"]))
            save([*rows, row_of(name, runs, checkpoints)])  # nothing lost if a later run dies
        row = row_of(name, runs, checkpoints)
        rows.append(row)
        shown = "  ".join(f"@{n}: {cell(v)}" for n, v in row["curves"].items())
        print(f"{name:10s} {shown}  [{row['wall_s']:.0f} s]", flush=True)
    save(rows)
    print()
    print("\n".join(table(rows, final_stage)))


if __name__ == "__main__":
    main()
