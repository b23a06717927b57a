"""How quickly `adrs serve` answers the page's poll on a large archive (issue 22: 10,000 programs).

    .venv/bin/python benchmarks/serve_large.py --programs 10000 --polls 30

Builds an SQLite archive of one run with that many evaluated programs (two stages each, with
realistic code, metrics and feedback; one in ten failed; four islands), starts a real server on it,
and times HTTP GETs of /api/run (what the page fetches every second; after the first, a poll reads
only new and pending programs), /api/search (the Pareto front, grids and lineage: fetched after an
evaluation landed; `since=` the current version answers "unchanged"), /api/program/<best> (a click)
and / (the page). Then, as a live run would, it lands --grow batches of 10 new evaluations and times
the page's next /api/run and /api/search after each. The archive is built once per --out path and
reused when it already holds the run (the --grow programs are added to it).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adrs.archive.store import Archive, NewProgram  # noqa: E402
from adrs.evaluate.result import Evaluation  # noqa: E402
from adrs.serve.server import open_server, serve_archive  # noqa: E402

FEEDBACK = "mean optimality 82.46%; worst instance 4 at 72.93%. " * 10
CODE = "def policy(jobs):\n" + "    # a line of a typical evolved policy\n" * 60


def build(path: Path, programs: int) -> None:
    archive = Archive.open(path)
    try:
        run = archive.create_run("bench", "/bench", "f" * 16, 0, {"budget": programs, "islands": 4})
        add(archive, run.id, range(programs))
    finally:
        archive.close()


def add(archive: Archive, run_id: int, indices: range) -> None:
    """Programs `indices` of the benchmark's run, evaluated."""
    for k in indices:
        new = NewProgram(
            f"{CODE}# child {k}\n",
            f"{k:064d}",
            k,
            "initial" if k == 0 else "offline",
            None if k == 0 else max(1, k // 2),
            [],
            k % 4,
            k.bit_length(),
        )
        program = archive.add_program(run_id, new)
        metrics = {f"metric_{i}": float(i * k % 97) for i in range(10)}
        if k % 10 == 9:
            evaluations = [Evaluation.failure("quick", "exception", "Traceback ... ValueError")]
        else:
            score = float(k % 1000) / 10
            evaluations = [
                Evaluation("quick", True, score, metrics, {}, FEEDBACK),
                Evaluation("full", True, score, metrics, {}, FEEDBACK),
            ]
        archive.record_evaluations(program.id, evaluations, complete=evaluations[-1].ok)


def timed_get(url: str, times: int) -> tuple[float, float, int, float]:
    """(median ms, max ms, bytes, CPU ms of this process per GET: server and client) of `times` GETs of `url`."""
    elapsed, size = [], 0
    cpu = time.process_time()
    for _ in range(times):
        began = time.perf_counter()
        with urllib.request.urlopen(url, timeout=120) as response:
            size = len(response.read())
        elapsed.append((time.perf_counter() - began) * 1000)
    return statistics.median(elapsed), max(elapsed), size, (time.process_time() - cpu) * 1000 / times


def grow(path: Path, url: str, batches: int) -> None:
    """Land `batches` batches of 10 evaluations, as a live run would, timing the page's polls after each."""
    if batches <= 0:
        return
    archive = Archive.open(path)
    try:
        run = archive.run()
        start = archive.next_proposal_index(run.id)
        polls, searches = [], []
        for batch in range(batches):
            add(archive, run.id, range(start + 10 * batch, start + 10 * batch + 10))
            for route, times in (("api/run", polls), ("api/search", searches)):
                began = time.perf_counter()
                with urllib.request.urlopen(url + route, timeout=120) as response:
                    response.read()
                times.append((time.perf_counter() - began) * 1000)
    finally:
        archive.close()
    for name, times in (("poll /api/run", polls), ("/api/search", searches)):
        print(f"{name} after 10 new evaluations: median {statistics.median(times):.0f} ms, max {max(times):.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--programs", type=int, default=10_000)
    parser.add_argument("--polls", type=int, default=30)
    parser.add_argument("--grow", type=int, default=10, help="batches of 10 new evaluations landed while serving")
    parser.add_argument("--out", type=Path, default=None, help="archive path (default: a temporary folder)")
    args = parser.parse_args()
    path = args.out or Path(tempfile.mkdtemp(prefix="adrs-serve-bench-")) / "large.sqlite"
    if not path.exists():
        began = time.perf_counter()
        build(path, args.programs)
        print(f"built {args.programs} programs in {time.perf_counter() - began:.0f} s: {path}")
    server = open_server(path, port=0)
    thread = threading.Thread(target=serve_archive, args=(server,), daemon=True)
    thread.start()
    try:
        began, cpu = time.perf_counter(), time.process_time()
        best = server.answer("/api/run", {})["best"]["id"]  # the first poll reads every program
        print(
            f"first poll (every program read): {(time.perf_counter() - began) * 1000:.0f} ms wall, "
            f"{(time.process_time() - cpu) * 1000:.0f} ms CPU"
        )
        version = server.answer("/api/search", {})["version"]
        for name, route, times in (
            ("poll /api/run", "api/run", args.polls),
            ("/api/search (full)", "api/search", args.polls),
            ("/api/search?since= (unchanged)", f"api/search?since={version}", args.polls),
            (f"click /api/program/{best}", f"api/program/{best}", args.polls),
            ("page /", "", 5),
        ):
            median, worst, size, cpu_ms = timed_get(server.url + route, times)
            print(
                f"{name}: median {median:.0f} ms, max {worst:.0f} ms, CPU {cpu_ms:.0f} ms per GET, "
                f"{size / 1024:.0f} KiB ({times} GETs)"
            )
        grow(path, server.url, args.grow)
    finally:
        server.shutdown()
        thread.join(timeout=60)


if __name__ == "__main__":
    main()
