"""The executor interface: where the stage cascade of one program runs.

Owns: `Executor` (start once, evaluate many programs concurrently from the engine's event loop,
close), `ExecutorError` (an executor that cannot start: the message says why and what to do) and
`run_directory` (the folder of a run's own files, such as a local Ray's session files).

Must not: touch the archive or choose what to evaluate; the engine does both.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

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


def run_directory(archive_url: str, run_id: int) -> Path:
    """The folder for a run's own files: beside a SQLite archive, else under ./runs/.

    `archives/prism.sqlite` run 1 -> `archives/prism.sqlite-files/run1`; a server URL
    `postgresql+psycopg://u@host:5432/db` run 1 -> `runs/host-5432-db-run1`.
    """
    if archive_url.startswith("sqlite:///"):
        database = Path(archive_url.removeprefix("sqlite:///"))
        return database.parent / f"{database.name}-files" / f"run{run_id}"
    from sqlalchemy.engine import make_url

    url = make_url(archive_url)
    parts = [str(p) for p in (url.host, url.port, url.database) if p]
    name = "-".join(parts).replace("/", "_") or url.get_backend_name()
    return Path("runs") / f"{name}-run{run_id}"
