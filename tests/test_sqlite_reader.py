"""The read-only commands read a SQLite archive with the stdlib sqlite3 (archive/sqlite_reader.py), not
SQLAlchemy: the same records as `Archive`, the same rendered output, nothing written, and an archive of
an unknown schema version refused in one line."""

from __future__ import annotations

import hashlib
import io
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing, redirect_stdout
from pathlib import Path

import pytest

import adrs
from adrs import cli
from adrs.api import archives as api_archives
from adrs.archive.errors import ArchiveError
from adrs.archive.records import ClaimDraft, NewProgram
from adrs.archive.schema import SCHEMA_VERSION
from adrs.archive.sqlite_reader import READABLE_SCHEMA_VERSIONS, SQLiteReader, open_read_only
from adrs.archive.store import Archive
from adrs.evaluate.result import Evaluation

FIXTURES = Path(__file__).parent / "fixtures"


def _orm(location):
    return Archive.open(location, create=False, read_only=True)


@pytest.fixture(scope="module")
def rich_archive(tmp_path_factory) -> Path:
    """An evolved toy run, with what an offline run lacks added through `Archive`: LLM calls (one with
    long texts, so stored once in `texts`), a re-scored program with a best claim, a steering hint."""
    from tests.conftest import SKELETON

    root = tmp_path_factory.mktemp("reader")
    problem = root / "toy"
    shutil.copytree(SKELETON, problem, ignore=shutil.ignore_patterns("__pycache__"))
    (problem / "problem.toml").write_text((problem / "problem.toml").read_text().replace("{name}", "toy"))
    archive = root / "a.sqlite"
    adrs.evolve(problem, archive=archive, budget=6, workers=1, seed=0, evaluate_holdout=False)
    store = Archive.open(archive)
    try:
        run = store.run()
        initial = next(p for p in store.programs(run.id) if p.mutator == "initial")
        child = store.add_program(
            run.id,
            NewProgram(initial.code + "\n# tweaked\n", "f" * 64, 100, "llm:m", parent_id=initial.id, diff="x" * 300),
        )
        quick = Evaluation("quick", True, 1.0, {"score": 1.0}, feedback="fine " * 60)
        full = Evaluation("full", True, 2.0, {"score": 2.0}, feedback="well " * 60)
        again = Evaluation("full", True, 2.5, {"score": 2.5}, feedback="again " * 60)
        store.record_evaluations(child.id, [quick, full], True, repeats=[again], claim=ClaimDraft(2.25, 0.25, 2, 0.3))
        call = store.add_llm_call(
            run.id, model="m", prompt="p" * 500, response="r" * 400, prompt_tokens=11, completion_tokens=7, cost_usd=0.5
        )
        store.link_llm_calls([call], child.id)
        store.add_llm_call(run.id, model="other", prompt="short", response="", error="parse: no code block")
        store.steer(run.id, "hint", text="try a heap")
        store.add_event(run.id, "proposal_failed", {"parent_id": child.id, "reason": "duplicate"})
    finally:
        store.close()
    return archive


def _same_reads(archive: Path) -> None:
    reader, orm = open_read_only(archive), _orm(archive)
    assert isinstance(reader, SQLiteReader)
    try:
        for run in orm.all_runs():
            assert reader.run(run.id) == run
            for read in ("status_counts", "failure_counts", "events", "steering", "best_claims", "best_claim"):
                assert getattr(reader, read)(run.id) == getattr(orm, read)(run.id), read
            assert reader.llm_usage(run.id) == orm.llm_usage(run.id)
            programs = orm.programs(run.id)
            assert reader.programs(run.id) == programs and programs
            assert reader.programs(run.id, "failed") == orm.programs(run.id, "failed")
            for program in programs:
                assert reader.program(program.id) == program
                for read in ("evaluations", "repeat_evaluations", "llm_calls_of_program"):
                    assert getattr(reader, read)(program.id) == getattr(orm, read)(program.id), read
        assert reader.run() == orm.run()
        for call_id in range(1, 4):
            assert reader.llm_call(call_id) == orm.llm_call(call_id)
    finally:
        reader.close()
        orm.close()


