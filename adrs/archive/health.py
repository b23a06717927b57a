"""Whether a SQLite file is an intact adrs archive, found out without writing a byte to it.

Owns: the check made before a SQLite archive is opened, on a read-only connection (`mode=ro`): a
missing or empty file (a new archive, when creating one), a file that is not an SQLite database
or is damaged (`PRAGMA quick_check`), a database without adrs's tables (refused: nothing is
written into someone else's database); and telling SQLite's or PostgreSQL's corruption errors met
later from other errors, for a message that points to `adrs doctor`.

Must not: write to the file, or repair anything (doctor.py and salvage.py do what can be done).
"""

from __future__ import annotations

import sqlite3
import urllib.parse
from contextlib import closing
from pathlib import Path

from adrs.archive.errors import ArchiveDamaged, ArchiveError, NotAnArchive

ADRS_TABLES = ("runs", "programs", "evaluations")  # an archive has at least these
_SQLITE_DAMAGE = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB (primary result codes)
_POSTGRESQL_DAMAGE = {"XX001", "XX002"}  # data_corrupted, index_corrupted
_QUICK_CHECK_LINES = 1  # problems quoted in the message; `adrs doctor` lists them all


def connect_read_only(path: Path, timeout_s: float = 30.0) -> sqlite3.Connection:
    """A connection that cannot write the database file (SQLite's `mode=ro`).

    On a WAL archive SQLite still needs its -wal and -shm files to read while an engine writes:
    it creates them (empty) if they are missing; the database file itself is never written.
    """
    uri = f"file:{urllib.parse.quote(str(path))}?mode=ro"
    db = sqlite3.connect(uri, uri=True, timeout=timeout_s, check_same_thread=False)
    db.execute("PRAGMA query_only=ON")
    return db


def is_damage(error: BaseException) -> bool:
    """True for an error that says the database is damaged (not locked, missing or refused)."""
    if isinstance(error, sqlite3.DatabaseError):
        code = getattr(error, "sqlite_errorcode", None)
        return code is not None and code & 0xFF in _SQLITE_DAMAGE
    return getattr(error, "sqlstate", None) in _POSTGRESQL_DAMAGE


def damaged(shown: str, error: BaseException | str) -> ArchiveDamaged:
    """The one line for a damaged archive (or garbage where one was expected), pointing to `adrs doctor`."""
    reason = str(error)
    if isinstance(error, sqlite3.DatabaseError) and getattr(error, "sqlite_errorcode", 0) & 0xFF == 26:
        reason += ": a damaged archive, or no archive at all"
    return ArchiveDamaged(
        f"{shown}: the archive is damaged ({reason}); `adrs doctor {shown}` reports what can still be read"
    )


def check_sqlite_archive(path: Path, *, create: bool) -> None:
    """Raise unless `path` is an intact adrs archive (or, with `create`, absent, empty or a blank database)."""
    shown = str(path)
    if not path.exists():
        if create:
            return
        raise ArchiveError(f"{shown}: no such archive")
    if not path.is_file():
        raise NotAnArchive(f"{shown}: not a file, so not an adrs archive")
    if path.stat().st_size == 0:
        if create:
            return
        raise NotAnArchive(f"{shown}: an empty file, not an adrs archive")
    try:
        with closing(connect_read_only(path)) as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if create and not tables:
                return  # a blank database becomes an archive
            missing = [name for name in ADRS_TABLES if name not in tables]
            if missing:
                found = ", ".join(sorted(tables)[:5]) or "none"
                raise NotAnArchive(
                    f"{shown}: not an adrs archive (an SQLite database without the tables {', '.join(missing)}; "
                    f"its tables: {found}); nothing was written to it"
                )
            problems = [str(row[0]) for row in db.execute(f"PRAGMA quick_check({_QUICK_CHECK_LINES})")]
    except sqlite3.DatabaseError as exc:
        if is_damage(exc):
            raise damaged(shown, exc) from exc
        raise ArchiveError(f"{shown}: cannot open the archive: {exc}") from exc
    if problems != ["ok"]:
        raise damaged(shown, "quick_check: " + "; ".join(one_line(p) for p in problems))


def one_line(message: str) -> str:
    """An integrity-check message on one line, without SQLite's "*** in database main ***" header."""
    lines = [line.strip() for line in message.splitlines()]
    return "; ".join(line for line in lines if line and not line.startswith("***"))
