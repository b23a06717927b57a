"""What several engines attached to one run share, kept in the database.

Owns: the run's counter row (evaluations claimed against the budget, the change sequence, engines
that joined) and the change journal, behind methods of `Archive` (this is one of its parts). A
claim or a journal entry is one UPDATE of the counter row: atomic under PostgreSQL's row lock and
under SQLite's database write lock alike, so two engines never spend the same budget slot, and
journal sequence numbers follow commit order (an engine reading up to number n has seen every
change numbered below n).

Must not: decide what an engine does with a refused claim or a change; open connections of its own.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from adrs.archive.base import ArchiveBase
from adrs.archive.records import ProgramRecord
from adrs.archive.schema import Program, ProgramChange, RunCounter
from adrs.archive.texts import as_records


class CooperationMixin(ArchiveBase):
    """Budget claims, engine registration and the change journal of a run."""

    # the counter row ---------------------------------------------------------------------------
    def _ensure_counter(self, s: Session, run_id: int) -> None:
        """Create the run's counter row if missing (runs stored before it existed, races of engines)."""
        if run_id in self._counters_ready:
            return
        dialect = s.get_bind().dialect.name
        values: dict[str, Any] = {"run_id": run_id, "claimed": 0, "change_seq": 0, "engines": 0}
        if dialect == "postgresql":
            from sqlalchemy.dialects import postgresql  # loaded only where used: a faster `adrs status`

            s.execute(postgresql.insert(RunCounter).values(**values).on_conflict_do_nothing(index_elements=["run_id"]))
        elif dialect == "sqlite":
            from sqlalchemy.dialects import sqlite

            s.execute(sqlite.insert(RunCounter).values(**values).on_conflict_do_nothing(index_elements=["run_id"]))
        elif s.get(RunCounter, run_id) is None:
            try:
                with s.begin_nested():
                    s.execute(insert(RunCounter).values(**values))
            except IntegrityError:
                pass  # another engine created it first
        self._counters_ready.add(run_id)

    def open_budget(self, run_id: int, budget: int) -> None:
        """Allow `budget` more evaluations than claimed so far (a new run, or a resume)."""
        with self._session() as s, s.begin():
            self._ensure_counter(s, run_id)
            s.execute(
                update(RunCounter).where(RunCounter.run_id == run_id).values(budget_limit=RunCounter.claimed + budget)
            )

    def claim_evaluation(self, run_id: int) -> bool:
        """Take one evaluation from the run's budget; False when every engine together has spent it."""
        with self._session() as s, s.begin():
            self._ensure_counter(s, run_id)
            result = s.execute(
                update(RunCounter)
                .where(
                    RunCounter.run_id == run_id,
                    or_(RunCounter.budget_limit.is_(None), RunCounter.claimed < RunCounter.budget_limit),
                )
                .values(claimed=RunCounter.claimed + 1)
            )
            return result.rowcount == 1

    def budget_left(self, run_id: int) -> int | None:
        """Evaluations the run may still claim (None: no limit was opened)."""
        with self._session() as s:
            row = s.get(RunCounter, run_id)
            if row is None or row.budget_limit is None:
                return None
            return max(0, row.budget_limit - row.claimed)

    def register_engine(self, run_id: int) -> int:
        """Number an engine that joins a running run (1, 2, ...): it salts that engine's choices."""
        with self._session() as s, s.begin():
            self._ensure_counter(s, run_id)
            s.execute(update(RunCounter).where(RunCounter.run_id == run_id).values(engines=RunCounter.engines + 1))
            return int(s.scalar(select(RunCounter.engines).where(RunCounter.run_id == run_id)) or 0)

    # the change journal ----------------------------------------------------------------------
    def _journal(self, s: Session, run_id: int, program_id: int) -> None:
        """Append a change in the caller's transaction; call it last, the row lock is held to commit."""
        self._ensure_counter(s, run_id)
        bump = update(RunCounter).where(RunCounter.run_id == run_id).values(change_seq=RunCounter.change_seq + 1)
        seq = s.scalar(bump.returning(RunCounter.change_seq))  # RETURNING: SQLite >= 3.35 and PostgreSQL
        s.add(ProgramChange(run_id=run_id, seq=seq, program_id=program_id, writer=self.writer))

    def change_cursor(self, run_id: int) -> int:
        """The journal's last sequence number: start following the run from here."""
        with self._session() as s:
            return int(s.scalar(select(RunCounter.change_seq).where(RunCounter.run_id == run_id)) or 0)

    def changes_since(self, run_id: int, cursor: int) -> tuple[list[ProgramRecord], int]:
        """Programs other engines evaluated or placed after `cursor`, and the new cursor.

        Returns ProgramRecords as they stand now, in journal order, one per program.
        """
        with self._session() as s:
            rows = s.execute(
                select(ProgramChange.seq, ProgramChange.writer, Program)
                .join(Program, Program.id == ProgramChange.program_id)
                .where(ProgramChange.run_id == run_id, ProgramChange.seq > cursor)
                .order_by(ProgramChange.seq)
            ).all()
            seen: set[int] = set()
            programs = []
            for seq, writer, program in rows:
                cursor = max(cursor, seq)
                if writer != self.writer and program.id not in seen:
                    seen.add(program.id)
                    programs.append(program)
            return as_records(s, ProgramRecord, programs), cursor
