"""A read-only view of a SQLite archive on the standard library's sqlite3: the read path of the
commands that only read one (`adrs status`, `adrs show`).

Owns: `open_read_only(location)`, which gives a SQLite archive to `SQLiteReader` and anything else
(PostgreSQL) to `Archive` opened read-only; `SQLiteReader`, whose methods answer as `Archive`'s
methods of the same name, with the same records (records.py), the same order and the same
messages, so what a command renders is the same whichever path read it; and
`READABLE_SCHEMA_VERSIONS`, the archive layouts it knows. The reason it exists: SQLAlchemy's ORM
takes about 0.5 s of CPU to import, more than a read-only command's whole start-up budget.

The archive is opened through `mode=ro` with `query_only` (health.py), after the same intactness
check `Archive.open` makes, so a read never writes a byte to the database file. An archive whose
runs were created by a newer adrs (a schema version not in `READABLE_SCHEMA_VERSIONS`) is refused
in one line rather than read wrong. Each query names the columns it needs, so a column added by a
later version changes nothing here; a table an older version lacked (repeat_evaluations,
best_claims, texts, metric_names) reads as empty, as it does through `Archive`. Version 4's
dictionaries (names stored once, a program's features over its metrics, an evaluation row that
borrows its program's) are read whole through compact.py, as `Archive` reads them.

Must not: write, import SQLAlchemy or the schema (schema.py), or be imported outside adrs/archive/
(callers get it from `open_read_only`).
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from adrs.archive.compact import (
    PACKED_COLUMNS,
    SAME_AS_PROGRAM,
    borrowed,
    full_features,
    learn_names,
    missing_names,
    unpack,
)
from adrs.archive.errors import ArchiveError
from adrs.archive.health import check_sqlite_archive, connect_read_only, damaged, is_damage
from adrs.archive.location import archive_url, sqlite_path
from adrs.archive.records import (
    BestClaim,
    CallRecord,
    ModelUsage,
    ProgramRecord,
    ProgramStatus,
    RunRecord,
    SteeringState,
    steering_state,
)
from adrs.archive.textcodec import decode_texts, digest_of, unpack_in_rows
from adrs.evaluate.result import Evaluation

if TYPE_CHECKING:
    from adrs.archive.store import Archive

T = TypeVar("T")

# The archive layouts this reader knows (schema.py's SCHEMA_VERSION and the ones before it; the
# versions are described there). A version added to schema.py must be added here once this reader
# reads it right: tests/test_sqlite_reader.py fails until it is.
READABLE_SCHEMA_VERSIONS = frozenset({1, 2, 3, 4, 5})

# How a stored column becomes a record's field, by column name (the same names in every table).
_JSON = frozenset({"config", "inspiration_ids", "metrics", "features", "instances", "payload", "value"})
_BOOLEAN = frozenset({"complete", "ok"})
_MOMENTS = frozenset({"created_at", "evaluated_at"})
_STORED_ONCE = frozenset({"code", "diff", "feedback", "error", "prompt", "response"})  # may be a texts reference


def open_read_only(location: str | Path) -> SQLiteReader | Archive:
    """The archive at `location` for reading only: a SQLite file through sqlite3, a server through `Archive`."""
    url = archive_url(location)
    path = sqlite_path(url)
    if path is None:
        from adrs.archive.store import Archive

        return Archive.open(location, create=False, read_only=True)
    return SQLiteReader(path, url)


def _value(name: str, raw: Any) -> Any:
    """A column's value as SQLAlchemy's types hand it back (JSON decoded, booleans, naive datetimes)."""
    if raw is None:
        return None
    if name in _JSON:
        return json.loads(raw) if isinstance(raw, str | bytes) else raw
    if name in _BOOLEAN:
        return bool(raw)
    if name in _MOMENTS:
        return datetime.fromisoformat(raw)
    return raw


class SQLiteReader:
    """One SQLite archive, opened read-only; the subset of `Archive`'s reads the read-only commands use."""

    def __init__(self, path: Path, url: str):
        check_sqlite_archive(path, create=False)  # missing, not an archive, damaged: Archive.open's lines
        self.url = url
        self._shown = str(path)
        self._db = connect_read_only(path)
        try:
            self.tables = frozenset(row[0] for row in self._rows("SELECT name FROM sqlite_master WHERE type = 'table'"))
            self._check_version()
        except BaseException:
            self._db.close()
            raise

    def close(self) -> None:
        self._db.close()

    def _check_version(self) -> None:
        versions = sorted({v for (v,) in self._rows("SELECT DISTINCT schema_version FROM runs") if v is not None})
        unknown = [v for v in versions if v not in READABLE_SCHEMA_VERSIONS]
        if unknown:
            known = ", ".join(str(v) for v in sorted(READABLE_SCHEMA_VERSIONS))
            raise ArchiveError(
                f"{self._shown}: archive schema version {unknown[-1]} is not one this adrs reads ({known}): "
                f"a newer adrs wrote it; upgrade adrs to read it"
            )

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """Every row of one query; a damaged or unreadable database becomes one ArchiveError line."""
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            if is_damage(exc):
                raise damaged(self._shown, exc) from exc
            raise ArchiveError(f"{self._shown}: cannot read the archive: {exc}") from exc

    def _records(
        self, cls: type[T], table: str, where: str, params: Sequence[Any], order: str, lender: int | None = None
    ) -> list[T]:
        """The record `cls` of each row of `table` that matches, with stored-once texts read back and
        every dictionary whole (compact.py); `lender`: the program whose row an evaluation row may
        borrow its metrics and features from."""
        names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
        rows = self._rows(f"SELECT {', '.join(names)} FROM {table} WHERE {where} ORDER BY {order}", params)
        records = [{name: _value(name, raw) for name, raw in zip(names, row, strict=True)} for row in rows]
        long_names = [name for name in names if name in _STORED_ONCE]
        texts = self._texts(fields[name] for fields in records for name in long_names)
        if texts:
            for fields in records:
                for name in long_names:
                    if fields[name] in texts:
                        fields[name] = texts[fields[name]]
        if long_names:
            for fields in records:
                unpack_in_rows(fields)
        packed = [name for name in names if name in PACKED_COLUMNS]
        if packed:
            self._whole(cls, records, packed, lender)
        return [cls(**fields) for fields in records]

    def _whole(self, cls: type, records: list[dict[str, Any]], packed: list[str], lender: int | None) -> None:
        """Each record's dictionaries as `Archive` gives them: names read back, a program's features
        overlaid on its metrics, an evaluation's borrowed metrics and features taken from its program."""
        lent: tuple[Any, Any] = (None, None)
        if lender is not None and any(fields.get(n) is SAME_AS_PROGRAM for fields in records for n in packed):
            found = self._rows("SELECT metrics, features FROM programs WHERE id = ?", (lender,))
            lent = (_value("metrics", found[0][0]), _value("features", found[0][1])) if found else lent
        wanted = missing_names([*(fields[n] for fields in records for n in packed), *lent])
        if wanted and "metric_names" in self.tables:
            keys = sorted(wanted)
            marks = ", ".join("?" * len(keys))
            found = self._rows(f"SELECT key, names FROM metric_names WHERE key IN ({marks})", keys)
            learn_names((key, json.loads(names)) for key, names in found)
        for fields in records:
            for name in packed:
                fields[name] = unpack(fields[name])
            if cls is ProgramRecord:
                fields["features"] = full_features(fields["metrics"], fields["features"])
            else:
                fields["metrics"] = borrowed(fields["metrics"], unpack(lent[0]))
                if "features" in fields:
                    fields["features"] = borrowed(fields["features"], unpack(lent[1]))

    def _texts(self, references: Iterable[Any]) -> dict[str, str]:
        """The text behind each reference among `references` (anything else is left out)."""
        wanted = {value: digest for value in references if (digest := digest_of(value)) is not None}
        if not wanted:
            return {}

        def fetch(chunk: list[bytes]) -> list[tuple]:
            if "texts" not in self.tables:
                return []
            marks = ", ".join("?" * len(chunk))
            return self._rows(f"SELECT digest, compression, base, data FROM texts WHERE digest IN ({marks})", chunk)

        found = decode_texts(fetch, wanted.values())
        return {value: found[digest] for value, digest in wanted.items()}

    # runs ----------------------------------------------------------------------------------------
    def run(self, run_id: int | None = None) -> RunRecord:
        if run_id is None:
            found = self._records(RunRecord, "runs", "1 = 1", (), "id DESC LIMIT 1")
        else:
            found = self._records(RunRecord, "runs", "id = ?", (run_id,), "id")
        if not found:
            raise ArchiveError(f"{self.url}: no run" + ("" if run_id is None else f" with id {run_id}"))
        return found[0]

    def status_counts(self, run_id: int) -> Counter[str]:
        rows = self._rows(
            "SELECT status, count(*) FROM programs WHERE run_id = ? AND migrated_from IS NULL GROUP BY status",
            (run_id,),
        )
        return Counter({status: n for status, n in rows})

    def failure_counts(self, run_id: int) -> Counter[str]:
        rows = self._rows(
            "SELECT error_kind, count(*) FROM programs WHERE run_id = ? AND status = ? AND migrated_from IS NULL "
            "GROUP BY error_kind",
            (run_id, ProgramStatus.FAILED.value),
        )
        return Counter({kind or "unknown": n for kind, n in rows})

    def events(self, run_id: int, kind: str | None = None) -> list[tuple[str, dict, datetime]]:
        where, params = ("run_id = ?", (run_id,)) if kind is None else ("run_id = ? AND kind = ?", (run_id, kind))
        rows = self._rows(f"SELECT kind, payload, created_at FROM events WHERE {where} ORDER BY id", params)
        return [(k, _value("payload", payload), _value("created_at", at)) for k, payload, at in rows]

    def steering(self, run_id: int) -> SteeringState:
        if "state" not in self.tables:
            return SteeringState()
        rows = self._rows("SELECT value FROM state WHERE run_id = ? AND key = 'steering'", (run_id,))
        return steering_state(dict(_value("value", rows[0][0]) or {}) if rows else None)

    # programs and their evaluations --------------------------------------------------------------
    def program(self, program_id: int) -> ProgramRecord:
        found = self._records(ProgramRecord, "programs", "id = ?", (program_id,), "id")
        if not found:
            raise ArchiveError(f"{self.url}: no program with id {program_id}")
        return found[0]

    def programs(self, run_id: int, status: ProgramStatus | None = None) -> list[ProgramRecord]:
        if status is None:
            return self._records(ProgramRecord, "programs", "run_id = ?", (run_id,), "id")
        params = (run_id, ProgramStatus(status).value)
        return self._records(ProgramRecord, "programs", "run_id = ? AND status = ?", params, "id")

    def evaluations(self, program_id: int) -> list[Evaluation]:
        return self._records(Evaluation, "evaluations", "program_id = ?", (program_id,), "id", lender=program_id)

    def repeat_evaluations(self, program_id: int) -> list[Evaluation]:
        if "repeat_evaluations" not in self.tables:
            return []
        return self._records(Evaluation, "repeat_evaluations", "program_id = ?", (program_id,), "id")

    def best_claim(self, run_id: int) -> BestClaim | None:
        if "best_claims" not in self.tables:
            return None
        found = self._records(BestClaim, "best_claims", "run_id = ?", (run_id,), "id DESC LIMIT 1")
        return found[0] if found else None

    def best_claims(self, run_id: int) -> list[BestClaim]:
        if "best_claims" not in self.tables:
            return []
        return self._records(BestClaim, "best_claims", "run_id = ?", (run_id,), "id")

    # LLM calls -----------------------------------------------------------------------------------
    def llm_usage(self, run_id: int) -> list[ModelUsage]:
        rows = self._rows(
            "SELECT model, count(*), sum(prompt_tokens), sum(completion_tokens), sum(cost_usd) FROM llm_calls "
            "WHERE run_id = ? GROUP BY model",
            (run_id,),
        )
        return [
            ModelUsage(model, calls, int(prompt or 0), int(completion or 0), float(cost or 0.0))
            for model, calls, prompt, completion, cost in rows
        ]

    def llm_calls_of_program(self, program_id: int) -> list[CallRecord]:
        return self._records(CallRecord, "llm_calls", "program_id = ?", (program_id,), "id")

    def llm_call(self, call_id: int) -> CallRecord | None:
        found = self._records(CallRecord, "llm_calls", "id = ?", (call_id,), "id")
        return found[0] if found else None
