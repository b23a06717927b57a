"""Metrics and features are stored once and their names once per archive; older archives read the same and migrate.

Since schema version 4 (archive/compact.py) a program's features are stored as what they add to its
metrics, the evaluation row its metrics came from borrows them from the program's row, and a
dictionary's names live once in `metric_names`. Every record reads back exactly as the engine wrote
it, keys in the same order. An archive version 3 wrote (tests/fixtures/archive_schema3.sqlite, made
by version 3's code: two islands with migrants, quick, full and holdout stages, a pending program,
a noisy run with repeated evaluations and best claims, an LLM call) is read as it is by the
read-only commands, byte for byte untouched, and migrated in one transaction when it is opened to
write: records before and after are the same.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from adrs import api
from adrs.archive import migrate
from adrs.archive.schema import SCHEMA_VERSION
from adrs.archive.store import Archive, ArchiveError, NewProgram
from adrs.evaluate.result import Evaluation

FIXTURE = Path(__file__).parent / "fixtures" / "archive_schema3.sqlite"
# Made by version 4's code: the version 3 fixture migrated, run 1 resumed for 3 evaluations, and a
# third run of 4 evaluations through the LLM path (prompts and replies in `texts`, 32-byte digests).
FIXTURE_4 = FIXTURE.with_name("archive_schema4.sqlite")
NOISY = Path(__file__).with_name("noisy_problem")
ADRS = [sys.executable, "-m", "adrs.cli"]
METRICS = {"score": 61.25, "mean_gap_closed": 0.45320349286842415, "candidate_wall_s": 0.30814668799575884}


def _everything(path: Path) -> dict:
    """Every record of every run, read through a read-only Archive; dictionaries as (key, value) lists."""

    def plain(record) -> tuple:
        return tuple(
            (name, list(value.items()) if isinstance(value, dict) else value) for name, value in vars(record).items()
        )

    archive = Archive.open(path, read_only=True)
    try:
        seen: dict = {}
        for run in archive.all_runs():
            programs = archive.programs(run.id)
            seen[run.id] = {
                "programs": [plain(p) for p in programs],
                "evaluations": [plain(e) for p in programs for e in archive.evaluations(p.id)],
                "repeats": [plain(e) for p in programs for e in archive.repeat_evaluations(p.id)],
                "stored": [plain(e) for e in archive.stored_evaluations(run.id)],
                "stored repeats": [plain(e) for e in archive.stored_repeats(run.id)],
                "claims": [plain(c) for c in archive.best_claims(run.id)],
                "calls": [plain(c) for c in archive.llm_calls(run.id)],
            }
        return seen
    finally:
        archive.close()


def _rows(path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return db.execute(sql).fetchall()


def _snapshot(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


def test_metrics_and_features_are_stored_once_and_read_back_whole(tmp_path):
    path = tmp_path / "a.sqlite"
    archive = Archive.open(path)
    run = archive.create_run("toy", "/toy", "f" * 16, 0, {})
    program = archive.add_program(run.id, NewProgram("x = 1\n", "h0", 0, "initial"))
    quick = Evaluation("quick", True, 60.0, {**METRICS, "score": 60.0}, {"kendall_to_spt": 0.5})
    # a feature named like a metric overrides it, and comes back at the metric's place
    full = Evaluation("full", True, 61.25, dict(METRICS), {"kendall_to_spt": 0.25, "candidate_wall_s": 1.0})
    full = Evaluation(**{**vars(full), "instances": {"case_0": 1.0, "case_1": 0.5, "case_2": 0.25}})
    written = archive.record_evaluations(program.id, [quick, full], True)
    assert list(written.features.items()) == [*{**METRICS, "candidate_wall_s": 1.0}.items(), ("kendall_to_spt", 0.25)]
    stored = archive.program(program.id)
    assert list(stored.features.items()) == list(written.features.items())
    assert list(stored.metrics.items()) == list(METRICS.items())
    evaluations = archive.evaluations(program.id)
    assert [(e.metrics, e.features, e.instances) for e in evaluations] == [
        (quick.metrics, quick.features, {}),
        (full.metrics, full.features, full.instances),
    ]
    assert [list(e.metrics) for e in archive.stored_evaluations(run.id)] == [list(quick.metrics), list(full.metrics)]
    archive.close()

    (features,) = _rows(path, "SELECT features FROM programs")[0]
    assert '"kendall_to_spt"' not in features and "0.30814668799575884" not in features  # only what it adds
    rows = _rows(path, "SELECT stage, metrics, features FROM evaluations ORDER BY id")
    assert rows[1][1] == "null"  # the full stage's metrics are the program's: stored there only
    assert rows[0][1].startswith('["') and "mean_gap_closed" not in rows[0][1]  # names stored once, elsewhere
    names = _rows(path, "SELECT names FROM metric_names")
    assert len(names) == len({n for (n,) in names}) and any("mean_gap_closed" in n for (n,) in names)
    assert not [n for (n,) in _rows(path, "SELECT name FROM sqlite_master") if n == "ix_evaluations_program_id"]
    assert api.check_archive(path).clean


def test_a_dictionary_of_floats_is_stored_as_doubles_and_reads_back_bit_for_bit(tmp_path):
    """Schema version 5 (compact.py): ten characters a float instead of up to 24, the double itself."""
    from adrs.archive.sqlite_reader import open_read_only

    floats = {**METRICS, "negative_zero": -0.0, "tiny": 5e-324, "huge": 1.7976931348623157e308}
    floats |= {"infinite": float("inf"), "undefined": float("nan"), "third": 1 / 3}
    mixed = {"score": 1.0, "cases": 50, "all_cases_valid": True, "mean_gap_closed": 0.45320349286842415}
    path = tmp_path / "a.sqlite"
    archive = Archive.open(path)
    run = archive.create_run("toy", "/toy", "f" * 16, 0, {})
    ids, written = [], []
    for k, metrics in enumerate((floats, mixed)):
        program = archive.add_program(run.id, NewProgram(f"x = {k}\n", f"h{k}", k, "initial"))
        evaluation = Evaluation("full", True, metrics["score"], metrics)
        written.append(archive.record_evaluations(program.id, [evaluation], True).metrics)
        ids.append(program.id)
    archive.close()
    assert len(written[0]) == len(floats) and written[0]["tiny"] == 5e-324 and written[0]["third"] == 1 / 3

    stored = [json.loads(m) for (m,) in _rows(path, "SELECT metrics FROM programs ORDER BY id")]
    assert stored[0][0].endswith("~") and len(stored[0]) == 2 and len(stored[0][1]) == 10 * len(floats)
    assert stored[1][1:] == [1.0, 50, True, 0.45320349286842415]  # not all floats: JSON, each value's type kept

    def bits(metrics: dict) -> list:
        return [(name, type(v), struct.pack("<d", v) if isinstance(v, float) else v) for name, v in metrics.items()]

    for reader in (Archive.open(path, read_only=True), open_read_only(path)):
        try:
            assert [bits(reader.program(i).metrics) for i in ids] == [bits(m) for m in written]
        finally:
            reader.close()


def test_a_rescored_program_keeps_its_evaluations_metrics_and_a_repair_keeps_what_they_read(tmp_path):
    path = tmp_path / "a.sqlite"
    archive = Archive.open(path)
    run = archive.create_run("noisy", "/noisy", "f" * 16, 0, {})
    program = archive.add_program(run.id, NewProgram("x = 1\n", "h0", 0, "initial"))
    first = Evaluation("full", True, 50.0, {**METRICS, "score": 50.0})
    repeat = Evaluation("full", True, 52.0, {**METRICS, "score": 52.0})
    written = archive.record_evaluations(program.id, [first], True, repeats=[repeat])
    assert written.metrics["score"] == 51.0
    assert archive.evaluations(program.id)[0].metrics == first.metrics  # its own, not the mean
    single = archive.add_program(run.id, NewProgram("x = 2\n", "h1", 1, "offline", program.id))
    archive.record_evaluations(single.id, [first], True)
    # Stored as the program's: another repeat of that stage first gives the row its own copy.
    archive.add_repeat_evaluations(single.id, [repeat])
    assert archive.evaluations(single.id)[0].metrics == first.metrics
    with archive.integrity_session(write=True) as db:
        db.set_program_fields(single.id, {"metrics": {"score": 51.0}})
    assert archive.evaluations(single.id)[0].metrics == first.metrics
    repaired = archive.program(single.id)  # new metrics; the features read as they did
    assert (repaired.metrics, list(repaired.features.items())) == ({"score": 51.0}, list(first.metrics.items()))
    archive.close()


def test_an_archive_of_version_3_reads_the_same_untouched_and_is_migrated_when_opened_to_write(tmp_path, toy_problem):
    path = tmp_path / "old.sqlite"
    shutil.copyfile(FIXTURE, path)
    noisy = tmp_path / "noisy"
    shutil.copytree(NOISY, noisy, ignore=shutil.ignore_patterns("__pycache__", "noise_state"))
    with sqlite3.connect(path) as db:  # the problem folders the runs were made from are gone: these copies
        db.execute("UPDATE runs SET problem_root = ? WHERE problem_name = 'toy'", (str(toy_problem),))
        db.execute("UPDATE runs SET problem_root = ? WHERE problem_name = 'noisy'", (str(noisy),))
    assert {v for (v,) in _rows(path, "SELECT schema_version FROM runs")} == {3}
    before = _snapshot(path)
    records = _everything(path)
    for command in (["status"], ["status", "--run", "1"], ["show", "3"], ["doctor"]):
        done = subprocess.run([*ADRS, command[0], str(path), *command[1:]], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (command, done.stdout + done.stderr)
    assert _snapshot(path) == before  # read-only commands neither write nor migrate
    assert records[1]["programs"] and records[1]["evaluations"] and records[2]["repeats"] and records[2]["claims"]

    Archive.open(path).close()  # opened to write: migrated
    assert {v for (v,) in _rows(path, "SELECT schema_version FROM runs")} == {SCHEMA_VERSION}
    assert _everything(path) == records
    assert _rows(path, "SELECT count(*) FROM evaluations WHERE metrics = 'null'")[0][0] > 0
    assert _rows(path, "SELECT count(*) FROM metric_names")[0][0] > 0
    assert not [n for (n,) in _rows(path, "SELECT name FROM sqlite_master") if n == "ix_evaluations_program_id"]
    assert api.check_archive(path).clean

    summary = api.resume(path, run_id=1, budget=2, problem_dir=toy_problem, evaluate_holdout=False)
    assert summary.evaluated >= 2 and summary.failure is None
    assert api.check_archive(path).clean


def test_an_archive_of_version_4_is_read_as_it_is_and_only_marked_when_opened_to_write(tmp_path, toy_problem):
    path = tmp_path / "v4.sqlite"
    shutil.copyfile(FIXTURE_4, path)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE runs SET problem_root = ? WHERE problem_name = 'toy'", (str(toy_problem),))
    assert {v for (v,) in _rows(path, "SELECT schema_version FROM runs")} == {4}
    every_row = "SELECT * FROM programs ORDER BY id", "SELECT * FROM evaluations ORDER BY id", "SELECT * FROM llm_calls"
    rows = [_rows(path, sql) for sql in every_row]
    before = _snapshot(path)
    records = _everything(path)
    for command in (["status", "--run", "3"], ["show", "3"], ["doctor"]):
        done = subprocess.run([*ADRS, command[0], str(path), *command[1:]], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (command, done.stdout + done.stderr)
    assert _snapshot(path) == before
    assert records[3]["calls"] and any(len(p) == 44 for (p,) in _rows(path, "SELECT prompt FROM llm_calls"))

    Archive.open(path).close()  # opened to write: marked, nothing rewritten
    assert {v for (v,) in _rows(path, "SELECT schema_version FROM runs")} == {SCHEMA_VERSION}
    assert [_rows(path, sql) for sql in every_row] == rows
    assert _everything(path) == records
    summary = api.resume(path, run_id=1, budget=2, problem_dir=toy_problem, evaluate_holdout=False)
    assert summary.evaluated >= 2 and summary.failure is None
    new_codes = _rows(path, f"SELECT code FROM programs WHERE id > {len(rows[0])}")
    assert new_codes and all(len(code) == 23 for (code,) in new_codes if code.startswith("\x01"))
    assert _everything(path)[1]["programs"][: len(records[1]["programs"])] == records[1]["programs"]
    assert api.check_archive(path).clean


def test_a_migration_that_fails_half_way_leaves_the_archive_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "old.sqlite"
    shutil.copyfile(FIXTURE, path)
    tables = "SELECT * FROM programs ORDER BY id", "SELECT * FROM evaluations ORDER BY id", "SELECT * FROM runs"
    before = [_rows(path, sql) for sql in tables]
    compact = migrate._compact_run
    done = []

    def crash_on_the_second_run(connection, run_id):
        if done:
            raise RuntimeError("killed half way")
        compact(connection, run_id)
        done.append(run_id)

    monkeypatch.setattr(migrate, "_compact_run", crash_on_the_second_run)
    with pytest.raises(RuntimeError, match="half way"):
        Archive.open(path)
    assert done and [_rows(path, sql) for sql in tables] == before
    monkeypatch.setattr(migrate, "_compact_run", compact)
    Archive.open(path).close()
    assert {v for (v,) in _rows(path, "SELECT schema_version FROM runs")} == {SCHEMA_VERSION}


def test_an_archive_a_newer_adrs_wrote_is_refused(tmp_path):
    path = tmp_path / "a.sqlite"
    archive = Archive.open(path)
    archive.create_run("toy", "/toy", "f" * 16, 0, {})
    archive.close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE runs SET schema_version = 99")
    for read_only in (False, True):
        with pytest.raises(ArchiveError, match="schema version 99 was written by a newer adrs"):
            Archive.open(path, read_only=read_only)


def test_a_second_writer_on_the_run_is_followed_and_its_proposal_indices_never_repeat(tmp_path):
    """What this process remembers (the next proposal index, its own journal entries) never hides
    another engine's writes: a stale index is caught by the unique index and the next one taken."""
    path = tmp_path / "a.sqlite"
    first, second = Archive.open(path), Archive.open(path)
    run = first.create_run("toy", "/toy", "f" * 16, 0, {})
    cursor = first.change_cursor(run.id)
    mine = first.add_program(run.id, NewProgram("x = 0\n", "h0", first.next_proposal_index(run.id), "initial"))
    first.record_evaluations(mine.id, [Evaluation("full", True, 1.0, {"score": 1.0})], True)
    assert first.changes_since(run.id, cursor)[0] == []  # only its own change: nothing to admit
    theirs = second.add_program(run.id, NewProgram("x = 1\n", "h1", second.next_proposal_index(run.id), "offline"))
    second.record_evaluations(theirs.id, [Evaluation("full", True, 2.0, {"score": 2.0})], True)
    stale = first.next_proposal_index(run.id)  # still 1: the other writer took it
    again = first.add_program(run.id, NewProgram("x = 2\n", "h2", stale, "offline"))
    assert (mine.proposal_index, theirs.proposal_index, again.proposal_index) == (0, 1, 2)
    assert first.next_proposal_index(run.id) == 3
    programs, _ = first.changes_since(run.id, cursor)
    assert [p.id for p in programs] == [theirs.id]
    first.close()
    second.close()
