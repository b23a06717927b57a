"""A run's programs and a program's evaluations, read back as records.

Owns, behind methods of `Archive` (this is one of its parts): one program by id, a run's programs
(all, or of one status), the evaluated programs stored since an id (how an engine refreshes its
in-memory index), whether a run holds a code hash and every hash it holds, and a program's
evaluation rows in the order they were stored (a row that stores no metrics of its own reads its
program's: compact.py).

Must not: write anything; storing programs and evaluations is store.py's.
"""

from __future__ import annotations

from sqlalchemy import bindparam, select

from adrs.archive.base import ArchiveBase
from adrs.archive.errors import ArchiveError
from adrs.archive.records import ProgramRecord, ProgramStatus
from adrs.archive.schema import EvaluationRow, Program
from adrs.archive.texts import as_one_record, as_records, evaluation_rows
from adrs.evaluate.result import Evaluation

# The statements engines run for every proposal, built once (SQLAlchemy then reuses their compiled
# form): Core, not the ORM, on this path.
_P, _E = Program.__table__, EvaluationRow.__table__
_PROGRAM = select(_P).where(_P.c.id == bindparam("id"))
_HASH = select(_P.c.id).where(_P.c.run_id == bindparam("run"), _P.c.code_hash == bindparam("hash")).limit(1)
# An evaluation row with its program's metrics, which a row that stores none reads as its own (compact.py).
_EVALUATIONS = evaluation_rows().where(_E.c.program_id == bindparam("program")).order_by(_E.c.id)


class ProgramReadsMixin(ArchiveBase):
    """Programs and evaluations, one at a time or a run's at once."""

    def program(self, program_id: int) -> ProgramRecord:
        with self._read() as c:
            row = c.execute(_PROGRAM, {"id": program_id}).first()
            if row is None:
                raise ArchiveError(f"{self.url}: no program with id {program_id}")
            return as_one_record(c, ProgramRecord, row)

    def programs(self, run_id: int, status: ProgramStatus | None = None) -> list[ProgramRecord]:
        stmt = select(_P).where(_P.c.run_id == run_id)
        if status is not None:
            stmt = stmt.where(_P.c.status == ProgramStatus(status).value)
        with self._read() as c:
            return as_records(c, ProgramRecord, c.execute(stmt.order_by(_P.c.id)))

    def programs_since(self, run_id: int, after_id: int) -> list[ProgramRecord]:
        """Evaluated programs with id > after_id (incremental refresh of the in-memory index)."""
        stmt = (
            select(_P)
            .where(_P.c.run_id == run_id, _P.c.id > after_id)
            .where(_P.c.status != ProgramStatus.PENDING.value)
            .order_by(_P.c.id)
        )
        with self._read() as c:
            return as_records(c, ProgramRecord, c.execute(stmt))

    def hash_exists(self, run_id: int, code_hash: str) -> bool:
        with self._read() as c:
            return c.execute(_HASH, {"run": run_id, "hash": code_hash}).first() is not None

    def known_hashes(self, run_id: int) -> set[str]:
        with self._read() as c:
            return set(c.execute(select(_P.c.code_hash).where(_P.c.run_id == run_id)).scalars())

    def evaluations(self, program_id: int) -> list[Evaluation]:
        with self._read() as c:
            return as_records(c, Evaluation, c.execute(_EVALUATIONS, {"program": program_id}))
