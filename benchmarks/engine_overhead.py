"""Engine overhead per evaluation, and evaluation-slot use.

    .venv/bin/python benchmarks/engine_overhead.py overhead --evals 500
    .venv/bin/python benchmarks/engine_overhead.py slots --evals 120

`overhead`: a trivial evaluator (it reads the program and returns a number; no candidate process)
and the offline mutator, one slot, so every millisecond is the engine's: proposal (selection,
mutation, hashing, the pending write), sandbox (worker start to result frame: the whole stage wall
time, since the evaluator itself takes microseconds) and archive write (evaluations + elites).

`slots`: an evaluator that sleeps 0.5 s, 2 slots: evaluations/min over the ideal 240.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from adrs.archive.store import Archive
from adrs.config import RunConfig
from adrs.engine import Engine
from adrs.mutate.offline import OfflineSource
from adrs.problem import load_problem

INITIAL = '''"""A small numeric policy for the overhead benchmark."""


# EVOLVE-BLOCK-START
def policy(x):
    a = 0.5
    b = 2.0
    if x > 3:
        return a * x + b
    return b * x - a
# EVOLVE-BLOCK-END
'''

EVALUATOR = """
import time


def evaluate(program_path, *, stage, workdir, seed):
    time.sleep(SLEEP)
    text = open(program_path).read()
    return {"score": float(sum(map(ord, text)) % 1000), "metrics": {"length": float(len(text))}}
"""


def make_problem(root: Path, sleep_s: float) -> Path:
    problem = root / "bench"
    problem.mkdir()
    (problem / "problem.toml").write_text('[problem]\nname = "bench"\n\n[[stages]]\nname = "full"\ntimeout_s = 30\n')
    (problem / "initial.py").write_text(INITIAL)
    (problem / "evaluator.py").write_text(EVALUATOR.replace("SLEEP", repr(sleep_s)))
    return problem


def run(evals: int, workers: int, sleep_s: float) -> tuple[float, object]:
    with tempfile.TemporaryDirectory() as tmp:
        problem = load_problem(make_problem(Path(tmp), sleep_s))
        archive = Archive.open(Path(tmp) / "bench.sqlite")
        config = RunConfig(budget=evals, workers=workers, seed=0, evaluate_holdout=False, max_duplicate_streak=10_000)
        record = archive.create_run(problem.name, str(problem.root), problem.fingerprint(), 0, config.to_dict())
        engine = Engine(problem, archive, record, config, OfflineSource())
        started = time.perf_counter()
        asyncio.run(engine.run())
        wall = time.perf_counter() - started
        archive.close()
        return wall, engine.progress


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["overhead", "slots"])
    parser.add_argument("--evals", type=int, default=None)
    args = parser.parse_args()
    if args.mode == "overhead":
        n = args.evals or 500
        wall, p = run(n, workers=1, sleep_s=0.0)
        print(
            f"{p.evaluated} evaluations, 1 slot, trivial evaluator: wall {wall:.1f} s = "
            f"{1000 * wall / p.evaluated:.1f} ms/evaluation"
        )
        print(
            f"  proposal      {1000 * p.proposal_s / p.evaluated:6.2f} ms/evaluation "
            "(selection, mutation, hash, pending write)"
        )
        print(
            f"  sandbox+eval  {1000 * p.evaluation_s / p.evaluated:6.2f} ms/evaluation (worker start to result frame)"
        )
        print(f"  archive write {1000 * p.record_s / p.evaluated:6.2f} ms/evaluation (evaluations, status, elites)")
        print(f"  duplicates rejected before evaluation: {p.duplicates}")
    else:
        n = args.evals or 120
        wall, p = run(n, workers=2, sleep_s=0.5)
        rate = 60.0 * p.evaluated / wall
        print(
            f"{p.evaluated} evaluations of a 0.5 s evaluator on 2 slots: {rate:.1f} evaluations/min = "
            f"{100 * rate / 240:.1f} % of the ideal 240"
        )


if __name__ == "__main__":
    main()
