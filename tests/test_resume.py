"""Crash safety: a run killed with SIGKILL, or stopped with Ctrl-C, resumes without losing work."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ADRS = [sys.executable, "-m", "adrs.cli"]


def _counts(archive: Path) -> dict[str, int]:
    if not archive.exists():
        return {}
    try:
        with sqlite3.connect(f"file:{archive}?mode=ro", uri=True, timeout=30) as db:
            rows = db.execute("SELECT status, count(*) FROM programs WHERE migrated_from IS NULL GROUP BY status")
            return dict(rows.fetchall())
    except sqlite3.OperationalError:  # the engine has not created its tables yet
        return {}


def _evaluated(archive: Path) -> int:
    counts = _counts(archive)
    return counts.get("evaluated", 0) + counts.get("failed", 0)


def _duplicates(archive: Path) -> tuple[int, int]:
    with sqlite3.connect(archive) as db:
        stage_dups = db.execute(
            "SELECT count(*) FROM (SELECT program_id, stage FROM evaluations "
            "GROUP BY program_id, stage HAVING count(*) > 1)"
        ).fetchone()[0]
        code_dups = db.execute(
            "SELECT count(*) FROM (SELECT code_hash FROM programs WHERE migrated_from IS NULL "
            "GROUP BY code_hash HAVING count(*) > 1)"
        ).fetchone()[0]
    return stage_dups, code_dups


def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        ADRS + args, cwd=cwd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _wait_for(archive: Path, evaluated: int, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while _evaluated(archive) < evaluated:
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(0.1)


def test_sigkill_mid_run_then_resume_loses_nothing(toy_problem, tmp_path):
    archive = tmp_path / "run.sqlite"
    proc = _start(
        ["run", str(toy_problem), "--budget", "200", "--workers", "2", "--archive", str(archive), "--quiet"], tmp_path
    )
    _wait_for(archive, 12, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _counts(archive)
    evaluated_before = _evaluated(archive)
    assert evaluated_before >= 12
    time.sleep(0.5)  # sandboxed workers die with their parent (PR_SET_PDEATHSIG)

    done = subprocess.run(
        ADRS + ["resume", str(archive), "--budget", "10", "--quiet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    after = _counts(archive)
    assert before.get("pending", 0) > 0  # the kill left stored proposals behind ...
    assert after.get("pending", 0) == 0  # ... and resume evaluated them first
    assert _evaluated(archive) == evaluated_before + 10  # the new budget, exactly
    assert after.get("evaluated", 0) >= before.get("evaluated", 0)
    assert _duplicates(archive) == (0, 0)


def test_ctrl_c_marks_the_run_interrupted_and_resume_continues(toy_problem, tmp_path):
    archive = tmp_path / "run.sqlite"
    proc = _start(
        ["run", str(toy_problem), "--budget", "200", "--workers", "2", "--archive", str(archive), "--quiet"], tmp_path
    )
    _wait_for(archive, 5, proc)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    assert "adrs resume" in out
    with sqlite3.connect(archive) as db:
        assert db.execute("SELECT status FROM runs").fetchone()[0] == "interrupted"
    evaluated = _evaluated(archive)
    done = subprocess.run(
        ADRS + ["resume", str(archive), "--budget", "10", "--quiet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert _evaluated(archive) == evaluated + 10
    assert _counts(archive).get("pending", 0) == 0
    assert _duplicates(archive) == (0, 0)


def test_a_run_whose_problem_moved_resumes_with_problem_dir(toy_problem, tmp_path):
    archive = tmp_path / "run.sqlite"
    started = subprocess.run(
        ADRS + ["run", str(toy_problem), "--budget", "4", "--archive", str(archive), "--quiet"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert started.returncode == 0, started.stdout + started.stderr
    moved = toy_problem.rename(tmp_path / "moved")
    before = archive.read_bytes()
    lost = subprocess.run(
        ADRS + ["resume", str(archive), "--budget", "3", "--quiet"], cwd=tmp_path, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert lost.returncode == 1, lost.stdout + lost.stderr
    assert f"{toy_problem}: not a directory (the run's problem; if it moved, pass --problem DIR)" in " ".join(
        lost.stdout.split()
    )
    assert _evaluated(archive) == 4 and archive.read_bytes() == before  # refused before anything was written
    done = subprocess.run(
        ADRS + ["resume", str(archive), "--budget", "3", "--problem", str(moved), "--quiet"], cwd=tmp_path,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert _evaluated(archive) == 7
