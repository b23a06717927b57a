"""A run's row: creating it, reading it back, its status and its configuration.

Owns, behind methods of `Archive` (this is one of its parts): creating a run (its problem, the
problem's fingerprint, the seed and the configuration) together with its counter row, which
cooperation.py's budget claims and change journal use; one run by id, or the latest; setting a
run's status; replacing its stored configuration (a resumed run's new settings). Every run of an
archive at once is reads.py's.

Must not: decide when a run starts, stops or resumes (api/runs.py does); it reads and writes rows.
"""

from __future__ import annotations

from sqlalchemy import select, update

from adrs.archive.base import ArchiveBase
from adrs.archive.errors import ArchiveError
from adrs.archive.records import RunRecord, RunStatus, as_record
from adrs.archive.schema import Run, RunCounter


class RunsMixin(ArchiveBase):
    """The runs table, through the ORM (no evaluation's path reads it)."""

    def create_run(self, problem_name: str, problem_root: str, fingerprint: str, seed: int, config: dict) -> RunRecord:
        with self._session() as s, s.begin():
            run = Run(
                problem_name=problem_name,
                problem_root=problem_root,
                problem_fingerprint=fingerprint,
                seed=seed,
                config=config,
            )
            s.add(run)
            s.flush()
            s.add(RunCounter(run_id=run.id, claimed=0, change_seq=0, engines=0))
            self._counters_ready.add(run.id)
            self._next_index[run.id] = 0
            return as_record(RunRecord, run)

    def run(self, run_id: int | None = None) -> RunRecord:
        with self._session() as s:
            stmt = select(Run).order_by(Run.id.desc()) if run_id is None else select(Run).where(Run.id == run_id)
            row = s.scalars(stmt).first()
            if row is None:
                raise ArchiveError(f"{self.url}: no run" + ("" if run_id is None else f" with id {run_id}"))
            return as_record(RunRecord, row)

    def set_run_status(self, run_id: int, status: RunStatus) -> None:
        with self._session() as s, s.begin():
            s.execute(update(Run).where(Run.id == run_id).values(status=RunStatus(status).value))

    def update_run_config(self, run_id: int, config: dict) -> None:
        with self._session() as s, s.begin():
            s.execute(update(Run).where(Run.id == run_id).values(config=config))
