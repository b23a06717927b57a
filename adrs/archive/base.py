"""What every part of `Archive` shares: the open database and its sessions.

Owns: opening an archive by path or URL, for writing or read-only (connect.py configures the
engine and brings an older archive's layout up to date when it is opened to write), this
process's mark in the change journal and what it remembers of its own writes (a run's next
proposal index, its journal entries), and the ORM sessions and Core connections the parts of
`Archive` (store.py, cooperation.py, calls.py, reads.py, integrity.py, rescores.py, locks.py,
steering.py, runs.py, program_reads.py, events.py) use: Core statements on the
paths every evaluation takes, the ORM elsewhere. Sessions and connections never leave adrs/archive/.

Must not: read or write rows itself.
"""

from __future__ import annotations

import secrets
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Self

from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from adrs.archive.connect import open_engine
from adrs.archive.location import archive_url
from adrs.archive.schema import Base


class ArchiveBase:
    """One open archive database."""

    def __init__(self, engine: Engine, url: str):
        self.engine = engine
        self.url = url
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.writer = secrets.token_hex(8)  # this process's mark in the change journal
        self._counters_ready: set[int] = set()  # runs whose counter row is known to exist
        # The next proposal index of each run as this process last knew it: read once, then kept by
        # this process's own inserts. Another engine's inserts make it stale, which the unique index
        # catches (store.py re-reads and retries), so a stale value costs a retry, never a duplicate.
        self._next_index: dict[int, int] = {}
        # Journal sequence numbers this process wrote per run (committed): a follower that finds
        # only its own changes since its cursor skips reading the journal (cooperation.py).
        self._own_changes: dict[int, set[int]] = {}
        self.read_only = False
        # Tables of the schema a read-only archive lacks (one an older adrs wrote: schema version 1
        # had no repeat_evaluations and no best_claims): read as empty, never created by a reader.
        self.absent_tables: frozenset[str] = frozenset()

    @classmethod
    def open(cls, location: str | Path, *, create: bool = True, read_only: bool = False) -> Self:
        """The archive at `location`, created when missing (with `create`).

        `read_only`: for the commands that only read. Nothing is written (no table created, no
        journal mode switched) and a database that is not an adrs archive is refused."""
        url = archive_url(location)
        archive = cls(open_engine(url, create=create, read_only=read_only), url)
        archive.read_only = read_only
        if read_only:
            present = set(inspect(archive.engine).get_table_names())
            archive.absent_tables = frozenset(name for name in Base.metadata.tables if name not in present)
        return archive

    def close(self) -> None:
        self.engine.dispose()

    def _session(self) -> Session:
        return self._sessions()

    def _write(self) -> AbstractContextManager[Connection]:
        """A Core connection in a transaction that commits when the block ends (the hot paths: no ORM)."""
        return self.engine.begin()

    def _read(self) -> AbstractContextManager[Connection]:
        """A Core connection for reading."""
        return self.engine.connect()
