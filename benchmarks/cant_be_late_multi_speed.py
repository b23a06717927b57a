"""Evaluation time of cant_be_late_multi: the whole evaluation per stage, with one candidate process
per CPU and with a single process, beside the scores and mean costs of the baselines.

    .venv/bin/python benchmarks/cant_be_late_multi_speed.py                        # synthetic traces
    .venv/bin/python benchmarks/cant_be_late_multi_speed.py --data ../shared/data  # real traces

Each program is evaluated `--repeats` times per stage through the real evaluator (sandboxed
candidate processes, trusted replay); the table gives the median wall time of the whole
evaluation. For comparison: the leaderboard evaluator takes about 13 s for its 34 simulations on
the 2-core development machine (one simulator process per run, sequential; see
shared/problems/cant_be_late_multi.md). Times include process start-up and depend on the load.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import tempfile
import time
from pathlib import Path

PROBLEM = Path(__file__).resolve().parents[1] / "problems" / "cant_be_late_multi"
LEADERBOARD_EVALUATOR_S = 13.0


def load_evaluator():
    spec = importlib.util.spec_from_file_location("cant_be_late_multi_evaluator", PROBLEM / "evaluator.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure(evaluator, program: Path, stage: str, data_dir: str | None, repeats: int, processes: int | None) -> dict:
    evaluator.PROCESSES = processes
    walls = []
    result: dict = {}
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as workdir:
            started = time.perf_counter()
            result = evaluator.evaluate(str(program), stage=stage, workdir=workdir, data_dir=data_dir)
            walls.append(time.perf_counter() - started)
    return {"wall_s": statistics.median(walls), "score": result["score"], "cost": result["metrics"]["cost"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="shared/data (real traces); default: synthetic")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--stages", default="quick,full,holdout")
    args = parser.parse_args()
    evaluator = load_evaluator()
    programs = [PROBLEM / "initial.py", *sorted((PROBLEM / "baselines").glob("*.py"))]
    cpus = os.cpu_count() or 1
    print(
        f"data: {'real (' + args.data + ')' if args.data else 'synthetic'}; {cpus} CPUs; "
        f"median of {args.repeats}; leaderboard evaluator: ~{LEADERBOARD_EVALUATOR_S:g} s for the full stage"
    )
    print(f"{'program':<24} {'stage':<8} {'wall s':>7} {'1 proc s':>9} {'speed-up':>9} {'score':>7} {'cost $':>8}")
    for program in programs:
        for stage in args.stages.split(","):
            parallel = measure(evaluator, program, stage, args.data, args.repeats, None)
            single = measure(evaluator, program, stage, args.data, args.repeats, 1)
            speedup = f"{LEADERBOARD_EVALUATOR_S / parallel['wall_s']:.1f}x" if stage == "full" else "-"
            print(
                f"{program.stem:<24} {stage:<8} {parallel['wall_s']:>7.2f} {single['wall_s']:>9.2f} "
                f"{speedup:>9} {parallel['score']:>7.2f} {parallel['cost']:>8.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
