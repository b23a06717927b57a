"""Read-only summaries of a run for `adrs status`, the report and the benchmarks.

Owns: the archive's runs, counts of programs per status and of failures per kind (migrant copies
excluded), the programs whose evaluation has landed in the order it landed, every program of a
run as a short line without its code (what `adrs serve` polls), every stored evaluation row of a
run in the order they were written, the failed stage of each failed program with its message, and
the state values whose key starts with a prefix (what engines publish for live views), behind
methods of `Archive` (this is one of its parts).

Must not: write anything.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable

from sqlalchemy import func, or_, select

from adrs.archive.base import ArchiveBase
from adrs.archive.records import (
    FailedStage,
    ProgramLine,
    ProgramRecord,
    ProgramStatus,
    RunRecord,
    StoredEvaluation,
    as_record,
)
from adrs.archive.schema import EvaluationRow, Program, Run, State
from adrs.archive.texts import as_one_record, as_records, evaluation_rows, texts_of


class ReadsMixin(ArchiveBase):
    """Summaries that read many rows at once."""

    def all_runs(self) -> list[RunRecord]:
        """Every run of the archive, oldest first."""
        with self._session() as s:
            return [as_record(RunRecord, row) for row in s.scalars(select(Run).order_by(Run.id))]

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
            return as_records(s, ProgramRecord, s.scalars(stmt))

    def program_lines(self, run_id: int, after_id: int = 0, also: Iterable[int] = ()) -> list[ProgramLine]:
        """The run's programs with an id above `after_id`, or in `also` (migrant copies excluded,
        pending ones included), without their code, by id.

        Reads only the short columns; a live view re-reads only new programs and those it last saw
        pending, so its poll stays cheap on a run of many thousand programs."""
        columns = [getattr(Program, f.name) for f in dataclasses.fields(ProgramLine)]
        wanted = Program.id > after_id
        again = sorted(set(also))
        if again:
            wanted = or_(wanted, Program.id.in_(again))
        stmt = select(*columns).where(Program.run_id == run_id, Program.migrated_from.is_(None), wanted)
        with self._session() as s:
            return [ProgramLine(*row) for row in s.execute(stmt.order_by(Program.id))]

    def initial_program(self, run_id: int) -> ProgramRecord | None:
        """The run's initial program (the first one stored by its first engine)."""
        stmt = select(Program).where(Program.run_id == run_id, Program.mutator == "initial").order_by(Program.id)
        with self._session() as s:
            row = s.scalars(stmt.limit(1)).first()
            return None if row is None else as_one_record(s, ProgramRecord, row)

    def stored_evaluations(self, run_id: int) -> list[StoredEvaluation]:
        """Every evaluation row of the run's programs (holdout included), in the order they were stored."""
        stmt = evaluation_rows().where(Program.__table__.c.run_id == run_id)
        with self._read() as c:
            return as_records(c, StoredEvaluation, c.execute(stmt.order_by(EvaluationRow.__table__.c.id)))

    def failed_stages(self, run_id: int, program_ids: Iterable[int] | None = None) -> list[FailedStage]:
        """The failed stage of every failed program of the run (migrant copies excluded), by program id;
        only of `program_ids` where given (a live view reads only the programs that failed since)."""
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
        if program_ids is not None:
            stmt = stmt.where(Program.id.in_(sorted(set(program_ids))))
        with self._session() as s:
            rows = s.execute(stmt).all()
            texts = texts_of(s, (error for *_, error in rows))
            return [FailedStage(pid, stage, kind, texts.get(error, error or "")) for pid, stage, kind, error in rows]

    def states_with_prefix(self, run_id: int, prefix: str) -> dict[str, dict]:
        """The run's state values whose key starts with `prefix` (e.g. each engine's LLM activity), by key."""
        stmt = select(State).where(State.run_id == run_id, State.key.startswith(prefix, autoescape=True))
        with self._session() as s:
            return {row.key: dict(row.value) for row in s.scalars(stmt.order_by(State.key))}
