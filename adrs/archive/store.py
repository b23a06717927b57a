"""The archive store: every run, proposal, evaluation, event and piece of state, behind one class.

Owns: `Archive`, the one gateway to the database (open it with `Archive.open(path or URL)`: a
path means SQLite in WAL mode; any SQLAlchemy URL works, e.g. `postgresql+psycopg://user@host/db`),
and in this module: creating runs, writing a proposal as `pending` before it is evaluated, and
writing all stages of one program's evaluation in a single transaction, so a crash loses at most
the evaluations in flight. Several engines may write one run (PostgreSQL): proposal indices are
unique per run (allocated as max + 1, retried on the constraint), and every evaluated program or
placed migrant is journaled for the others. The other parts of `Archive`: base.py (opening,
sessions), cooperation.py (budget claims, change journal), calls.py (LLM call rows), reads.py
(summaries for status and the report), integrity.py (what `adrs doctor` reads and repairs),
rescores.py (repeated evaluations and best claims), locks.py (one engine per run), steering.py
(what a person steering the run from `adrs serve --steer` asks).
Every method returns the plain records of records.py: no session or ORM object leaves
adrs/archive/, and no module outside it imports SQLAlchemy or the schema.

Must not: choose parents, compute elites or talk to mutators.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from adrs.archive.calls import LLMCallsMixin
from adrs.archive.cooperation import CooperationMixin
from adrs.archive.errors import ArchiveDamaged, ArchiveError, NotAnArchive, RunBusy
from adrs.archive.integrity import IntegrityMixin
from adrs.archive.locks import LocksMixin
from adrs.archive.reads import ReadsMixin
from adrs.archive.records import (
    ClaimDraft,
    NewProgram,
    ProgramRecord,
    ProgramStatus,
    RunRecord,
    RunStatus,
    as_record,
)
from adrs.archive.rescores import RescoresMixin, add_claim_row, add_repeat_rows
from adrs.archive.schema import EvaluationRow, Event, Program, Run, RunCounter, State
from adrs.archive.steering import SteeringMixin
from adrs.archive.texts import as_one_record, as_records
from adrs.evaluate.result import Evaluation
from adrs.noise import mean_metrics

# The records most callers need come with the class that returns them.
__all__ = [
    "Archive",
    "ArchiveDamaged",
    "ArchiveError",
    "DuplicateProgram",
    "NewProgram",
    "NotAnArchive",
    "ProgramRecord",
    "RunBusy",
    "RunRecord",
]


class DuplicateProgram(ArchiveError):
    """A proposal whose normalised code is already in the run (another engine stored it first)."""


_INDEX_RETRIES = 50  # engines racing for the next proposal index; each retry re-reads max + 1


def _migrant_row(original: ProgramRecord, island: int, proposal_index: int) -> Program:
    return Program(
        run_id=original.run_id,
        proposal_index=proposal_index,
        code=original.code,
        code_hash=original.code_hash,
        parent_id=original.id,
        inspiration_ids=[],
        island=island,
        generation=original.generation,
        mutator="migration",
        description=f"copy of #{original.id} from island {original.island}",
        diff="",
        status=original.status,
        migrated_from=original.id,
        score=original.score,
        complete=original.complete,
        stage_reached=original.stage_reached,
        error_kind=original.error_kind,
        metrics=original.metrics,
        features=original.features,
        evaluated_at=original.evaluated_at,
    )


class Archive(CooperationMixin, LLMCallsMixin, ReadsMixin, IntegrityMixin, RescoresMixin, LocksMixin, SteeringMixin):
    """One archive database; it may hold several runs, and several engines may write one run."""

    # runs -------------------------------------------------------------------------------------
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

    # programs ---------------------------------------------------------------------------------
    def add_program(
        self,
        run_id: int,
        new: NewProgram,
        *,
        status: ProgramStatus = ProgramStatus.PENDING,
        reject_duplicate: bool = False,
    ) -> ProgramRecord:
        """Store a program; if its proposal index was taken meanwhile (another engine), the next free one.

        reject_duplicate: raise DuplicateProgram when the run already holds this code hash (outside
        migrants); in PostgreSQL the check and the insert hold a lock on the hash, so two engines
        cannot both store the same child.
        """
        fields = dataclasses.asdict(new)
        fields.pop("proposal_index")

        def row(index: int) -> Program:
            return Program(run_id=run_id, status=ProgramStatus(status).value, proposal_index=index, **fields)

        return self._insert_program(run_id, new.proposal_index, row, new.code_hash if reject_duplicate else None)

    def add_migrant(self, original: ProgramRecord, island: int, proposal_index: int) -> ProgramRecord:
        """Copy an evaluated program (and its evaluations) onto another island; the original stays."""
        # The copy keeps the original's proposal index (islands.py), which the unique index allows.
        return self._insert_program(
            original.run_id, proposal_index, lambda index: _migrant_row(original, island, index), retry=False
        )

    def _insert_program(
        self,
        run_id: int,
        proposal_index: int,
        make_row: Callable[[int], Program],
        unique_hash: str | None = None,
        retry: bool = True,
    ) -> ProgramRecord:
        index = proposal_index
        for _ in range(_INDEX_RETRIES if retry else 1):
            try:
                with self._session() as s, s.begin():
                    if unique_hash is not None:
                        self._check_new_hash(s, run_id, unique_hash)
                    row = make_row(index)
                    s.add(row)
                    s.flush()
                    if row.status != ProgramStatus.PENDING:
                        self._journal(s, run_id, row.id)
                    return as_one_record(s, ProgramRecord, row)
            except IntegrityError:
                if not retry or not self._index_taken(run_id, index):
                    raise  # another constraint: not a race for the index
                index = max(index + 1, self.next_proposal_index(run_id))
        raise ArchiveError(f"run {run_id}: no free proposal index after {_INDEX_RETRIES} attempts")

    def _check_new_hash(self, s: Session, run_id: int, code_hash: str) -> None:
        if s.get_bind().dialect.name == "postgresql":
            # Held to commit: another engine storing the same hash waits, then sees this row.
            key = int(hashlib.sha256(code_hash.encode()).hexdigest()[:7], 16)  # fits PostgreSQL's int4
            s.execute(text("SELECT pg_advisory_xact_lock(:run, :key)"), {"run": run_id, "key": key})
        stmt = select(Program.id).where(
            Program.run_id == run_id, Program.code_hash == code_hash, Program.migrated_from.is_(None)
        )
        if s.scalars(stmt.limit(1)).first() is not None:
            raise DuplicateProgram(f"run {run_id} already holds a program with hash {code_hash}")

    def _index_taken(self, run_id: int, index: int) -> bool:
        with self._session() as s:
            stmt = select(Program.id).where(
                Program.run_id == run_id, Program.proposal_index == index, Program.migrated_from.is_(None)
            )
            return s.scalars(stmt.limit(1)).first() is not None

    def record_evaluations(
        self,
        program_id: int,
        evaluations: list[Evaluation],
        complete: bool,
        *,
        repeats: Sequence[Evaluation] = (),
        claim: ClaimDraft | None = None,
    ) -> ProgramRecord:
        """Store all stages of one program's evaluation and its final status, atomically.

        `repeats` are further evaluations of the last stage (a re-scored program): the score and
        metrics become the means over that stage's successful evaluations. `claim` declares the
        program the run's best, in the same transaction. Idempotent per (program, stage): a stage
        already stored is never written twice.
        """
        last = evaluations[-1]
        ok = all(e.ok for e in evaluations)
        scored = [last, *(r for r in repeats if r.ok)] if ok else []
        with self._session() as s, s.begin():
            row = s.get(Program, program_id)
            if row is None:
                raise ArchiveError(f"no program with id {program_id}")
            done = set(s.scalars(select(EvaluationRow.stage).where(EvaluationRow.program_id == program_id)))
            for e in evaluations:
                if e.stage in done:
                    continue
                s.add(
                    EvaluationRow(
                        program_id=program_id,
                        stage=e.stage,
                        ok=e.ok,
                        score=e.score,
                        metrics=e.metrics,
                        features=e.features,
                        instances=e.instances,
                        feedback=e.feedback,
                        error_kind=e.error_kind,
                        error=e.error,
                        duration_s=e.duration_s,
                    )
                )
            if repeats and last.stage not in done:
                add_repeat_rows(s, program_id, repeats)
            row.status = (ProgramStatus.EVALUATED if ok else ProgramStatus.FAILED).value
            row.score = sum(e.score for e in scored) / len(scored) if ok else None
            row.complete = ok and complete
            row.stage_reached = last.stage
            row.error_kind = None if ok else last.error_kind
            row.metrics = mean_metrics([e.metrics for e in scored]) if ok else {}
            row.features = {**row.metrics, **last.features} if ok else {}
            row.evaluated_at = datetime.now(UTC)
            if claim is not None:
                add_claim_row(s, row.run_id, program_id, claim)
            s.flush()
            self._journal(s, row.run_id, program_id)  # last: it holds the run's counter row to commit
            return as_one_record(s, ProgramRecord, row)

    def record_extra_evaluation(self, program_id: int, evaluation: Evaluation) -> None:
        """Store a stage outside the cascade (holdout) without changing the program's status."""
        with self._session() as s, s.begin():
            existing = s.scalars(
                select(EvaluationRow).where(
                    EvaluationRow.program_id == program_id, EvaluationRow.stage == evaluation.stage
                )
            ).first()
            if existing is not None:
                return
            s.add(EvaluationRow(program_id=program_id, **evaluation.to_dict()))

    def program(self, program_id: int) -> ProgramRecord:
        with self._session() as s:
            row = s.get(Program, program_id)
            if row is None:
                raise ArchiveError(f"{self.url}: no program with id {program_id}")
            return as_one_record(s, ProgramRecord, row)

    def programs(self, run_id: int, status: ProgramStatus | None = None) -> list[ProgramRecord]:
        with self._session() as s:
            stmt = select(Program).where(Program.run_id == run_id)
            if status is not None:
                stmt = stmt.where(Program.status == ProgramStatus(status).value)
            return as_records(s, ProgramRecord, s.scalars(stmt.order_by(Program.id)))

    def programs_since(self, run_id: int, after_id: int) -> list[ProgramRecord]:
        """Evaluated programs with id > after_id (incremental refresh of the in-memory index)."""
        with self._session() as s:
            stmt = (
                select(Program)
                .where(Program.run_id == run_id, Program.id > after_id)
                .where(Program.status != ProgramStatus.PENDING.value)
                .order_by(Program.id)
            )
            return as_records(s, ProgramRecord, s.scalars(stmt))

    def hash_exists(self, run_id: int, code_hash: str) -> bool:
        with self._session() as s:
            stmt = select(Program.id).where(Program.run_id == run_id, Program.code_hash == code_hash).limit(1)
            return s.scalars(stmt).first() is not None

    def known_hashes(self, run_id: int) -> set[str]:
        with self._session() as s:
            return set(s.scalars(select(Program.code_hash).where(Program.run_id == run_id)))

    def next_proposal_index(self, run_id: int) -> int:
        with self._session() as s:
            # Migrants carry their original's index, so leaving them out changes nothing, and lets
            # the partial unique index answer: one index probe, not a scan of the run's programs.
            stmt = select(func.max(Program.proposal_index)).where(
                Program.run_id == run_id, Program.migrated_from.is_(None)
            )
            value = s.scalar(stmt)
            return 0 if value is None else value + 1

    def evaluations(self, program_id: int) -> list[Evaluation]:
        with self._session() as s:
            rows = s.scalars(
                select(EvaluationRow).where(EvaluationRow.program_id == program_id).order_by(EvaluationRow.id)
            )
            return as_records(s, Evaluation, rows)

    # events and state -------------------------------------------------------------------
    def add_event(self, run_id: int, kind: str, payload: dict | None = None) -> None:
        with self._session() as s, s.begin():
            s.add(Event(run_id=run_id, kind=kind, payload=payload or {}))

    def events(self, run_id: int, kind: str | None = None) -> list[tuple[str, dict, datetime]]:
        with self._session() as s:
            stmt = select(Event).where(Event.run_id == run_id)
            if kind is not None:
                stmt = stmt.where(Event.kind == kind)
            return [(e.kind, e.payload, e.created_at) for e in s.scalars(stmt.order_by(Event.id))]

    def get_state(self, run_id: int, key: str) -> dict | None:
        with self._session() as s:
            row = s.get(State, (run_id, key))
            return None if row is None else dict(row.value)

    def put_state(self, run_id: int, key: str, value: dict) -> None:
        with self._session() as s, s.begin():
            row = s.get(State, (run_id, key))
            if row is None:
                s.add(State(run_id=run_id, key=key, value=value))
            else:
                row.value = value
