"""Opening an archive database: the URL, the dialect's settings, the tables.

Owns: turning a path or SQLAlchemy URL into a configured SQLAlchemy Engine with its tables: SQLite
in WAL mode with `synchronous=NORMAL`; PostgreSQL (`postgresql+psycopg://...`) with connection
checks and JSON that PostgreSQL accepts, its tables created under an advisory lock because several
engines may open one database at once. Messages never show a password.

Must not: read or write runs and programs (that is store.py's job), or parse a URL itself
(location.py does).
"""

from __future__ import annotations

import json
import math
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from adrs.archive.location import display_url, sqlite_path
from adrs.archive.schema import Base

_SCHEMA_LOCK = 7_311_000  # PostgreSQL advisory lock key held while creating tables


class ArchiveError(RuntimeError):
    """An archive that cannot be opened or does not hold what was asked for."""


def open_engine(url: str, *, create: bool = True) -> Engine:
    """A SQLAlchemy Engine on `url` with every table of the schema present."""
    path = sqlite_path(url)
    if path is not None:
        if not path.exists() and not create:
            raise ArchiveError(f"{path}: no such archive")
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if url.startswith("postgresql"):
            engine = create_engine(url, pool_pre_ping=True, json_serializer=_postgresql_json)
        else:
            engine = create_engine(url)
    except ModuleNotFoundError as exc:
        raise ArchiveError(
            f"{display_url(url)}: the database driver is not installed ({exc}); for PostgreSQL: pip install 'adrs[postgres]'"
        ) from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        _create_tables(engine)
    except OperationalError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise ArchiveError(f"{display_url(url)}: cannot open the archive: {reason}") from exc
    return engine


def _create_tables(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        Base.metadata.create_all(engine)
        return
    with engine.begin() as connection:
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
        Base.metadata.create_all(connection)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process crashes
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
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
    return json.dumps(_finite_json(value))
