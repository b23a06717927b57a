"""What a damaged SQLite archive still holds, and a copy of it in a new archive.

Owns: `inspect_damage(path)`: SQLite's `PRAGMA integrity_check` messages and, for every adrs
table, how many rows can still be read and which ids cannot; and `salvage(path, target)`, which
copies every readable row into a fresh archive at `target`. Rows are read in id order; where a
damaged page stops the read, the next readable id is found by probing further ahead, then
narrowing back, so one bad page costs the rows on it and no more. The damaged archive is only
ever read (`mode=ro`); a truncated file, whose header promises pages it lacks (SQLite then refuses
to read any of it), is read through a private copy whose header states the pages it has.

Must not: judge or repair the rows it copies (doctor.py does, on the copy), or write to the
damaged archive.
"""

from __future__ import annotations

import shutil
import sqlite3
import struct
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from adrs.archive.health import connect_read_only, one_line
from adrs.archive.schema import Base

_SQLITE_MAGIC = b"SQLite format 3\x00"
_FIRST_ROWID = -(2**63)
_LAST_ROWID = 2**63 - 1
_MESSAGES = 100  # integrity_check lines kept


@dataclass(frozen=True)
class TableReadout:
    """One table of a damaged archive: the rows read and the id ranges that could not be."""

    name: str
    readable: int
    lost: list[tuple[int | None, int | None]] = field(default_factory=list)  # inclusive; None: open end
    key: str = "id"  # what the ranges count: the table's id, or SQLite's rowid where it has none

    def describe_lost(self) -> list[str]:
        lines = []
        for first, last in self.lost:
            if first is None and last is None:
                span = "no row can be read"
            elif first is None:
                span = f"rows up to {self.key} {last} cannot be read"
            elif last is None:
                span = f"rows from {self.key} {first} on cannot be read"
            elif first == last:
                span = f"the row with {self.key} {first} cannot be read"
            else:
                span = f"rows with {self.key}s {first} to {last} cannot be read"
            lines.append(f"{self.name}: {span}")
        return lines


@dataclass(frozen=True)
class Damage:
    """What `PRAGMA integrity_check` says, and what each table still gives."""

    problems: list[str]  # one line each; empty: SQLite found nothing wrong
    tables: list[TableReadout]
    unreadable: str | None = None  # why nothing at all can be read (not an SQLite file, say)

    @property
    def intact(self) -> bool:
        return not self.problems and self.unreadable is None and not any(t.lost for t in self.tables)


def inspect_damage(path: Path) -> Damage:
    """Read what the archive at `path` still holds, without writing to it."""
    try:
        with _readable(path) as db:
            problems = _integrity_problems(db)
            tables = [_count(db, name) for name in _tables(db)]
    except sqlite3.DatabaseError as exc:
        return Damage([], [], f"{exc}: nothing can be read (the first page is damaged, or it never was an archive)")
    return Damage(problems, tables)


def salvage(path: Path, target: Path) -> list[TableReadout]:
    """Copy every readable row of the archive at `path` into a new archive at `target` (which must not exist).

    Rows the new archive refuses (a garbled row whose required field reads as NULL) count as lost."""
    from adrs.archive.connect import open_engine
    from adrs.archive.location import archive_url

    open_engine(archive_url(target), create=True).dispose()  # the current schema, empty
    copied = []
    with _readable(path) as source, closing(sqlite3.connect(target)) as out:
        out.execute("PRAGMA foreign_keys=OFF")  # a program whose parent was lost still comes across
        present = set(_tables(source))
        for table in Base.metadata.sorted_tables:
            if table.name not in present:
                continue
            columns = [c.name for c in table.columns if c.name in _columns(source, table.name)]
            insert = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            readout = _Reader(source, table.name, columns)
            written = 0
            with out:
                for row in readout.rows():
                    try:
                        out.execute(insert, row[1:])
                        written += 1
                    except sqlite3.DatabaseError:
                        readout.lost.append((row[0], row[0]))
            copied.append(TableReadout(table.name, written, _merged(readout.lost), _key(source, table.name)))
    return copied


