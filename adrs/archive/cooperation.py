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

from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from adrs.archive.base import ArchiveBase
from adrs.archive.records import ProgramRecord
from adrs.archive.schema import Program, ProgramChange, RunCounter
from adrs.archive.texts import as_records

_C, _J, _P = RunCounter.__table__, ProgramChange.__table__, Program.__table__
_CLAIM = (
    update(_C)
    .where(_C.c.run_id == bindparam("run"), or_(_C.c.budget_limit.is_(None), _C.c.claimed < _C.c.budget_limit))
    .values(claimed=_C.c.claimed + 1)
)
_BUDGET = select(_C.c.budget_limit, _C.c.claimed).where(_C.c.run_id == bindparam("run"))
_CHANGE_SEQ = select(_C.c.change_seq).where(_C.c.run_id == bindparam("run"))
_BUMP = (
    update(_C).where(_C.c.run_id == bindparam("run")).values(change_seq=_C.c.change_seq + 1).returning(_C.c.change_seq)
)
_INSERT_CHANGE = insert(_J)
_CHANGES = (
    select(_J.c.seq, _J.c.writer, _P)
    .join(_P, _P.c.id == _J.c.program_id)
    .where(_J.c.run_id == bindparam("run"), _J.c.seq > bindparam("cursor"))
    .order_by(_J.c.seq)
)


class CooperationMixin(ArchiveBase):
    """Budget claims, engine registration and the change journal of a run."""

    # the counter row ---------------------------------------------------------------------------
    def _ensure_counter(self, c: Connection, run_id: int) -> None:
        """Create the run's counter row if missing (runs stored before it existed, races of engines)."""
        if run_id in self._counters_ready:
            return
        dialect = c.dialect.name
        values: dict[str, Any] = {"run_id": run_id, "claimed": 0, "change_seq": 0, "engines": 0}
        if dialect == "postgresql":
            from sqlalchemy.dialects import postgresql  # loaded only where used: a faster `adrs status`

            c.execute(postgresql.insert(RunCounter).values(**values).on_conflict_do_nothing(index_elements=["run_id"]))
        elif dialect == "sqlite":
            from sqlalchemy.dialects import sqlite

            c.execute(sqlite.insert(RunCounter).values(**values).on_conflict_do_nothing(index_elements=["run_id"]))
        elif c.execute(_CHANGE_SEQ, {"run": run_id}).first() is None:
            try:
                with c.begin_nested():
                    c.execute(insert(RunCounter).values(**values))
            except IntegrityError:
                pass  # another engine created it first
        self._counters_ready.add(run_id)

    def open_budget(self, run_id: int, budget: int) -> None:
        """Allow `budget` more evaluations than claimed so far (a new run, or a resume)."""
        with self._write() as c:
            self._ensure_counter(c, run_id)
            c.execute(update(_C).where(_C.c.run_id == run_id).values(budget_limit=_C.c.claimed + budget))

    def claim_evaluation(self, run_id: int) -> bool:
        """Take one evaluation from the run's budget; False when every engine together has spent it."""
        with self._write() as c:
            self._ensure_counter(c, run_id)
            return c.execute(_CLAIM, {"run": run_id}).rowcount == 1

    def budget_left(self, run_id: int) -> int | None:
        """Evaluations the run may still claim (None: no limit was opened)."""
        with self._read() as c:
            row = c.execute(_BUDGET, {"run": run_id}).first()
        if row is None or row.budget_limit is None:
            return None
        return max(0, row.budget_limit - row.claimed)

    def register_engine(self, run_id: int) -> int:
        """Number an engine that joins a running run (1, 2, ...): it salts that engine's choices."""
        with self._write() as c:
            self._ensure_counter(c, run_id)
            c.execute(update(_C).where(_C.c.run_id == run_id).values(engines=_C.c.engines + 1))
            return int(c.scalar(select(_C.c.engines).where(_C.c.run_id == run_id)) or 0)

    # the change journal ----------------------------------------------------------------------
    def _journal(self, c: Connection, run_id: int, program_id: int) -> int:
        """Append a change in the caller's transaction and return its sequence number; call it last,
        the row lock is held to commit. Once that commits, the caller passes the number to `_own_change`."""
        self._ensure_counter(c, run_id)
        seq = c.execute(_BUMP, {"run": run_id}).scalar_one()  # RETURNING: SQLite >= 3.35 and PostgreSQL
        c.execute(_INSERT_CHANGE, {"run_id": run_id, "seq": seq, "program_id": program_id, "writer": self.writer})
        return seq

    def _own_change(self, run_id: int, seq: int | None) -> None:
        """Remember a committed journal entry of this process (None: none was written)."""
        if seq is not None:
            self._own_changes.setdefault(run_id, set()).add(seq)

    def change_cursor(self, run_id: int) -> int:
        """The journal's last sequence number: start following the run from here."""
        with self._read() as c:
            return int(c.execute(_CHANGE_SEQ, {"run": run_id}).scalar() or 0)

    def changes_since(self, run_id: int, cursor: int) -> tuple[list[ProgramRecord], int]:
        """Programs other engines evaluated or placed after `cursor`, and the new cursor.

        Returns ProgramRecords as they stand now, in journal order, one per program. When every
        change since `cursor` is this process's own (an engine alone on its run), only the counter
        row is read.
        """
        with self._read() as c:
            latest = int(c.execute(_CHANGE_SEQ, {"run": run_id}).scalar() or 0)
            own = self._own_changes.get(run_id, set())
            if latest <= cursor or all(seq in own for seq in range(cursor + 1, latest + 1)):
                own.difference_update([seq for seq in own if seq <= latest])
                return [], max(cursor, latest)
            rows = c.execute(_CHANGES, {"run": run_id, "cursor": cursor}).all()
            seen: set[int] = set()
            programs = []
            for row in rows:
                cursor = max(cursor, row.seq)
                if row.writer != self.writer and row.id not in seen:
                    seen.add(row.id)
                    programs.append(row)
            own.difference_update([seq for seq in own if seq <= cursor])
            return as_records(c, ProgramRecord, programs), cursor
