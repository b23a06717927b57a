"""The referee of a run: which evaluated programs are re-scored, and which one is the run's best.

Owns: applying the noise rule (adrs/noise.py) to one run. A problem that declares no noise is
left as it was: nothing is re-scored, the highest score is the best. For a problem that declares
noise (problem.toml's [score] noise), a complete program whose first score beats the best's mean
by more than the noise is a contender: its scoring stage is evaluated again until it has
`repeats` scores, and it becomes the best (a `ClaimDraft`, stored with its evaluations) only when
the mean of those beats the best's mean by more than the noise allows. `noise = "measure"` takes
the noise from the repeated scores of the first contender (the initial program in a fresh run)
and keeps it in that first claim. Also the holdout score of the final best, repeated the same way.

Must not: write to the archive beyond the repeated holdout rows it is asked to store, choose
parents, or decide when the run stops.
"""

from __future__ import annotations

from adrs.archive.records import BestClaim, ClaimDraft, ProgramRecord
from adrs.archive.store import Archive
from adrs.evaluate.result import Evaluation
from adrs.evaluate.runner import EvalSettings
from adrs.executors import Executor
from adrs.noise import Estimate, beats, estimate, sample_std, worth_rescoring
from adrs.problem import Problem


class Referee:
    """One run's verdicts. `champion` is the latest best claim (None before the first one)."""

    def __init__(self, problem: Problem, archive: Archive, run_id: int, executor: Executor, settings: EvalSettings):
        self.problem = problem
        self.archive = archive
        self.run_id = run_id
        self.executor = executor
        self.settings = settings
        self.noisy = problem.noise.noisy
        self.repeats = problem.noise.repeats
        self.champion: BestClaim | None = archive.best_claim(run_id) if self.noisy else None
        self.sigma: float | None = problem.noise.sigma
        if self.sigma is None:  # measured: the first claim of the run holds the measurement
            claims = archive.best_claims(run_id)
            self.sigma = claims[0].noise if claims else None
        self.rescores = 0  # evaluations spent re-scoring in this invocation

    # contenders -------------------------------------------------------------------------------
    def contender(self, evaluations: list[Evaluation], complete: bool) -> bool:
        """Whether a program just evaluated deserves to be re-scored (always False without noise)."""
        if not self.noisy or not complete or not evaluations or not evaluations[-1].ok:
            return False
        return worth_rescoring(evaluations[-1].score or 0.0, self._champion_estimate(), self.sigma)

    async def rescore(self, program: ProgramRecord, stage_name: str) -> list[Evaluation]:
        """Evaluate the program's scoring stage until it has `repeats` evaluations (one by one:
        the noise is measured as the problem will see it, not under the program's own load)."""
        stage = self.problem.stage(stage_name)
        repeats: list[Evaluation] = []
        for _ in range(self.repeats - 1):
            evaluation = (
                await self.executor.evaluate(self.problem, program.code, self.settings, (stage,), f"p{program.id}")
            )[0]
            repeats.append(evaluation)
            self.rescores += 1
            if not evaluation.ok:
                break  # a program that fails on a repeat is no best: stop spending on it
        return repeats

    def verdict(
        self, program: ProgramRecord, evaluations: list[Evaluation], repeats: list[Evaluation]
    ) -> ClaimDraft | None:
        """The best claim a re-scored program earned, or None."""
        if not repeats or any(not r.ok for r in repeats):
            return None
        scores = [e.score for e in (evaluations[-1], *repeats) if e.score is not None]
        sigma = self.sigma
        if sigma is None:  # the first contender measures the noise
            sigma = sample_std(scores) or 0.0
        challenger = estimate(scores, sigma)
        if not beats(challenger, self._champion_estimate(), sigma):
            return None
        previous = self.champion.program_id if self.champion else None
        return ClaimDraft(challenger.mean, challenger.uncertainty, challenger.evaluations, sigma, previous)

    def claimed(self) -> BestClaim | None:
        """Read back the claim just stored: it is the champion now."""
        self.champion = self.archive.best_claim(self.run_id)
        if self.sigma is None and self.champion is not None:
            self.sigma = self.champion.noise
        return self.champion

    def refresh(self) -> None:
        """Follow claims other engines on this run stored."""
        if self.noisy:
            self.claimed()

    # what is shown ------------------------------------------------------------------------------
    def uncertainty(self, program: ProgramRecord | None) -> tuple[float | None, int]:
        """(standard error, evaluations) of a program's score: the claim's for the best; one
        evaluation's noise for others; (0, 1) without noise; (None, 1) while the noise is unknown."""
        if program is None:
            return None, 0
        original = program.original_id
        if self.champion is not None and self.champion.program_id == original:
            return self.champion.uncertainty, self.champion.evaluations
        if not self.noisy:
            return 0.0, 1
        return self.sigma, 1

    # holdout ----------------------------------------------------------------------------------
    async def holdout(self, program: ProgramRecord) -> Estimate | None:
        """Score the program on the holdout stages (`repeats` times each when noisy); the last
        stage's estimate over every stored successful evaluation, or None when all failed."""
        result: Estimate | None = None
        for stage in self.problem.holdout_stages:
            runs = self.repeats if self.noisy else 1
            evaluations = [
                (await self.executor.evaluate(self.problem, program.code, self.settings, (stage,), f"p{program.id}"))[0]
                for _ in range(runs)
            ]
            self.archive.record_extra_evaluation(program.id, evaluations[0])
            if len(evaluations) > 1:
                self.archive.add_repeat_evaluations(program.id, evaluations[1:])
            self.rescores += len(evaluations) - 1
            scores = self.archive.stage_scores(program.id, stage.name)
            if scores:
                result = estimate(scores, self.sigma or 0.0)
        return result

    def _champion_estimate(self) -> Estimate | None:
        if self.champion is None:
            return None
        return Estimate(self.champion.score, self.champion.uncertainty, self.champion.evaluations)
