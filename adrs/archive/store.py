"""The archive store: every proposal, evaluation and event of a run, behind a SQLAlchemy URL.

Owns: opening an archive (a path means SQLite in WAL mode; any SQLAlchemy URL works, e.g.
`postgresql+psycopg://user@host/db`), creating runs, writing a proposal as `pending` before it is
evaluated, and writing all stages of one program's evaluation in a single transaction, so a crash
loses at most the evaluations in flight. Several engines may write one run (PostgreSQL): proposal
indices are unique per run (allocated as max + 1, retried on the constraint), and every evaluated
program or placed migrant is journaled for the others (archive/cooperation.py).
Returns plain dataclass records; no session or ORM object leaves this module.

Must not: choose parents, compute elites or talk to mutators.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from adrs.archive.connect import ArchiveError, archive_url, open_engine
from adrs.archive.cooperation import CooperationMixin
from adrs.archive.schema import EvaluationRow, Event, LLMCall, Program, Run, RunCounter, State
from adrs.evaluate.result import Evaluation


class DuplicateProgram(ArchiveError):
    """A proposal whose normalised code is already in the run (another engine stored it first)."""


_INDEX_RETRIES = 50  # engines racing for the next proposal index; each retry re-reads max + 1


@dataclass(frozen=True)
class RunRecord:
    id: int
    problem_name: str
    problem_root: str
    problem_fingerprint: str
    seed: int
    config: dict[str, Any]
    status: str
    created_at: datetime


@dataclass(frozen=True)
class ProgramRecord:
    id: int
    run_id: int
    proposal_index: int
    code: str
    code_hash: str
    parent_id: int | None
    inspiration_ids: list[int]
    island: int
    generation: int
    mutator: str
    description: str
    diff: str
    status: str
    migrated_from: int | None
    score: float | None
    complete: bool
    stage_reached: str | None
    error_kind: str | None
    metrics: dict[str, float]
    features: dict[str, float]
    created_at: datetime
    evaluated_at: datetime | None

    @property
    def evaluated(self) -> bool:
        return self.status in ("evaluated", "failed")


@dataclass(frozen=True)
class NewProgram:
    """A proposal about to be stored."""

    code: str
    code_hash: str
    proposal_index: int
    mutator: str
    parent_id: int | None = None
    inspiration_ids: list[int] = field(default_factory=list)
    island: int = 0
    generation: int = 0
    description: str = ""
    diff: str = ""


def _record(cls: type, row: Any) -> Any:
    return cls(**{f.name: getattr(row, f.name) for f in dataclasses.fields(cls)})


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


class Archive(CooperationMixin):
    """One archive database; it may hold several runs, and several engines may write one run."""

    def __init__(self, engine: Engine, url: str):
        self.engine = engine
        self.url = url
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.writer = secrets.token_hex(8)  # this process's mark in the change journal
        self._counters_ready: set[int] = set()

    @classmethod
    def open(cls, location: str | Path, *, create: bool = True) -> Archive:
        url = archive_url(location)
        return cls(open_engine(url, create=create), url)

    def close(self) -> None:
        self.engine.dispose()

    def _session(self) -> Session:
        return self._sessions()

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
            return _record(RunRecord, run)

    def run(self, run_id: int | None = None) -> RunRecord:
        with self._session() as s:
            stmt = select(Run).order_by(Run.id.desc()) if run_id is None else select(Run).where(Run.id == run_id)
            row = s.scalars(stmt).first()
            if row is None:
                raise ArchiveError(f"{self.url}: no run" + ("" if run_id is None else f" with id {run_id}"))
            return _record(RunRecord, row)

    def set_run_status(self, run_id: int, status: str) -> None:
        with self._session() as s, s.begin():
            s.execute(update(Run).where(Run.id == run_id).values(status=status))

    def update_run_config(self, run_id: int, config: dict) -> None:
        with self._session() as s, s.begin():
            s.execute(update(Run).where(Run.id == run_id).values(config=config))

    # programs ---------------------------------------------------------------------------------
    def add_program(
        self, run_id: int, new: NewProgram, *, status: str = "pending", reject_duplicate: bool = False
    ) -> ProgramRecord:
        """Store a program; if its proposal index was taken meanwhile (another engine), the next free one.

        reject_duplicate: raise DuplicateProgram when the run already holds this code hash (outside
        migrants); in PostgreSQL the check and the insert hold a lock on the hash, so two engines
        cannot both store the same child.
        """
        fields = dataclasses.asdict(new)
        fields.pop("proposal_index")

        def row(index: int) -> Program:
            return Program(run_id=run_id, status=status, proposal_index=index, **fields)

        return self._insert_program(run_id, new.proposal_index, row, new.code_hash if reject_duplicate else None)

    def add_migrant(self, original: ProgramRecord, island: int, proposal_index: int) -> ProgramRecord:
        """Copy an evaluated program (and its evaluations) onto another island; the original stays."""
        # The copy keeps the original's proposal index (islands.py), which the unique index allows.
        return self._insert_program(original.run_id, proposal_index, lambda index: _migrant_row(original, island, index), retry=False)

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
                    if row.status != "pending":
                        self._journal(s, run_id, row.id)
                    return _record(ProgramRecord, row)
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

    def record_evaluations(self, program_id: int, evaluations: list[Evaluation], complete: bool) -> ProgramRecord:
        """Store all stages of one program's evaluation and its final status, atomically.

        Idempotent per (program, stage): a stage already stored is never written twice.
        """
        last = evaluations[-1]
        ok = all(e.ok for e in evaluations)
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
            row.status = "evaluated" if ok else "failed"
            row.score = last.score if ok else None
            row.complete = ok and complete
            row.stage_reached = last.stage
            row.error_kind = None if ok else last.error_kind
            row.metrics = last.metrics if ok else {}
            row.features = {**last.metrics, **last.features} if ok else {}
            row.evaluated_at = datetime.now(UTC)
            s.flush()
            self._journal(s, row.run_id, program_id)  # last: it holds the run's counter row to commit
            return _record(ProgramRecord, row)

    def record_extra_evaluation(self, program_id: int, evaluation: Evaluation) -> None:
        """Store a stage outside the cascade (holdout) without changing the program's status."""
        with self._session() as s, s.begin():
            existing = s.scalars(
                select(EvaluationRow).where(EvaluationRow.program_id == program_id, EvaluationRow.stage == evaluation.stage)
            ).first()
            if existing is not None:
                return
            s.add(EvaluationRow(program_id=program_id, **evaluation.to_dict()))

    def program(self, program_id: int) -> ProgramRecord:
        with self._session() as s:
            row = s.get(Program, program_id)
            if row is None:
                raise ArchiveError(f"{self.url}: no program with id {program_id}")
            return _record(ProgramRecord, row)

    def programs(self, run_id: int, status: str | None = None) -> list[ProgramRecord]:
        with self._session() as s:
            stmt = select(Program).where(Program.run_id == run_id)
            if status is not None:
                stmt = stmt.where(Program.status == status)
            return [_record(ProgramRecord, r) for r in s.scalars(stmt.order_by(Program.id))]

    def programs_since(self, run_id: int, after_id: int) -> list[ProgramRecord]:
        """Evaluated programs with id > after_id (incremental refresh of the in-memory index)."""
        with self._session() as s:
            stmt = (
                select(Program)
                .where(Program.run_id == run_id, Program.id > after_id, Program.status != "pending")
                .order_by(Program.id)
            )
            return [_record(ProgramRecord, r) for r in s.scalars(stmt)]

    def hash_exists(self, run_id: int, code_hash: str) -> bool:
        with self._session() as s:
            stmt = select(Program.id).where(Program.run_id == run_id, Program.code_hash == code_hash).limit(1)
            return s.scalars(stmt).first() is not None

    def known_hashes(self, run_id: int) -> set[str]:
        with self._session() as s:
            return set(s.scalars(select(Program.code_hash).where(Program.run_id == run_id)))

    def next_proposal_index(self, run_id: int) -> int:
        with self._session() as s:
            value = s.scalar(select(func.max(Program.proposal_index)).where(Program.run_id == run_id))
            return 0 if value is None else value + 1

    def evaluations(self, program_id: int) -> list[Evaluation]:
        with self._session() as s:
            rows = s.scalars(select(EvaluationRow).where(EvaluationRow.program_id == program_id).order_by(EvaluationRow.id))
            return [_record(Evaluation, r) for r in rows]

    def status_counts(self, run_id: int) -> Counter[str]:
        with self._session() as s:
            rows = s.execute(
                select(Program.status, func.count()).where(Program.run_id == run_id, Program.migrated_from.is_(None)).group_by(Program.status)
            )
            return Counter({status: n for status, n in rows})

    def failure_counts(self, run_id: int) -> Counter[str]:
        with self._session() as s:
            rows = s.execute(
                select(Program.error_kind, func.count())
                .where(Program.run_id == run_id, Program.status == "failed", Program.migrated_from.is_(None))
                .group_by(Program.error_kind)
            )
            return Counter({kind or "unknown": n for kind, n in rows})

    # events, LLM calls and state -------------------------------------------------------------------
    def add_event(self, run_id: int, kind: str, payload: dict | None = None) -> None:
        with self._session() as s, s.begin():
            s.add(Event(run_id=run_id, kind=kind, payload=payload or {}))

    def events(self, run_id: int, kind: str | None = None) -> list[tuple[str, dict, datetime]]:
        with self._session() as s:
            stmt = select(Event).where(Event.run_id == run_id)
            if kind is not None:
                stmt = stmt.where(Event.kind == kind)
            return [(e.kind, e.payload, e.created_at) for e in s.scalars(stmt.order_by(Event.id))]

    def add_llm_call(self, run_id: int, **fields: Any) -> int:
        with self._session() as s, s.begin():
            row = LLMCall(run_id=run_id, **fields)
            s.add(row)
            s.flush()
            return row.id

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