class _Reader:
    """The rows of one table in rowid order, stepping over what a damaged page makes unreadable."""

    def __init__(self, db: sqlite3.Connection, table: str, columns: list[str] | None = None):
        self.db = db
        self.table = table
        self.select = ", ".join(["rowid", *(columns or ["*"])])
        self.lost: list[tuple[int | None, int | None]] = []

    def rows(self) -> Iterator[tuple]:
        position = _FIRST_ROWID
        while True:
            try:
                cursor = self.db.execute(
                    f"SELECT {self.select} FROM {self.table} WHERE rowid >= ? ORDER BY rowid", (position,)
                )
                for row in cursor:
                    yield row
                    position = row[0] + 1
                return
            except sqlite3.DatabaseError:
                following = self._next_readable(position)
                first = None if position == _FIRST_ROWID else position
                self.lost.append((first, None if following is None else following - 1))
                if following is None:
                    return
                position = following

    def _readable_from(self, rowid: int) -> int | None:
        """The first rowid >= `rowid` whose row reads whole; raises where the way there is damaged."""
        found = self.db.execute(
            f"SELECT rowid FROM {self.table} WHERE rowid >= ? ORDER BY rowid LIMIT 1", (rowid,)
        ).fetchone()
        if found is None:
            return None
        self.db.execute(f"SELECT {self.select} FROM {self.table} WHERE rowid = ?", (found[0],)).fetchone()
        return found[0]

    def _next_readable(self, position: int) -> int | None:
        """The first readable rowid past the damage met at `position`: probe ahead in doubling steps,
        then narrow back between the last failing probe and the first success."""
        step, failing = 1, position
        while True:
            probe = min(position + step, _LAST_ROWID) if position != _FIRST_ROWID else step
            try:
                found = self._readable_from(probe)
            except sqlite3.DatabaseError:
                if probe >= _LAST_ROWID:
                    return None
                failing, step = probe, step * 2
                continue
            if found is None:
                return None
            low, high = failing + 1, found  # `found` reads; look for an earlier readable row
            while low < high:
                middle = (low + high) // 2
                try:
                    candidate = self._readable_from(middle)
                except sqlite3.DatabaseError:
                    low = middle + 1
                    continue
                high = candidate if candidate is not None and candidate < high else middle
            return high


def _merged(ranges: list[tuple[int | None, int | None]]) -> list[tuple[int | None, int | None]]:
    return sorted(set(ranges), key=lambda r: (r[0] is not None, r[0] or 0))


def _count(db: sqlite3.Connection, table: str) -> TableReadout:
    reader = _Reader(db, table)
    count = sum(1 for _ in reader.rows())
    return TableReadout(table, count, reader.lost, _key(db, table))


def _key(db: sqlite3.Connection, table: str) -> str:
    return "id" if "id" in _columns(db, table) else "rowid"


def _integrity_problems(db: sqlite3.Connection) -> list[str]:
    try:
        rows = [str(row[0]) for row in db.execute(f"PRAGMA integrity_check({_MESSAGES})")]
    except sqlite3.DatabaseError as exc:
        return [f"integrity_check stopped: {exc}"]
    lines = [line for row in rows for line in one_line(row).split("; ") if line]
    return [] if lines == ["ok"] else lines


def _tables(db: sqlite3.Connection) -> list[str]:
    known = {table.name for table in Base.metadata.sorted_tables}
    names = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return [name for name in names if name in known]


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


@contextmanager
def _readable(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection that reads `path`: the file itself, read-only, unless it is truncated."""
    pages = _missing_pages(path)
    if pages is None:
        with closing(connect_read_only(path)) as db:
            yield db
        return
    with tempfile.TemporaryDirectory(prefix="adrs-salvage-") as folder:
        copy = Path(folder) / path.name
        shutil.copyfile(path, copy)
        wal = path.with_name(path.name + "-wal")
        if wal.exists():
            shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
        with open(copy, "r+b") as f:
            f.seek(28)
            f.write(struct.pack(">I", pages))  # the pages the file really has
        with closing(sqlite3.connect(copy)) as db:
            yield db


def _missing_pages(path: Path) -> int | None:
    """The page count to read a truncated file with; None when the header is not an SQLite one or fits the file."""
    with open(path, "rb") as f:
        header = f.read(100)
    if len(header) < 100 or not header.startswith(_SQLITE_MAGIC):
        return None
    page_size = struct.unpack(">H", header[16:18])[0]
    page_size = 65536 if page_size == 1 else page_size
    promised = struct.unpack(">I", header[28:32])[0]
    present = path.stat().st_size // page_size if page_size else 0
    return present if 0 < present < promised else None
