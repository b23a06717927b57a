"""Bringing the rows an older adrs wrote to the current layout, when an archive is opened to write.

Owns: the one step that rewrites rows (schema version 3 and before -> 4): each program's features
stored as what they add to its metrics, the metrics of the evaluation row a program's metrics were
taken from left to the program's row, and their JSON without spaces (compact.py); then the run's
`schema_version` says the current version. Version 5 (16-byte text digests, texts kept in their
row compressed against another column, floats packed as doubles) needs no rewrite: the forms
version 4 wrote read as they are, and only new rows take the new ones. A version's tables that a
version before lacked are created by connect.py (create_all), as before.

All of it happens in one transaction (the same one that creates missing tables on PostgreSQL, under
its schema lock): a crash leaves the archive as it was, and opening it again does the whole step.
The first statement marks the runs (`UPDATE runs ... RETURNING id`), so it takes the database's
write lock (SQLite) or the runs' row locks (PostgreSQL) before anything is read: a second process
opening the archive meanwhile waits, then finds nothing left to do. Nothing a reader needs is lost:
every record reads back as it did (tests/test_archive_compact.py). Opening read-only (`adrs
status`, `show`, `report`, `export`, `doctor` without `--repair`) never migrates: both layouts read
alike.

Must not: run on a read-only opening, change what a record reads as, or touch texts, code or lineage.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Update, bindparam, select, text, update
from sqlalchemy.engine import Connection

from adrs.archive.compact import SAME_AS_PROGRAM, full_features, same_values, stored_features, unpack
from adrs.archive.errors import ArchiveError
from adrs.archive.packing import pack_values, unpack_values
from adrs.archive.records import ProgramStatus
from adrs.archive.schema import SCHEMA_VERSION, EvaluationRow, Program, RepeatEvaluation, Run

_R, _P, _E, _REPEAT = Run.__table__, Program.__table__, EvaluationRow.__table__, RepeatEvaluation.__table__
_BATCH = 2000  # rows per executemany
_COMPACT = 4  # the version whose layout _compact_run writes (compact.py); runs below it are rewritten
# Indexes an older version created that the unique index on (program_id, stage[, repeat]) covers.
_REDUNDANT_INDEXES = ("ix_evaluations_program_id", "ix_repeat_evaluations_program_id")


def newer_runs(connection: Connection, shown: str) -> None:
    """Refuse an archive a newer adrs wrote (a run of a schema version above this one's): its rows
    may be laid out in a way this version would read wrong."""
    newest = connection.execute(select(_R.c.schema_version).order_by(_R.c.schema_version.desc()).limit(1)).scalar()
    if newest is not None and newest > SCHEMA_VERSION:
        raise ArchiveError(
            f"{shown}: archive schema version {newest} was written by a newer adrs (this one reads up to "
            f"{SCHEMA_VERSION}); upgrade adrs to open it"
        )


def needs_migration(connection: Connection) -> bool:
    return connection.execute(select(_R.c.id).where(_R.c.schema_version < SCHEMA_VERSION).limit(1)).first() is not None


def migrate(connection: Connection) -> list[int]:
    """Rewrite the rows of every run of an older schema version, in the caller's transaction (after
    connect.py created the tables an older version lacked); the runs done."""
    mark = update(_R).where(_R.c.schema_version < _COMPACT).values(schema_version=_COMPACT)
    runs = list(connection.execute(mark.returning(_R.c.id)).scalars())
    if runs:
        for index in _REDUNDANT_INDEXES:
            connection.execute(text(f"DROP INDEX IF EXISTS {index}"))
        for run_id in runs:
            _compact_run(connection, run_id)
    # Version 4 -> 5 rewrites nothing: the rows version 4 wrote read as they are.
    mark = update(_R).where(_R.c.schema_version < SCHEMA_VERSION).values(schema_version=SCHEMA_VERSION)
    return sorted({*runs, *connection.execute(mark.returning(_R.c.id)).scalars()})


def _compact_run(connection: Connection, run_id: int) -> None:
    programs = connection.execute(
        select(_P.c.id, _P.c.status, _P.c.stage_reached, _P.c.migrated_from, _P.c.metrics, _P.c.features).where(
            _P.c.run_id == run_id
        )
    ).all()
    unpack_values(connection, [value for row in programs for value in (row.metrics, row.features)])
    repeats = select(_REPEAT.c.program_id, _REPEAT.c.stage).join(_P, _P.c.id == _REPEAT.c.program_id)
    rescored = {(p, s) for p, s in connection.execute(repeats.where(_P.c.run_id == run_id)).all()}
    program_rows = []
    lenders: dict[int, tuple[str, dict, dict]] = {}  # program -> the stage its metrics came from, what it stores
    for row in programs:
        metrics = unpack(row.metrics) or {}
        features = stored_features(metrics, full_features(metrics, unpack(row.features)))
        program_rows.append({"pid": row.id, **pack_values(connection, {"metrics": metrics, "features": features})})
        scored_once = row.stage_reached is not None and (row.id, row.stage_reached) not in rescored
        if row.status == ProgramStatus.EVALUATED and row.migrated_from is None and scored_once and metrics:
            lenders[row.id] = (row.stage_reached, metrics, features)
    rewrite = (
        update(_P)
        .where(_P.c.id == bindparam("pid"))
        .values(metrics=bindparam("metrics"), features=bindparam("features"))
    )
    _update_many(connection, rewrite, program_rows)

    first: dict[tuple[int, str], Any] = {}
    ids = list(lenders)
    for start in range(0, len(ids), _BATCH):
        query = select(_E.c.id, _E.c.program_id, _E.c.stage, _E.c.metrics, _E.c.features)
        for row in connection.execute(query.where(_E.c.program_id.in_(ids[start : start + _BATCH])).order_by(_E.c.id)):
            first.setdefault((row.program_id, row.stage), row)  # the row a program's metrics were taken from
    unpack_values(connection, [value for row in first.values() for value in (row.metrics, row.features)])
    evaluation_rows = []
    for program_id, (stage, metrics, features) in lenders.items():
        row = first.get((program_id, stage))
        if row is None or row.metrics is SAME_AS_PROGRAM or not same_values(unpack(row.metrics), metrics):
            continue
        own = row.features if row.features is SAME_AS_PROGRAM else unpack(row.features)
        lent = (
            SAME_AS_PROGRAM
            if own is SAME_AS_PROGRAM or same_values(own, features)
            else pack_values(connection, {"features": own})["features"]
        )
        evaluation_rows.append({"eid": row.id, "metrics": SAME_AS_PROGRAM, "features": lent})
    lend = (
        update(_E)
        .where(_E.c.id == bindparam("eid"))
        .values(metrics=bindparam("metrics"), features=bindparam("features"))
    )
    _update_many(connection, lend, evaluation_rows)


def _update_many(connection: Connection, statement: Update, rows: list[dict]) -> None:
    for start in range(0, len(rows), _BATCH):
        connection.execute(statement, rows[start : start + _BATCH])
