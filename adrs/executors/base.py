"""The executor interface: where the stage cascade of one program runs.

Owns: `Executor` (start once, evaluate many programs concurrently from the engine's event loop,
close) and `ExecutorError` (an executor that cannot start: the message says why and what to do).

Must not: touch the archive or choose what to evaluate; the engine does both.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from adrs.evaluate.result import Evaluation
from adrs.evaluate.runner import EvalSettings
from adrs.problem import Problem, Stage


class ExecutorError(RuntimeError):
    """An executor that cannot start or reach its workers; the message says what to do."""


class Executor(ABC):
    """Runs the stage cascade of programs. `evaluate` may be awaited many times at once."""

    name: str = "executor"

    def start(self, problem: Problem) -> None:  # noqa: B027 - optional hook, blocking (Ray start-up)
        """Prepare to evaluate programs of `problem` (called once, before the first evaluate)."""

    @abstractmethod
    async def evaluate(
        self,
        problem: Problem,
        code: str,
        settings: EvalSettings,
        stages: tuple[Stage, ...] | None = None,
        label: str = "",
    ) -> list[Evaluation]:
        """The cascade's evaluations of `code` (the evolution stages unless `stages` is given).

        Never raises for a failed evaluation: an evaluation that could not run (a worker or node
        lost for good) comes back as a failed Evaluation saying so. Cancelling it stops the work.
        """

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what start() took (a local Ray is shut down)."""
