"""`adrs doctor`: finds each kind of archive inconsistency, repairs it without deleting a program.

Archives are written with the real store API (no evaluation needed), then damaged with plain SQL,
the way a crash, a bug or a hand edit would.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from adrs.archive.store import Archive, NewProgram
from adrs.doctor import check, repair
from adrs.evaluate.result import Evaluation
from adrs.problem import load_problem

ADRS = [sys.executable, "-m", "adrs.cli"]


def _evaluation(stage: str, score: float | None, ok: bool = True) -> Evaluation:
    if not ok:
        return Evaluation.failure(stage, "exception", "boom", 0.1)
    return Evaluation(
        stage=stage, ok=True, score=score, metrics={"score": score, "weighted_completion": 1.0}, duration_s=0.1
    )


@pytest.fixture
def archive_path(toy_problem: Path, tmp_path: Path) -> Path:
    """A consistent archive: 3 evaluated programs, 1 failed, 1 pending, 1 migrant."""
    problem = load_problem(toy_problem)
    path = tmp_path / "run.sqlite"
    store = Archive.open(path)
    run = store.create_run(problem.name, str(problem.root), problem.fingerprint(), 0, {})
    ids = []
    for index, score in enumerate([50.0, 60.0, 70.0]):
        program = store.add_program(
            run.id, NewProgram(code=f"# {index}\n", code_hash=f"h{index}", proposal_index=index, mutator="offline")
        )
        store.record_evaluations(program.id, [_evaluation("quick", score), _evaluation("full", score)], complete=True)
        ids.append(program.id)
    failed = store.add_program(run.id, NewProgram(code="# f\n", code_hash="hf", proposal_index=3, mutator="offline"))
    store.record_evaluations(failed.id, [_evaluation("quick", None, ok=False)], complete=False)
    store.add_program(run.id, NewProgram(code="# p\n", code_hash="hp", proposal_index=4, mutator="offline"))
    store.add_migrant(store.program(ids[2]), island=1, proposal_index=5)
    store.record_extra_evaluation(ids[2], _evaluation("holdout", 65.0))
    store.close()
    return path


def _sql(path: Path, *statements: str) -> None:
    with sqlite3.connect(path) as db:
        for statement in statements:
            db.execute(statement)


def _evaluated(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT count(*) FROM programs WHERE status IN ('evaluated', 'failed')").fetchone()[0]


def _programs(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT count(*) FROM programs").fetchone()[0]


def test_a_consistent_archive_is_clean_and_pending_work_is_only_noted(archive_path):
    report = check(archive_path)
    assert report.clean, report.findings
    assert any("1 program(s) pending" in note for note in report.notes)


def test_each_inconsistency_is_found_and_repaired_without_deleting_a_program(archive_path):
    # Remove the (program, stage) constraint the way an older or foreign schema would lack it.
    _sql(
        archive_path,
        "CREATE TABLE ev2 AS SELECT * FROM evaluations",
        "DROP TABLE evaluations",
        "ALTER TABLE ev2 RENAME TO evaluations",
        # an orphan row, a duplicated stage, a wrong denormalised score and status, a stuck pending,
        # an 'evaluated' program with no evaluation, a migrant that no longer matches its original
        "INSERT INTO evaluations (id, program_id, stage, ok, score, metrics, features, instances, feedback, "
        "error_kind, error, "
        "duration_s, created_at) VALUES (900, 999, 'quick', 1, 1.0, '{}', '{}', '{}', '', NULL, '', 0, '2026-01-01')",
        "INSERT INTO evaluations (id, program_id, stage, ok, score, metrics, features, instances, feedback, "
        "error_kind, error, "
        "duration_s, created_at) SELECT 901, program_id, stage, ok, 99.0, metrics, features, instances, feedback, "
        "error_kind, error, "
        "duration_s, created_at FROM evaluations WHERE program_id = 1 AND stage = 'full'",
        "UPDATE programs SET score = 1e9 WHERE id = 3",
        "UPDATE programs SET status = 'pending', score = NULL WHERE id = 2",
        "UPDATE programs SET status = 'evaluated', score = 5.0 WHERE id = 5",
        "UPDATE programs SET score = 12.0 WHERE migrated_from IS NOT NULL",
    )
    programs_before = _programs(archive_path)
    report = check(archive_path)
    kinds = sorted(f.kind for f in report.findings)
    assert kinds == [
        "derived_mismatch",
        "duplicate_evaluation",
        "migrant_mismatch",
        "missing_evaluations",
        "orphan_evaluation",
        "stuck_pending",
    ], report.findings

    repaired = repair(archive_path)
    assert repaired.clean, repaired.findings
    assert len(repaired.repaired) == 6
    assert _programs(archive_path) == programs_before  # nothing deleted
    store = Archive.open(archive_path, create=False)
    try:
        assert store.program(3).score == 70.0
        assert (store.program(2).status, store.program(2).score) == ("evaluated", 60.0)
        assert store.program(5).status == "pending"  # resume evaluates it again
        assert [e.score for e in store.evaluations(1)] == [50.0, 50.0]  # the first 'full' row stays
        migrant = next(p for p in store.programs(1) if p.migrated_from == 3)
        assert migrant.score == 70.0
    finally:
        store.close()


def test_cli_exit_codes_and_repair(archive_path, tmp_path):
    clean = subprocess.run([*ADRS, "doctor", str(archive_path)], capture_output=True, text=True, timeout=60)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "no inconsistency" in clean.stdout
    _sql(archive_path, "UPDATE programs SET score = 1e9 WHERE id = 1")
    evaluated = _evaluated(archive_path)
    found = subprocess.run([*ADRS, "doctor", str(archive_path)], capture_output=True, text=True, timeout=60)
    assert found.returncode == 2 and "derived_mismatch" in found.stdout, found.stdout
    assert "--repair" in found.stdout
    fixed = subprocess.run([*ADRS, "doctor", str(archive_path), "--repair"], capture_output=True, text=True, timeout=60)
    assert fixed.returncode == 0, fixed.stdout
    assert _evaluated(archive_path) == evaluated
    missing = subprocess.run(
        [*ADRS, "doctor", str(tmp_path / "nope.sqlite")], capture_output=True, text=True, timeout=60
    )
    assert missing.returncode == 1 and "no such archive" in " ".join(missing.stdout.split())
