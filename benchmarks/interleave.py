"""Compare two checkouts on one benchmark, runs interleaved, because single runs are not evidence here.

    .venv/bin/python benchmarks/interleave.py --against ../main --pairs 4 -- \\
        benchmarks/engine_overhead.py overhead --evals 200 --candidate

On the 2-core machines this project measures on, a benchmark's wall time drifts by a quarter within
an hour with nothing else running (docs/benchmarks.md, "Forked candidates' CPU counted"), so two
builds compare only run against run, close in time. Each pair runs the benchmark once in each
checkout (its own `.venv/bin/python`, its own copy of the script), the order alternating from
pair to pair so a steady drift does not favour one side. The figures are every `NAME N ms` of the
benchmark's first output line (engine_overhead.py: wall and CPU per evaluation); the table gives
each run with its start time and the load average then, then the medians of each side and the median of the
paired differences (this checkout minus the other).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
FIGURE = re.compile(r"\b([A-Za-z][\w-]*) (\d+(?:\.\d+)?) ms\b")


def run_once(checkout: Path, command: list[str]) -> dict[str, float]:
    python = checkout / ".venv" / "bin" / "python"
    done = subprocess.run([str(python), *command], cwd=checkout, capture_output=True, text=True, check=False)
    first = done.stdout.splitlines()[0] if done.stdout.strip() else ""
    figures = {name: float(value) for name, value in FIGURE.findall(first)}
    if done.returncode != 0 or not figures:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        sys.exit(f"interleave: {command[0]} in {checkout} failed (exit {done.returncode}): {tail[0]}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", type=Path, required=True, help="the other checkout (with its own .venv)")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- SCRIPT ARGS..., run from each checkout's root")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    other = args.against.resolve()
    if not command:
        parser.error("give the benchmark after --")
    if args.pairs < 1:
        parser.error(f"--pairs must be at least 1, not {args.pairs}")
    if not (other / ".venv" / "bin" / "python").exists():
        parser.error(f"{other} has no .venv/bin/python")
    sides = {"this": HERE, "other": other}
    runs: dict[str, list[dict[str, float]]] = {"this": [], "other": []}
    print(f"this = {HERE}, other = {other}; {' '.join(command)}")
    for pair in range(args.pairs):
        order = ("other", "this") if pair % 2 == 0 else ("this", "other")
        for side in order:
            began, load = time.strftime("%H:%M:%S"), os.getloadavg()[0]
            figures = run_once(sides[side], command)
            runs[side].append(figures)
            shown = ", ".join(f"{name} {value:.1f} ms" for name, value in figures.items())
            print(f"pair {pair + 1} {began} load {load:.2f} {side:5s}: {shown}")
    names = [name for name in runs["this"][0] if all(name in r for r in runs["this"] + runs["other"])]
    print("\n| figure | other (median) | this (median) | this - other, paired (median, min..max) |")
    print("|---|---|---|---|")
    for name in names:
        mine = [r[name] for r in runs["this"]]
        theirs = [r[name] for r in runs["other"]]
        differences = [a - b for a, b in zip(mine, theirs, strict=True)]
        print(
            f"| {name} | {statistics.median(theirs):.1f} ms | {statistics.median(mine):.1f} ms | "
            f"{statistics.median(differences):+.1f} ms ({min(differences):+.1f}..{max(differences):+.1f}) |"
        )


if __name__ == "__main__":
    main()
