"""How many evaluations per second the archive sustains: PostgreSQL (and SQLite for comparison).

    .venv/bin/python benchmarks/archive_writes.py --engines 1 2 4 8 --evals 300
    .venv/bin/python benchmarks/archive_writes.py --url postgresql+psycopg://user@host/db   # a real server

Each "engine" is a process doing exactly the archive traffic of one evaluation in a run, over and
over, on one shared run: the proposer's reads (next proposal index, duplicate check, shared budget
left, the change journal since its cursor), the pending write (with the cross-engine duplicate
lock), the budget claim, and the result transaction (two stages with realistic metrics, feedback
and per-instance scores, the program's status, the journal entry). No evaluator runs: the figure
is the ceiling the database puts on a cluster's evaluation rate.

Without --url a private PostgreSQL server is started (tests/pg.py) with fsync ON, the durable
default; it shares this machine's CPUs with the engines, so the figures are a floor for a
dedicated server.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adrs.archive.location import archive_url  # noqa: E402
from adrs.archive.store import Archive, NewProgram  # noqa: E402
from adrs.evaluate.result import Evaluation  # noqa: E402

FEEDBACK = "mean optimality 82.46%; worst instance 4 at 72.93%. " * 10  # ~500 characters
CODE = "def policy(jobs):\n" + "    # a line of a typical evolved policy\n" * 60


def _evaluations(k: int) -> list[Evaluation]:
    metrics = {f"metric_{i}": float(i * k % 97) for i in range(10)} | {"score": float(k % 100)}
    instances = {f"case_{i}": float((i + k) % 100) for i in range(50)}
    return [
        Evaluation("quick", True, float(k % 100), metrics, {"f": 0.5}, FEEDBACK, instances, duration_s=0.2),
        Evaluation("full", True, float(k % 100), metrics, {"f": 0.5}, FEEDBACK, instances, duration_s=0.8),
    ]


def engine(url: str, run_id: int, evals: int, number: int, barrier, results) -> None:
    archive = Archive.open(url)
    cursor = archive.change_cursor(run_id)
    barrier.wait()
    latencies = []
    for k in range(evals):
        began = time.perf_counter()
        # proposer: what the engine reads before and while storing a child
        index = archive.next_proposal_index(run_id)
        if archive.budget_left(run_id) == 0:
            break
        _, cursor = archive.changes_since(run_id, cursor)
        code = f"{CODE}# engine {number} child {k}\n"
        code_hash = f"e{number:03d}k{k:059d}"
        archive.hash_exists(run_id, code_hash)
        program = archive.add_program(
            run_id, NewProgram(code, code_hash, index, "offline", 1, [1], k % 3, 1, "d", "diff"), reject_duplicate=True
        )
        if not archive.claim_evaluation(run_id):
            break
        # slot: the result transaction
        archive.record_evaluations(program.id, _evaluations(k), True)
        latencies.append(time.perf_counter() - began)
    archive.close()
    results.put(latencies)


def measure(url: str, engines: int, evals: int) -> tuple[float, float, float]:
    """(evaluations per second, median and 95th percentile ms per evaluation cycle)."""
    archive = Archive.open(url)
    run = archive.create_run("bench", "/bench", "f" * 16, 0, {})
    archive.add_program(run.id, NewProgram(CODE, "0" * 64, 0, "initial"))
    archive.open_budget(run.id, engines * evals)
    archive.close()
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(engines + 1)
    results = context.Queue()
    processes = [context.Process(target=engine, args=(url, run.id, evals, i, barrier, results)) for i in range(engines)]
    for p in processes:
        p.start()
    barrier.wait()
    began = time.perf_counter()
    latencies = [x for _ in processes for x in results.get(timeout=1800)]  # raises if an engine died
    wall = time.perf_counter() - began
    for p in processes:
        p.join()
    latencies.sort()
    return (
        len(latencies) / wall,
        1000 * statistics.median(latencies),
        1000 * latencies[int(0.95 * (len(latencies) - 1))],
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=None, help="a PostgreSQL URL (default: start a private server)")
    parser.add_argument("--engines", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--evals", type=int, default=300, help="evaluation cycles per engine")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    server = None
    if args.url is None:
        from tests.pg import start_postgres

        server = start_postgres(fsync=True)
    try:
        import os

        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; {args.evals} cycles per engine")
        targets = []
        for n in args.engines:
            url = args.url or server.new_database()
            targets.append(("postgresql" + ("" if args.url else " (private, fsync on)"), url, n))
        if not args.no_sqlite:
            folder = Path(tempfile.mkdtemp(prefix="adrs-aw-"))
            label = "sqlite (WAL, synchronous=NORMAL)"
            targets += [(label, archive_url(folder / f"bench{n}.sqlite"), n) for n in args.engines]
        for label, url, n in targets:
            rate, median, p95 = measure(url, n, args.evals)
            print(
                f"{label:36s} {n:2d} engines: {rate:7.1f} evaluations/s "
                f"(cycle median {median:6.1f} ms, p95 {p95:6.1f} ms)"
            )
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
