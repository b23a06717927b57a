"""One engine per run: a second `adrs resume` (or `adrs doctor --repair`) on a run an engine is
evolving is refused with one line, and the lock dies with its engine, even a SIGKILLed one.

Real processes throughout: the first engine is an `adrs run` in its own session, the second
comer another `adrs` process. (PostgreSQL's advisory lock is tested in test_postgres.py.)
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ADRS = [sys.executable, "-m", "adrs.cli"]


def adrs(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "500"}
    return subprocess.run([*ADRS, *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env)


def _evaluated(archive: Path) -> int:
    try:
        with sqlite3.connect(f"file:{archive}?mode=ro", uri=True, timeout=30) as db:
            return db.execute("SELECT count(*) FROM programs WHERE status != 'pending'").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def _events(archive: Path, kind: str) -> int:
    with sqlite3.connect(f"file:{archive}?mode=ro", uri=True, timeout=30) as db:
        return db.execute("SELECT count(*) FROM events WHERE kind = ?", (kind,)).fetchone()[0]


def _start_engine(toy_problem: Path, archive: Path, cwd: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [*ADRS, "run", str(toy_problem), "--budget", "500", "--workers", "1", "--archive", str(archive), "--quiet"],
        cwd=cwd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 180
    while _evaluated(archive) < 2:
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline, "the first engine made no progress"
        time.sleep(0.1)
    return proc


def test_a_second_engine_is_refused_and_a_killed_one_leaves_no_stale_lock(toy_problem, tmp_path):
    archive = tmp_path / "run.sqlite"
    first = _start_engine(toy_problem, archive, tmp_path)
    try:
        second = adrs("resume", str(archive), "--budget", "2", "--quiet", cwd=tmp_path)
        assert second.returncode == 1, second.stdout + second.stderr
        errors = [line for line in second.stdout.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "run 1 is in use by another engine" in errors[0], second.stdout
        assert f"pid {first.pid} " in errors[0]  # who holds it
        assert _events(archive, "resumed") == 0  # the refused engine wrote nothing

        repair = adrs("doctor", str(archive), "--repair", cwd=tmp_path)
        assert repair.returncode == 1 and "in use by another engine" in repair.stdout, repair.stdout
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()

    done = adrs("resume", str(archive), "--budget", "2", "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr  # the kernel released the dead engine's lock
    assert _events(archive, "resumed") == 1
