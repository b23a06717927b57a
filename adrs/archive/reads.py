"""Read-only summaries of a run for `adrs status`, the report and the benchmarks.

Owns: counts of programs per status and of failures per kind (migrant copies excluded), the
programs whose evaluation has landed in the order it landed, every stored evaluation row of a
run in the order they were written, and the failed stage of each failed program with its message,
behind methods of `Archive` (this is one of its parts).

Must not: write anything.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from adrs.archive.base import ArchiveBase
from adrs.archive.records import FailedStage, ProgramRecord, ProgramStatus, StoredEvaluation, as_record
from adrs.archive.schema import EvaluationRow, Program


class ReadsMixin(ArchiveBase):
    """Summaries that read many rows at once."""

    def status_counts(self, run_id: int) -> Counter[str]:
        with self._session() as s:
            rows = s.execute(
                select(Program.status, func.count())
                .where(Program.run_id == run_id, Program.migrated_from.is_(None))
                .group_by(Program.status)
            )
            return Counter({status: n for status, n in rows})

    def failure_counts(self, run_id: int) -> Counter[str]:
        with self._session() as s:
            rows = s.execute(
                select(Program.error_kind, func.count())
                .where(
                    Program.run_id == run_id,
                    Program.status == ProgramStatus.FAILED.value,
                    Program.migrated_from.is_(None),
                )
                .group_by(Program.error_kind)
            )
            return Counter({kind or "unknown": n for kind, n in rows})

    def landed_programs(self, run_id: int) -> list[ProgramRecord]:
        """Evaluated and failed programs (migrant copies excluded), in the order their evaluations were stored."""
        stmt = (
            select(Program)
            .where(
                Program.run_id == run_id,
                Program.migrated_from.is_(None),
                Program.status != ProgramStatus.PENDING.value,
            )
            .order_by(Program.evaluated_at, Program.id)
        )
        with self._session() as s:
            return [as_record(ProgramRecord, row) for row in s.scalars(stmt)]

    def stored_evaluations(self, run_id: int) -> list[StoredEvaluation]:
        """Every evaluation row of the run's programs (holdout included), in the order they were stored."""
        stmt = (
            select(EvaluationRow)
            .join(Program, Program.id == EvaluationRow.program_id)
            .where(Program.run_id == run_id)
        )
        with self._session() as s:
            return [as_record(StoredEvaluation, row) for row in s.scalars(stmt.order_by(EvaluationRow.id))]

    def failed_stages(self, run_id: int) -> list[FailedStage]:
        """The failed stage of every failed program of the run (migrant copies excluded), by program id."""
        stmt = (
            select(EvaluationRow.program_id, EvaluationRow.stage, EvaluationRow.error_kind, EvaluationRow.error)
            .join(Program, Program.id == EvaluationRow.program_id)
            .where(
                Program.run_id == run_id,
                Program.migrated_from.is_(None),
                Program.status == ProgramStatus.FAILED.value,
                EvaluationRow.ok.is_(False),
            )
            .order_by(EvaluationRow.program_id, EvaluationRow.id)
        )
        with self._session() as s:
            return [FailedStage(pid, stage, kind, error or "") for pid, stage, kind, error in s.execute(stmt)]
