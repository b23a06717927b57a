"""Repeated evaluations and best claims: what noise-aware selection stores, behind methods of `Archive`.

Owns: the `repeat_evaluations` rows (a stage of a program evaluated again: re-scoring a noisy
would-be best, or the holdout of a noisy best) and the `best_claims` rows (each program the engine
declared the run's best, with the mean, uncertainty and evaluation count it was judged on), and
the score estimate of a stored program: the mean of its scoring stage's successful evaluations,
both tables together. This is one of the parts of `Archive`; store.py writes repeats and a claim
in the same transaction as the program's first evaluations.

Must not: decide anything (adrs/noise.py holds the rule, adrs/referee.py applies it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import Connection

from adrs.archive.base import ArchiveBase
from adrs.archive.compact import SAME_AS_PROGRAM
from adrs.archive.packing import pack_values
from adrs.archive.records import BestClaim, ClaimDraft, StoredEvaluation, as_record
from adrs.archive.schema import BestClaim as BestClaimRow
from adrs.archive.schema import EvaluationRow, Program, RepeatEvaluation
from adrs.archive.texts import as_records, store_texts
from adrs.evaluate.result import Evaluation

_R, _E, _P = RepeatEvaluation.__table__, EvaluationRow.__table__, Program.__table__
_LAST_REPEAT = select(func.max(_R.c.repeat)).where(
    _R.c.program_id == bindparam("program"), _R.c.stage == bindparam("stage")
)
_INSERT_REPEAT = insert(_R)
_INSERT_CLAIM = insert(BestClaimRow.__table__)


def add_repeat_rows(c: Connection, program_id: int, evaluations: Sequence[Evaluation]) -> None:
    """Store evaluations of a stage after the ones already stored for it (repeat 1, 2, ...)."""
    for evaluation in evaluations:
        own_values(c, program_id, evaluation.stage)
        last = c.execute(_LAST_REPEAT, {"program": program_id, "stage": evaluation.stage}).scalar()
        values = {"program_id": program_id, "repeat": (last or 0) + 1, **evaluation.to_dict(), "created_at": _now()}
        c.execute(_INSERT_REPEAT, pack_values(c, store_texts(c, RepeatEvaluation, values)))


def own_values(c: Connection, program_id: int, stage: str | None = None) -> None:
    """Give the program's evaluation rows (of `stage`, or all) that borrow their metrics or features
    from the program's row (compact.py) a copy of them, before anything may change the program's:
    a repeat of that stage makes its metrics a mean, a repair overwrites them."""
    where = [_E.c.program_id == program_id]
    if stage is not None:
        where.append(_E.c.stage == stage)
    rows = c.execute(select(_E.c.id, _E.c.metrics, _E.c.features).where(*where)).all()
    if not any(row.metrics is SAME_AS_PROGRAM or row.features is SAME_AS_PROGRAM for row in rows):
        return
    program = c.execute(select(_P.c.metrics, _P.c.features).where(_P.c.id == program_id)).first()
    for row in rows:
        copied = {
            name: (getattr(program, name) if program is not None else None) or {}
            for name in ("metrics", "features")
            if getattr(row, name) is SAME_AS_PROGRAM
        }
        if copied:  # stored as the program's row stores them (packed or not): the same names rows
            c.execute(update(_E).where(_E.c.id == row.id).values(**copied))


def add_claim_row(c: Connection, run_id: int, program_id: int, draft: ClaimDraft) -> None:
    c.execute(
        _INSERT_CLAIM,
        {
            "run_id": run_id,
            "program_id": program_id,
            "score": draft.score,
            "uncertainty": draft.uncertainty,
            "evaluations": draft.evaluations,
            "noise": draft.noise,
            "previous_id": draft.previous_id,
            "created_at": _now(),
        },
    )


def _now() -> datetime:
    return datetime.now(UTC)


class RescoresMixin(ArchiveBase):
    """Repeated evaluations and the run's best claims."""

    def add_repeat_evaluations(self, program_id: int, evaluations: Sequence[Evaluation]) -> None:
        """Store more evaluations of stages a program already has (its status does not change)."""
        with self._write() as c:
            add_repeat_rows(c, program_id, evaluations)

    def repeat_evaluations(self, program_id: int) -> list[Evaluation]:
        """A program's repeated evaluations, stage by stage in the order they were stored."""
        if "repeat_evaluations" in self.absent_tables:
            return []
        with self._session() as s:
            rows = s.scalars(
                select(RepeatEvaluation).where(RepeatEvaluation.program_id == program_id).order_by(RepeatEvaluation.id)
            )
            return as_records(s, Evaluation, rows)

    def stage_scores(self, program_id: int, stage: str) -> list[float]:
        """Every successful score of one stage of a program: its evaluation, then its repeats."""
        with self._session() as s:
            first = s.scalars(
                select(EvaluationRow.score).where(
                    EvaluationRow.program_id == program_id, EvaluationRow.stage == stage, EvaluationRow.ok.is_(True)
                )
            ).first()
            if "repeat_evaluations" in self.absent_tables:
                return [] if first is None else [first]
            repeats = s.scalars(
                select(RepeatEvaluation.score)
                .where(
                    RepeatEvaluation.program_id == program_id,
                    RepeatEvaluation.stage == stage,
                    RepeatEvaluation.ok.is_(True),
                )
                .order_by(RepeatEvaluation.repeat)
            )
            return [v for v in [first, *repeats] if v is not None]

    def stored_repeats(self, run_id: int) -> list[StoredEvaluation]:
        """Every repeated evaluation of the run's programs, in the order they were stored."""
        if "repeat_evaluations" in self.absent_tables:
            return []
        stmt = (
            select(RepeatEvaluation)
            .join(Program, Program.id == RepeatEvaluation.program_id)
            .where(Program.run_id == run_id)
            .order_by(RepeatEvaluation.id)
        )
        with self._session() as s:
            return as_records(s, StoredEvaluation, s.scalars(stmt))

    def best_claim(self, run_id: int) -> BestClaim | None:
        """The run's latest best claim (its best, for a problem that declares noise), or None."""
        if "best_claims" in self.absent_tables:
            return None
        with self._session() as s:
            row = s.scalars(
                select(BestClaimRow).where(BestClaimRow.run_id == run_id).order_by(BestClaimRow.id.desc())
            ).first()
            return None if row is None else as_record(BestClaim, row)

    def best_claims(self, run_id: int) -> list[BestClaim]:
        """Every best claim of the run, oldest first: how the best moved and how sure each step was."""
        if "best_claims" in self.absent_tables:
            return []
        with self._session() as s:
            rows = s.scalars(select(BestClaimRow).where(BestClaimRow.run_id == run_id).order_by(BestClaimRow.id))
            return [as_record(BestClaim, r) for r in rows]
