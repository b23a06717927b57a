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

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from adrs.archive.base import ArchiveBase
from adrs.archive.records import BestClaim, ClaimDraft, StoredEvaluation, as_record
from adrs.archive.schema import BestClaim as BestClaimRow
from adrs.archive.schema import EvaluationRow, Program, RepeatEvaluation
from adrs.archive.texts import as_records
from adrs.evaluate.result import Evaluation


def add_repeat_rows(s: Session, program_id: int, evaluations: Sequence[Evaluation]) -> None:
    """Store evaluations of a stage after the ones already stored for it (repeat 1, 2, ...)."""
    for evaluation in evaluations:
        last = s.scalar(
            select(func.max(RepeatEvaluation.repeat)).where(
                RepeatEvaluation.program_id == program_id, RepeatEvaluation.stage == evaluation.stage
            )
        )
        s.add(RepeatEvaluation(program_id=program_id, repeat=(last or 0) + 1, **evaluation.to_dict()))
        s.flush()


def add_claim_row(s: Session, run_id: int, program_id: int, draft: ClaimDraft) -> None:
    s.add(
        BestClaimRow(
            run_id=run_id,
            program_id=program_id,
            score=draft.score,
            uncertainty=draft.uncertainty,
            evaluations=draft.evaluations,
            noise=draft.noise,
            previous_id=draft.previous_id,
        )
    )


class RescoresMixin(ArchiveBase):
    """Repeated evaluations and the run's best claims."""

    def add_repeat_evaluations(self, program_id: int, evaluations: Sequence[Evaluation]) -> None:
        """Store more evaluations of stages a program already has (its status does not change)."""
        with self._session() as s, s.begin():
            add_repeat_rows(s, program_id, evaluations)

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
            return [as_record(StoredEvaluation, row) for row in s.scalars(stmt)]

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
