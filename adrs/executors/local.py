"""The local executor: each stage in a sandboxed worker process started from this engine's loop.

Owns: nothing beyond the interface: the evaluation runner writes the program's code to a private
temporary file and runs the cascade. This is what the engine did before executors existed; it
remains the default.

Must not: know about the archive, Ray or other machines.
"""

from __future__ import annotations

from adrs.evaluate.result import Evaluation
from adrs.evaluate.runner import EvalSettings, evaluate_code
from adrs.executors.base import Executor
from adrs.problem import Problem, Stage


class LocalExecutor(Executor):
    name = "local"

    async def evaluate(
        self,
        problem: Problem,
        code: str,
        settings: EvalSettings,
        stages: tuple[Stage, ...] | None = None,
        label: str = "",
    ) -> list[Evaluation]:
        return await evaluate_code(problem, code, settings, stages, label)