def test_the_reader_returns_what_archive_returns(rich_archive):
    _same_reads(rich_archive)
    reader = open_read_only(rich_archive)
    try:  # what this archive was built to hold, so the comparison above covered it
        run = reader.run()
        assert reader.best_claims(run.id) and reader.steering(run.id).hints and reader.llm_usage(run.id)
        (child,) = [p for p in reader.programs(run.id) if p.mutator == "llm:m"]
        assert child.diff == "x" * 300 and reader.repeat_evaluations(child.id)[0].feedback == "again " * 60
        assert reader.llm_calls_of_program(child.id)[0].prompt == "p" * 500
    finally:
        reader.close()
    with closing(sqlite3.connect(rich_archive)) as db:  # the long texts are references in their rows
        assert db.execute("SELECT count(*) FROM programs WHERE code LIKE '\x01%'").fetchone()[0] > 0
        # version 4: metrics stored once, names once (archive/compact.py); the reads above covered them
        assert db.execute("SELECT count(*) FROM evaluations WHERE metrics = 'null'").fetchone()[0] > 0
        # version 5: a reply and a diff kept in their row, compressed against the prompt and the code
        assert db.execute("SELECT count(*) FROM llm_calls WHERE response LIKE '\x02%'").fetchone()[0] == 1
        assert db.execute("SELECT count(*) FROM programs WHERE diff LIKE '\x02%'").fetchone()[0] > 0


def test_an_older_layout_reads_alike():
    """Schema version 2 (no texts table, texts inline), 3 (texts stored once, whole dictionaries) and
    4 (32-byte text digests, every long text in `texts`, floats as JSON)."""
    _same_reads(FIXTURES / "archive_schema2.sqlite")
    _same_reads(FIXTURES / "archive_schema3.sqlite")
    _same_reads(FIXTURES / "archive_schema4.sqlite")


def _rendered(argv: list[str]) -> str:
    out = io.StringIO()
    cli.console.file = out
    try:
        with redirect_stdout(out):
            assert cli.main(argv) == 0
    finally:
        cli.console.file = None  # back to sys.stdout
    return out.getvalue()


def test_status_and_show_render_the_same_through_either_path(rich_archive, monkeypatch):
    run_id = open_read_only(rich_archive).run().id
    with closing(sqlite3.connect(rich_archive)) as db:
        ids = [row[0] for row in db.execute("SELECT id FROM programs ORDER BY id")]
    commands = [["status", str(rich_archive)], ["status", str(rich_archive), "--run", str(run_id)]]
    commands += [["show", str(rich_archive), str(i)] for i in ids]
    via_reader = [_rendered(argv) for argv in commands]
    monkeypatch.setattr(api_archives, "open_read_only", _orm)  # the path a PostgreSQL archive takes
    via_orm = [_rendered(argv) for argv in commands]
    assert via_reader == via_orm
    assert "try a heap" in via_reader[0] and "other" in via_reader[0]  # the steering hint, the LLM usage table
    assert "p" * 100 in "".join(via_reader)  # a show of the LLM child renders its stored-once prompt


def test_reading_writes_nothing_and_an_unknown_schema_version_is_refused(rich_archive, tmp_path):
    archive = tmp_path / "copy.sqlite"
    shutil.copy(rich_archive, archive)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    for argv in (["status", str(archive)], ["show", str(archive), "1"]):
        done = subprocess.run([sys.executable, "-m", "adrs.cli", *argv], capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, done.stdout + done.stderr
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == digest

    newer = max(READABLE_SCHEMA_VERSIONS) + 1
    with closing(sqlite3.connect(archive)) as db, db:
        db.execute("UPDATE runs SET schema_version = ?", (newer,))
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    with pytest.raises(ArchiveError, match=f"schema version {newer} is not one this adrs reads"):
        open_read_only(archive)
    done = subprocess.run(
        [sys.executable, "-m", "adrs.cli", "status", str(archive)], capture_output=True, text=True, timeout=240
    )
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode == 1 and len(lines) == 1 and f"schema version {newer}" in lines[0], lines
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == digest


def test_the_reader_knows_the_schema_version_adrs_writes():
    """When schema.py's SCHEMA_VERSION moves on, extend READABLE_SCHEMA_VERSIONS once the reader reads it."""
    assert set(range(1, SCHEMA_VERSION + 1)) <= READABLE_SCHEMA_VERSIONS


def test_a_missing_or_foreign_file_gets_the_same_line(tmp_path):
    foreign = tmp_path / "other.sqlite"
    with closing(sqlite3.connect(foreign)) as db:
        db.execute("CREATE TABLE t (x)")
    for location in (tmp_path / "none.sqlite", foreign):
        with pytest.raises(ArchiveError) as by_reader:
            open_read_only(location)
        with pytest.raises(ArchiveError) as by_orm:
            _orm(location)
        assert str(by_reader.value) == str(by_orm.value)
