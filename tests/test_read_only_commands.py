"""Read-only commands never write: not into an archive, not into a database that is not one.

`status`, `show`, `export`, `report` and `doctor` (without --repair) open archives read-only; a
SQLite file that is not an adrs archive is refused with one line and keeps its bytes and mtime;
`adrs run` refuses to write its tables into someone else's database as well.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from adrs import api
from adrs.archive.store import Archive, NotAnArchive

ADRS = [sys.executable, "-m", "adrs.cli"]


def adrs(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*ADRS, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def _snapshot(path: Path) -> tuple[bytes, int, list[str]]:
    """The file's bytes and mtime, and the files beside it."""
    return path.read_bytes(), path.stat().st_mtime_ns, sorted(p.name for p in path.parent.iterdir())


@pytest.fixture
def unrelated(tmp_path: Path) -> Path:
    """Someone else's SQLite database, in rollback-journal mode as most are."""
    path = tmp_path / "inventory.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE parts (id INTEGER PRIMARY KEY, name TEXT)")
        db.execute("INSERT INTO parts (name) VALUES ('bolt')")
    return path


READ_ONLY_COMMANDS = {
    "status": ["status", "{db}"],
    "show": ["show", "{db}", "1"],
    "show --call": ["show", "{db}", "1", "--call"],
    "export": ["export", "{db}", "--best", "--out", "{out}"],
    "report": ["report", "{db}", "-o", "{out}/r.html"],
    "doctor": ["doctor", "{db}"],
}


@pytest.mark.parametrize("command", READ_ONLY_COMMANDS)
def test_a_database_that_is_not_an_archive_is_refused_and_left_untouched(command, unrelated, tmp_path):
    before = _snapshot(unrelated)
    args = [a.format(db=unrelated, out=tmp_path / "out") for a in READ_ONLY_COMMANDS[command]]
    done = adrs(*args, cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1 and "not an adrs archive" in lines[0] and str(unrelated) in lines[0], done.stdout
    assert _snapshot(unrelated) == before
    with sqlite3.connect(f"file:{unrelated}?mode=ro", uri=True) as db:
        assert [r[0] for r in db.execute("SELECT name FROM sqlite_master")] == ["parts"]


def test_run_refuses_to_write_its_tables_into_a_foreign_database(unrelated, toy_problem, tmp_path):
    before = _snapshot(unrelated)
    done = adrs("run", str(toy_problem), "--archive", str(unrelated), "--budget", "2", "--quiet", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "not an adrs archive" in done.stdout
    assert _snapshot(unrelated) == before


def test_read_only_commands_leave_an_archive_byte_for_byte_as_it_was(toy_problem, tmp_path):
    archive = tmp_path / "run.sqlite"
    api.evolve(toy_problem, archive=archive, budget=4, workers=1, mutator="offline", evaluate_holdout=False)
    before = _snapshot(archive)[:2]
    for command in ("status", "show", "export", "doctor"):
        args = [a.format(db=archive, out=tmp_path / "out") for a in READ_ONLY_COMMANDS[command]]
        done = adrs(*args, cwd=tmp_path)
        assert done.returncode == 0, (command, done.stdout + done.stderr)
    assert _snapshot(archive)[:2] == before


def test_the_api_opens_read_only_archives_that_refuse_writes(toy_problem, tmp_path, unrelated):
    archive = tmp_path / "run.sqlite"
    api.evolve(toy_problem, archive=archive, budget=2, workers=1, mutator="offline", evaluate_holdout=False)
    store = Archive.open(archive, create=False, read_only=True)
    try:
        run = store.run()
        with pytest.raises(Exception, match="readonly|read-only|read only"):
            store.add_event(run.id, "written?", {})
    finally:
        store.close()
    with pytest.raises(NotAnArchive, match="not an adrs archive"):
        api.run_status(unrelated)
