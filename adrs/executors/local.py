"""The local executor: each stage in a sandboxed worker process started from this engine's loop.

Owns: handing a program's code to the evaluation runner as a private temporary file. This is
what the engine did before executors existed; it remains the default.

Must not: know about the archive, Ray or other machines.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from adrs.evaluate.result import Evaluation
from adrs.evaluate.runner import EvalSettings, evaluate_cascade
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
        prefix = f"adrs-{re.sub(r'[^A-Za-z0-9]', '', label)}-" if label else "adrs-prog-"
        with tempfile.TemporaryDirectory(prefix=prefix) as folder:
            path = Path(folder) / "program.py"
            path.write_text(code)
            return await evaluate_cascade(problem, path, settings, stages)
