"""CPU per evaluation of the archive calls an engine makes for one proposal and its evaluation.

    .venv/bin/python benchmarks/archive_calls.py --evals 300
    PYTHONPATH=<another checkout> .venv/bin/python benchmarks/archive_calls.py --evals 300   # before/after

One process, one SQLite archive, one run; for each evaluation the calls `Engine` makes, in its
order: shared budget left, the change journal since its cursor, the next proposal index (twice),
the duplicate check, the pending write (a 40-function program with its parent and a diff), the
budget claim, and the result transaction (one stage, three metrics, feedback). Each call's CPU
time (user + system of this process) is summed and reported per evaluation, so the archive's part
of issue 17's per-evaluation engine cost can be compared across versions without an evaluator.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

from adrs.archive.store import Archive, NewProgram
from adrs.evaluate.result import Evaluation

BASE = "".join(f"def f{i}(x):\n    a = {i}\n    return a * x + {i}\n\n" for i in range(40))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evals", type=int, default=300)
    n = parser.parse_args().evals
    times: dict[str, float] = {}

    def timed(name, call, *args, **kwargs):
        started = time.process_time()
        result = call(*args, **kwargs)
        times[name] = times.get(name, 0.0) + time.process_time() - started
        return result

    with tempfile.TemporaryDirectory() as folder:
        archive = Archive.open(Path(folder) / "calls.sqlite")
        run = archive.create_run("toy", "/toy", "f" * 16, 0, {})
        archive.open_budget(run.id, 10**6)
        cursor = archive.change_cursor(run.id)
        parent = None
        rng = random.Random(0)
        started = time.process_time()
        for i in range(n):
            code = BASE.replace(f"a = {i % 40}", f"a = {i}")
            timed("budget_left", archive.budget_left, run.id)
            _, cursor = timed("changes_since", archive.changes_since, run.id, cursor)
            timed("next_proposal_index", archive.next_proposal_index, run.id)
            timed("hash_exists", archive.hash_exists, run.id, f"h{i}")
            index = timed("next_proposal_index", archive.next_proposal_index, run.id)
            diff = "--- parent\n+++ child\n" + "-x\n+y\n" * 40
            new = NewProgram(code, f"h{i}", index, "offline", parent.id if parent else None, [], 0, 1, "edit", diff)
            program = timed("add_program", archive.add_program, run.id, new, reject_duplicate=True)
            timed("claim_evaluation", archive.claim_evaluation, run.id)
            metrics = {"score": float(i), "m1": rng.random(), "m2": rng.random()}
            stage = Evaluation("full", True, float(i), metrics, {"f": 1.0}, feedback="feedback " * 30)
            parent = timed("record_evaluations", archive.record_evaluations, program.id, [stage], True)
        total = time.process_time() - started
        archive.close()
    print(f"{n} evaluations, archive calls only (adrs from {sys.modules['adrs'].__file__})")
    for name, spent in times.items():
        print(f"  {name:22s} {spent / n * 1000:7.3f} ms CPU per evaluation")
    print(f"  {'total':22s} {total / n * 1000:7.3f} ms CPU per evaluation")


if __name__ == "__main__":
    main()
