"""One engine per run: the lock the engine that starts or resumes a run holds while it runs.

Owns: `Archive.lock_run(run_id)`, held by `adrs run` and `adrs resume` (never by `--join`
engines, which share a run on purpose) and by `adrs doctor --repair`. A second holder is refused
at once with `RunBusy`, one line naming who holds it. The lock dies with its holder, however it
ends (a SIGKILL included), so a killed engine never leaves a run stuck:

- SQLite: `flock` on `<archive>-files/run<N>.lock` (location.py), which the kernel releases when
  the process dies. The file records who holds it (pid, host, since when), for the message; its
  presence means nothing.
- PostgreSQL: a session-level advisory lock taken on a connection kept for the whole run; the
  server releases it when the session ends (the engine's connection closes or drops).

Must not: decide when a run needs the lock (api/runs.py and doctor.py do), or touch any row.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text

from adrs.archive.base import ArchiveBase
from adrs.archive.errors import RunBusy
from adrs.archive.location import display_location, run_lock_file

# PostgreSQL advisory lock keys of the one-engine locks: this base plus the run id (one bigint key
# space; the schema lock uses 7_311_000, the two-key form used by store.py is another space).
_ENGINE_LOCK_BASE = 7_311_001 << 32


class LocksMixin(ArchiveBase):
    """The one-engine-per-run lock."""

    @contextmanager
    def lock_run(self, run_id: int, doing: str = "evolving it") -> Iterator[None]:
        """Hold run `run_id`'s lock until the block ends; RunBusy at once if someone holds it.

        `doing` says what the holder does, for the message a second comer reads."""
        if self.engine.dialect.name == "postgresql":
            with self._advisory_lock(run_id):
                yield
            return
        path = run_lock_file(self.url, run_id)
        if path is None:
            yield  # another server database: nothing to lock with
            return
        with _file_lock(path, run_id, display_location(self.url), doing):
            yield

    @contextmanager
    def _advisory_lock(self, run_id: int) -> Iterator[None]:
        key = _ENGINE_LOCK_BASE + run_id
        connection = self.engine.connect()
        try:
            got = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar()
            holder = None if got else connection.execute(_HOLDER, {"key": key}).scalar()
            connection.commit()  # the lock belongs to the session, not to this transaction
            if not got:
                where = f" (PostgreSQL session {holder})" if holder else ""
                shown = display_location(self.url)
                raise RunBusy(f"{shown}: run {run_id} is in use by another engine{where}; {_ADVICE}")
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()
        finally:
            connection.close()


_ADVICE = "wait for it to stop, or add an engine to it with `adrs run PROBLEM --archive URL --join RUN_ID` (PostgreSQL)"
# The backend pid of the session holding a one-engine lock (a bigint key: classid = high, objid = low 32 bits).
_HOLDER = text(
    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
    "AND ((classid::bigint << 32) | objid::bigint) = :key LIMIT 1"
)


@contextmanager
def _file_lock(path: Path, run_id: int, shown: str, doing: str) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not inherited by the evaluation workers (os.open's descriptors are not): the lock is this process's.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 300, 0).decode("utf-8", "replace").strip()
            who = holder or "unknown"
            raise RunBusy(f"{shown}: run {run_id} is in use by another engine ({who}); {_ADVICE}") from None
        since = time.strftime("%Y-%m-%d %H:%M:%S")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}, {doing} since {since}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
