"""Engine overhead per evaluation, and evaluation-slot use.

    .venv/bin/python benchmarks/engine_overhead.py overhead --evals 500 [--repeats 3] [--cold-start] [--candidate]
    .venv/bin/python benchmarks/engine_overhead.py slots --evals 120

`overhead`: a trivial evaluator (it reads the program and returns a number; no candidate process)
and the offline mutator, one slot, so every millisecond is the engine's: proposal (selection,
mutation, hashing, the pending write), sandbox (worker start to result frame: the whole stage wall
time, since the evaluator itself takes microseconds) and archive write (evaluations + elites).
Workers are warm (forked by the problem's warm server, adrs/evaluate/warm.py) unless --cold-start.
CPU: user + system time of this process and everything it reaped, per evaluation: the warm
server is reaped when the run ends, and with it its workers and its candidate zygote with the
candidates that one reaped (before 2026-12-05 the zygote was not: its candidates were missing).
With --repeats N, medians of N runs.
With --candidate the evaluator runs the program once through the trusted harness instead of reading
it (one sandboxed candidate process per evaluation, confined where the machine allows it; a driver
that calls `policy(2.0)`): the per-evaluation cost of a problem whose candidates run in a sandbox.

`slots`: an evaluator that sleeps 0.5 s, 2 slots: evaluations/min over the ideal 240.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
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

CANDIDATE_EVALUATOR = """
from pathlib import Path

from adrs.problemkit import run_candidate

DRIVER = Path(__file__).with_name("driver.py")


def evaluate(program_path, *, stage, workdir, seed):
    value = run_candidate(program_path, DRIVER, 2.0, workdir=workdir).raise_for_failure()
    return {"score": float(value) if isinstance(value, (int, float)) else 0.0}
"""

DRIVER = "def run(candidate, payload):\n    return candidate.policy(payload)\n"


def make_problem(root: Path, sleep_s: float, candidate: bool = False) -> Path:
    problem = root / "bench"
    problem.mkdir()
    (problem / "problem.toml").write_text('[problem]\nname = "bench"\n\n[[stages]]\nname = "full"\ntimeout_s = 30\n')
    (problem / "initial.py").write_text(INITIAL)
    if candidate:
        (problem / "evaluator.py").write_text(CANDIDATE_EVALUATOR)
        (problem / "driver.py").write_text(DRIVER)
    else:
        (problem / "evaluator.py").write_text(EVALUATOR.replace("SLEEP", repr(sleep_s)))
    return problem


def _cpu_s() -> float:
    return sum(
        usage.ru_utime + usage.ru_stime
        for usage in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    )


def run(
    evals: int, workers: int, sleep_s: float, warm_start: bool = True, candidate: bool = False
) -> tuple[float, object]:
    with tempfile.TemporaryDirectory() as tmp:
        problem = load_problem(make_problem(Path(tmp), sleep_s, candidate))
        archive = Archive.open(Path(tmp) / "bench.sqlite")
        config = RunConfig(
            budget=evals,
            workers=workers,
            seed=0,
            evaluate_holdout=False,
            max_duplicate_streak=10_000,
            warm_start=warm_start,
        )
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
    parser.add_argument("--repeats", type=int, default=1, help="overhead: runs, medians reported")
    parser.add_argument("--cold-start", action="store_true", help="a fresh worker interpreter per stage")
    parser.add_argument("--candidate", action="store_true", help="overhead: one sandboxed candidate per evaluation")
    args = parser.parse_args()
    if args.mode == "overhead":
        n = args.evals or 500
        rows = []
        for _ in range(args.repeats):
            cpu = _cpu_s()
            wall, p = run(n, workers=1, sleep_s=0.0, warm_start=not args.cold_start, candidate=args.candidate)
            per = 1000.0 / p.evaluated
            cpu_ms = (_cpu_s() - cpu) * per
            rows.append((wall * per, cpu_ms, p.proposal_s * per, p.evaluation_s * per, p.record_s * per))
        medians = (statistics.median(column) for column in zip(*rows, strict=True))
        wall_ms, cpu_ms, proposal, evaluation, record = medians
        start = "cold workers" if args.cold_start else "warm workers"
        what = "one sandboxed candidate per evaluation" if args.candidate else "trivial evaluator"
        print(
            f"{p.evaluated} evaluations, 1 slot, {what}, {start} (median of {args.repeats}): "
            f"wall {wall_ms:.1f} ms/evaluation, CPU {cpu_ms:.1f} ms/evaluation"
        )
        print(f"  proposal      {proposal:6.2f} ms/evaluation (selection, mutation, hash, pending write)")
        print(f"  sandbox+eval  {evaluation:6.2f} ms/evaluation (worker start to result frame)")
        print(f"  archive write {record:6.2f} ms/evaluation (evaluations, status, elites)")
        print(f"  duplicates rejected before evaluation: {p.duplicates}; best score {p.best_score}")
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
