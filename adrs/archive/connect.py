"""Opening an archive database: the URL, the dialect's settings, the tables.

Owns: turning a path or SQLAlchemy URL into a configured SQLAlchemy Engine: SQLite in WAL mode
with `synchronous=NORMAL`; PostgreSQL (`postgresql+psycopg://...`) with connection checks and JSON
that PostgreSQL accepts, its tables created under an advisory lock because several engines may
open one database at once. A read-only opening (the commands that only read) never writes: SQLite
through `mode=ro` and `query_only`, without switching the journal mode; PostgreSQL in read-only
transactions; no table is created, and a database without adrs's tables is refused. Opened to
write, an archive an older adrs wrote gains the tables it lacks and has its rows brought to the
current layout (migrate.py does that); one a newer adrs wrote is refused either way. JSON is
written without spaces (compact.py). Before a SQLite archive is opened, health.py checks that it is
one and that it is intact; a corruption met later becomes `ArchiveDamaged`, one line pointing to
`adrs doctor`. Messages never show a password.

Must not: read or write runs and programs itself (store.py does; migrate.py rewrites an older
layout), or parse a URL itself (location.py does).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine, ExceptionContext
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import QueuePool

from adrs.archive.compact import dumps
from adrs.archive.errors import ArchiveError, NotAnArchive
from adrs.archive.health import ADRS_TABLES, check_sqlite_archive, connect_read_only, damaged, is_damage
from adrs.archive.location import display_location, display_url, sqlite_path
from adrs.archive.migrate import migrate, needs_migration, newer_runs
from adrs.archive.schema import Base

__all__ = ["ArchiveError", "open_engine"]

_SCHEMA_LOCK = 7_311_000  # PostgreSQL advisory lock key held while creating tables


def open_engine(url: str, *, create: bool = True, read_only: bool = False) -> Engine:
    """A SQLAlchemy Engine on `url`: with every table of the schema present, or, `read_only`, as it is."""
    path = sqlite_path(url)
    if path is not None:
        check_sqlite_archive(path, create=create and not read_only)
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = _engine(url, path, read_only)
    except ModuleNotFoundError as exc:
        raise ArchiveError(
            f"{display_url(url)}: the database driver is not installed ({exc}); for PostgreSQL: pip install "
            f"'adrs[postgres]'"
        ) from exc
    event.listen(engine, "handle_error", _damage_translator(display_location(url)))
    try:
        if read_only:
            _require_tables(engine, display_location(url))
            with engine.connect() as connection:
                newer_runs(connection, display_location(url))
        else:
            _create_tables(engine, display_location(url))
    except (OperationalError, ArchiveError) as exc:
        engine.dispose()
        if isinstance(exc, ArchiveError):
            raise
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise ArchiveError(f"{display_url(url)}: cannot open the archive: {reason}") from exc
    return engine


def _engine(url: str, path: Path | None, read_only: bool) -> Engine:
    if url.startswith("postgresql"):
        # Every transaction of a read-only session is READ ONLY: the server refuses any write.
        connect_args = {"options": "-c default_transaction_read_only=on"} if read_only else {}
        return create_engine(url, pool_pre_ping=True, json_serializer=_postgresql_json, connect_args=connect_args)
    if path is not None and read_only:
        engine = create_engine("sqlite://", creator=lambda: connect_read_only(path), poolclass=QueuePool)
        event.listen(engine, "connect", _sqlite_read_pragmas)
        return engine
    engine = create_engine(url, json_serializer=dumps)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _damage_translator(shown: str):
    """A `handle_error` hook: a corruption error becomes one ArchiveDamaged line, whatever query met it."""

    def translate(context: ExceptionContext) -> None:
        if is_damage(context.original_exception):
            raise damaged(shown, context.original_exception) from context.sqlalchemy_exception

    return translate


def _require_tables(engine: Engine, shown: str) -> None:
    try:
        names = set(inspect(engine).get_table_names())
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise ArchiveError(f"{shown}: cannot open the archive: {reason}") from exc
    missing = [name for name in ADRS_TABLES if name not in names]
    if missing:
        raise NotAnArchive(f"{shown}: not an adrs archive (no {', '.join(missing)} table); nothing was written to it")


def _create_tables(engine: Engine, shown: str) -> None:
    """Create the tables an archive lacks (a new one, or one an older version wrote), then bring an
    older version's rows to the current layout (migrate.py), in one transaction."""
    if engine.dialect.name != "postgresql":
        Base.metadata.create_all(engine)
        with engine.connect() as connection:
            newer_runs(connection, shown)
            if not needs_migration(connection):
                return
        with engine.begin() as connection:
            migrate(connection)
        return
    with engine.begin() as connection:
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
        Base.metadata.create_all(connection)
        newer_runs(connection, shown)
        migrate(connection)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process crashes
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_read_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")  # a running engine may hold the write lock
    cursor.close()


def _finite_json(value: Any) -> Any:
    """PostgreSQL's json type rejects NaN and Infinity (SQLite stores them): write null instead."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_json(v) for v in value]
    return value


def _postgresql_json(value: Any) -> str:
    return dumps(_finite_json(value))
