"""Crash safety: SIGKILL the engine at seeded random moments, resume each time, lose nothing.

The engine (`adrs run`, then `adrs resume`) is killed 10+ times, at random moments from start-up to
mid-evaluation. The first kill waits until the archive holds its first evaluation (a start on a
busy machine can take longer than any fixed delay), so every later start has a run to resume. Only
the engine process is killed: its sandboxed workers must die with it (PR_SET_PDEATHSIG). After
every kill: evaluated programs never decrease, no evaluation is
duplicated, `adrs doctor` finds nothing, and no process of the run is left. At the end a last resume
evaluates exactly its budget and leaves nothing pending (that resume evaluates pending
programs first is tests/test_resume.py's).

Every start gets a budget no engine spends before its kill (a fast machine evaluates the toy
problem at dozens per second): a run that ran out of budget between kills would test nothing.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from adrs.doctor import check

ADRS = [sys.executable, "-m", "adrs.cli"]
BUDGET = 100_000  # per start: never reached before the kill
KILLS = 10
FINAL_BUDGET = 10
SEED = 20261122
FIRST_EVALUATION_WAIT_S = 300  # generous: a loaded 2-core machine may take a minute to start a run


def _query(archive: Path, sql: str) -> list[tuple]:
    if not archive.exists():
        return []
    try:
        with sqlite3.connect(f"file:{archive}?mode=ro", uri=True, timeout=30) as db:
            return db.execute(sql).fetchall()
    except sqlite3.OperationalError:  # killed before its tables existed
        return []


def _evaluated(archive: Path) -> int:
    rows = _query(
        archive, "SELECT count(*) FROM programs WHERE migrated_from IS NULL AND status IN ('evaluated', 'failed')"
    )
    return rows[0][0] if rows else 0


def _has_run(archive: Path) -> bool:
    return bool(_query(archive, "SELECT id FROM runs"))


def _stage_duplicates(archive: Path) -> int:
    rows = _query(
        archive,
        "SELECT count(*) FROM (SELECT program_id, stage FROM evaluations "
        "GROUP BY program_id, stage HAVING count(*) > 1)",
    )
    return rows[0][0] if rows else 0


def _processes_under(folder: Path) -> list[int]:
    """Processes whose working directory lies in `folder` (every worker and candidate of this test)."""
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if os.readlink(f"/proc/{pid}/cwd").startswith(str(folder)):
                    found.append(int(pid))
            except OSError:
                continue
    return found


def _wait_gone(folder: Path, timeout: float = 30.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while (left := _processes_under(folder)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def _wait_first_evaluation(proc: subprocess.Popen, archive: Path) -> None:
    """Until the archive holds an evaluated program, or the engine ended by itself."""
    deadline = time.monotonic() + FIRST_EVALUATION_WAIT_S
    while _evaluated(archive) == 0 and proc.poll() is None:
        assert time.monotonic() < deadline, f"no evaluation landed within {FIRST_EVALUATION_WAIT_S} s"
        time.sleep(0.1)


def test_random_sigkills_then_resume_lose_nothing(toy_problem, tmp_path):
    rng = random.Random(SEED)
    archive = tmp_path / "run.sqlite"
    scratch = tmp_path / "scratch"  # TMPDIR of the engine: every worker's folder lies in it
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    run_args = [
        "run",
        str(toy_problem),
        "--budget",
        str(BUDGET),
        "--workers",
        "2",
        "--archive",
        str(archive),
        "--quiet",
    ]
    kills = 0
    evaluated = 0
    while kills < KILLS:
        args = ["resume", str(archive), "--budget", str(BUDGET), "--quiet"] if _has_run(archive) else run_args
        proc = subprocess.Popen(ADRS + args, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if args is run_args:
            _wait_first_evaluation(proc, archive)  # so the archive exists, with a run to resume
        time.sleep(rng.uniform(0.2, 2.5))
        if proc.poll() is not None:
            assert proc.returncode == 0, proc.stderr.read().decode()
            continue
        os.kill(proc.pid, signal.SIGKILL)  # the engine only: its workers must follow by themselves
        proc.wait()
        proc.stderr.close()
        kills += 1
        assert _wait_gone(scratch) == [], f"kill {kills}: sandboxed processes outlived the engine"
        now = _evaluated(archive)
        assert now >= evaluated, f"kill {kills}: evaluated programs went from {evaluated} to {now}"
        evaluated = now
        assert _stage_duplicates(archive) == 0
        if _has_run(archive):
            report = check(archive)
            assert report.clean, f"kill {kills}: {report.findings}"

    done = subprocess.run(
        ADRS + ["resume", str(archive), "--budget", str(FINAL_BUDGET), "--quiet"], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert _evaluated(archive) == evaluated + FINAL_BUDGET
    assert _query(archive, "SELECT count(*) FROM programs WHERE status = 'pending'")[0][0] == 0
    assert _stage_duplicates(archive) == 0
    report = check(archive)
    assert report.clean, report.findings
    assert _wait_gone(scratch) == []
