"""Archive bytes per 1,000 programs, and where they go (per table, per text column).

    .venv/bin/python benchmarks/archive_size.py offline --problem problems/prism --budget 300
    .venv/bin/python benchmarks/archive_size.py llm --problem problems/prism --budget 200
    .venv/bin/python benchmarks/archive_size.py report PATH.sqlite      # an existing archive

`offline`: a run with the built-in offline mutator. `llm`: a run whose proposals come from the
local OpenAI-protocol server of the tests (tests/fake_openai.py), each reply a small SEARCH/REPLACE
edit of a line every descendant keeps, so the llm_calls table holds real prompts and replies. Both
run quietly on 2 slots with a fixed seed, then measure the SQLite file after the last connection
closed (the WAL is checkpointed into it): bytes per 1,000 programs, pages per table and index
(SQLite's dbstat), and the stored length of each large text column.
"""

from __future__ import annotations

import argparse
import itertools
import sqlite3
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adrs import api  # noqa: E402

# (table, column) pairs whose stored bytes are listed; absent ones are skipped (older or newer layout).
TEXT_COLUMNS = [
    ("programs", "code"),
    ("programs", "diff"),
    ("programs", "description"),
    ("programs", "metrics"),
    ("programs", "features"),
    ("evaluations", "feedback"),
    ("evaluations", "error"),
    ("evaluations", "metrics"),
    ("evaluations", "instances"),
    ("llm_calls", "prompt"),
    ("llm_calls", "response"),
    ("llm_calls", "error"),
    ("texts", "data"),
    ("events", "payload"),
]


def report(path: Path) -> None:
    size = path.stat().st_size
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        programs = db.execute("SELECT count(*) FROM programs").fetchone()[0]
        print(f"{path.name}: {size / 1e6:.2f} MB, {programs} programs, {size / programs * 1000 / 1e6:.2f} MB per 1,000")
        print("  pages per table/index (dbstat):")
        for name, pages in db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC LIMIT 12"):
            print(f"    {name:40s} {pages / 1e3:10.1f} kB  {100 * pages / size:5.1f} %")
        print("  stored bytes per column:")
        columns = {(t, c) for t, _, c, *_ in _columns(db)}
        for table, column in TEXT_COLUMNS:
            if (table, column) not in columns:
                continue
            total = db.execute(f"SELECT coalesce(sum(length(CAST({column} AS BLOB))), 0) FROM {table}").fetchone()[0]
            print(
                f"    {table + '.' + column:40s} {total / 1e3:10.1f} kB  {1000 * total / programs / 1e3:8.1f} kB/1,000"
            )


def _columns(db: sqlite3.Connection) -> list[tuple]:
    tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return [(t, *row) for t in tables for row in db.execute(f"PRAGMA table_info({t})")]


def _llm_settings(url: str) -> dict:
    models = [{"name": "fake-coder", "base_url": url, "max_tokens": 400}]
    return {"llm": {"models": models, "backoff_s": 0.01, "concurrency": 2, "preflight": False}}


def _edit_responder(anchor: str):
    """Replies that insert one numbered line above `anchor` (a line every descendant keeps)."""
    counter = itertools.count(1)

    def respond(_body):
        from tests.fake_openai import Reply

        n = next(counter)
        indent = anchor[: len(anchor) - len(anchor.lstrip())]
        edit = f"<<<<<<< SEARCH\n{anchor}\n=======\n{indent}_variant_{n} = {n}\n{anchor}\n>>>>>>> REPLACE\n"
        return Reply(f"Idea: variant {n}, a small change to try\n{edit}")

    return respond


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["offline", "llm", "report"])
    parser.add_argument("archive", nargs="?", type=Path, help="report: the archive to measure")
    parser.add_argument("--problem", type=Path, default=ROOT / "problems" / "prism")
    parser.add_argument("--budget", type=int, default=300)
    parser.add_argument("--anchor", default="    return placement", help="llm: a line every descendant keeps")
    parser.add_argument("--keep", type=Path, help="copy the archive here")
    options = parser.parse_args()
    if options.mode == "report":
        report(options.archive)
        return
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "size.sqlite"
        settings = {"budget": options.budget, "workers": 2, "seed": 0, "evaluate_holdout": False}
        if options.mode == "offline":
            api.evolve(options.problem, archive=path, mutator="offline", **settings)
        else:
            from tests.fake_openai import FakeOpenAI

            with FakeOpenAI(responder=_edit_responder(options.anchor)) as server:
                api.evolve(options.problem, archive=path, mutator="llm", **settings, **_llm_settings(server.url))
        report(path)
        if options.keep:
            options.keep.write_bytes(path.read_bytes())


if __name__ == "__main__":
    main()
