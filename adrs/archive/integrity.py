"""The raw reads and the few repairs `adrs doctor` needs, inside one transaction.

Owns: `Archive.integrity_session`, which yields an `IntegritySession`: runs, programs,
evaluation rows, repeated evaluation rows and best claims as stored (whether or not they agree
with each other), evaluation rows of no program, and the repairs: deleting evaluation rows (and
repeated ones), overwriting a program's derived fields. With
`write=True` every repair of one session commits together, or none does.

Must not: decide what is inconsistent or what to repair (doctor.py and doctor_programs.py do), touch a program's code
or lineage, or delete a program.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from adrs.archive.base import ArchiveBase
from adrs.archive.compact import full_features, stored_features, unpack
from adrs.archive.packing import pack_values, unpack_values
from adrs.archive.records import (
    BestClaim,
    ProgramRecord,
    ProgramStatus,
    RunRecord,
    StoredEvaluation,
    as_record,
)
from adrs.archive.rescores import own_values
from adrs.archive.schema import BestClaim as BestClaimRow
from adrs.archive.schema import EvaluationRow, Program, RepeatEvaluation, Run
from adrs.archive.texts import LostText, as_records, evaluation_rows, lost_texts

_E, _P = EvaluationRow.__table__, Program.__table__

# The fields of a program derived from its evaluation rows, which a repair may overwrite.
REPAIRABLE = frozenset(
    {"status", "score", "complete", "stage_reached", "error_kind", "metrics", "features", "evaluated_at"}
)


class IntegritySession:
    """One transaction's view of the stored rows, for checking and repairing them."""

    def __init__(self, session: Session, absent_tables: frozenset[str] = frozenset()):
        self._s = session
        self._absent = absent_tables  # tables a read-only archive from an older adrs lacks: read as empty

    def runs(self, run_id: int | None = None) -> list[RunRecord]:
        stmt = select(Run) if run_id is None else select(Run).where(Run.id == run_id)
        return [as_record(RunRecord, row) for row in self._s.scalars(stmt)]

    def programs(self, run_id: int) -> list[ProgramRecord]:
        stmt = select(Program).where(Program.run_id == run_id).order_by(Program.id)
        return as_records(self._s, ProgramRecord, self._s.scalars(stmt))

    def evaluations_of(self, program_ids: list[int]) -> dict[int, list[StoredEvaluation]]:
        """Each program's evaluation rows in the order they were stored (duplicates included)."""
        rows: dict[int, list[StoredEvaluation]] = defaultdict(list)
        if program_ids:
            stmt = evaluation_rows().where(_E.c.program_id.in_(program_ids)).order_by(_E.c.id)
            for record in as_records(self._s, StoredEvaluation, self._s.execute(stmt)):
                rows[record.program_id].append(record)
        return rows

    def repeats_of(self, program_ids: list[int]) -> dict[int, list[StoredEvaluation]]:
        """Each program's repeated evaluation rows in the order they were stored."""
        rows: dict[int, list[StoredEvaluation]] = defaultdict(list)
        if program_ids and "repeat_evaluations" not in self._absent:
            stmt = (
                select(RepeatEvaluation)
                .where(RepeatEvaluation.program_id.in_(program_ids))
                .order_by(RepeatEvaluation.id)
            )
            for record in as_records(self._s, StoredEvaluation, self._s.scalars(stmt)):
                rows[record.program_id].append(record)
        return rows

    def claims(self, run_id: int) -> list[BestClaim]:
        if "best_claims" in self._absent:
            return []
        stmt = select(BestClaimRow).where(BestClaimRow.run_id == run_id).order_by(BestClaimRow.id)
        return [as_record(BestClaim, row) for row in self._s.scalars(stmt)]

    def orphan_evaluations(self) -> list[StoredEvaluation]:
        """Evaluation rows whose program is not stored."""
        stmt = evaluation_rows().where(_E.c.program_id.not_in(select(Program.id)))
        return as_records(self._s, StoredEvaluation, self._s.execute(stmt))

    def orphan_repeats(self) -> list[StoredEvaluation]:
        """Repeated evaluation rows whose program is not stored."""
        if "repeat_evaluations" in self._absent:
            return []
        stmt = select(RepeatEvaluation).where(RepeatEvaluation.program_id.not_in(select(Program.id)))
        return as_records(self._s, StoredEvaluation, self._s.scalars(stmt))

    def lost_texts(self, run_id: int | None = None) -> list[LostText]:
        """References (code, diff, feedback, error, prompt, reply) whose text cannot be read back."""
        return lost_texts(self._s, run_id, self._absent)

    def delete_evaluations(self, evaluation_ids: list[int]) -> None:
        self._s.execute(delete(EvaluationRow).where(EvaluationRow.id.in_(evaluation_ids)))

    def delete_repeats(self, repeat_ids: list[int]) -> None:
        self._s.execute(delete(RepeatEvaluation).where(RepeatEvaluation.id.in_(repeat_ids)))

    def set_program_fields(self, program_id: int, values: dict[str, Any]) -> None:
        """Overwrite derived fields of a program (never its code, lineage or proposal index)."""
        unknown = set(values) - REPAIRABLE
        if unknown:
            raise ValueError(f"program {program_id}: {', '.join(sorted(unknown))} cannot be repaired")
        if "status" in values:
            values = {**values, "status": ProgramStatus(values["status"]).value}
        if "metrics" in values or "features" in values:
            # Stored compactly (compact.py): the rows that borrow from the program's row get their
            # own copy first, and the features are stored as an overlay on the metrics they will have.
            connection = self._s.connection()
            own_values(connection, program_id)
            current = self._s.execute(select(_P.c.metrics, _P.c.features).where(_P.c.id == program_id)).first()
            stored_metrics, stored = (current.metrics, current.features) if current else ({}, {})
            unpack_values(connection, [stored_metrics, stored])
            metrics = values.get("metrics", unpack(stored_metrics) or {})
            features = values.get("features", full_features(unpack(stored_metrics), unpack(stored)))
            packed = pack_values(connection, {"metrics": metrics, "features": stored_features(metrics, features or {})})
            values = {**values, **packed}
        self._s.execute(update(Program).where(Program.id == program_id).values(**values))


class IntegrityMixin(ArchiveBase):
    """Access for the integrity check (`adrs doctor`)."""

    @contextmanager
    def integrity_session(self, *, write: bool) -> Iterator[IntegritySession]:
        """Rows as stored; with `write`, the repairs made through it commit together when it ends."""
        with self._session() as s:
            if not write:
                yield IntegritySession(s, self.absent_tables)
                return
            with s.begin():
                yield IntegritySession(s)
