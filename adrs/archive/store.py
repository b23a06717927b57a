"""The archive store: every run, proposal, evaluation, event and piece of state, behind one class.

Owns: `Archive`, the one gateway to the database (open it with `Archive.open(path or URL)`: a
path means SQLite in WAL mode; any SQLAlchemy URL works, e.g. `postgresql+psycopg://user@host/db`),
and in this module: writing a proposal as `pending` before it is evaluated, placing a migrant
copy, and writing all stages of one program's evaluation in a single transaction, so a crash
loses at most the evaluations in flight. Several engines may write one run (PostgreSQL): proposal
indices are unique per run (allocated as max + 1, retried on the constraint), and every evaluated
program or placed migrant is journaled for the others. The other parts of `Archive`: base.py
(opening, sessions), runs.py (creating and reading runs), program_reads.py (programs and
evaluations read back), events.py (events and state), cooperation.py (budget claims, change
journal), calls.py (LLM call rows), reads.py (summaries for status and the report), integrity.py
(what `adrs doctor` reads and repairs), rescores.py (repeated evaluations and best claims),
locks.py (one engine per run), steering.py (what a person steering the run from
`adrs serve --steer` asks).
Every method returns the plain records of records.py: no session or ORM object leaves
adrs/archive/, and no module outside it imports SQLAlchemy or the schema.

Must not: choose parents, compute elites or talk to mutators.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from adrs.archive.calls import LLMCallsMixin
from adrs.archive.compact import SAME_AS_PROGRAM, same_values, stored_features
from adrs.archive.cooperation import CooperationMixin
from adrs.archive.errors import ArchiveDamaged, ArchiveError, NotAnArchive, RunBusy
from adrs.archive.events import EventsMixin
from adrs.archive.integrity import IntegrityMixin
from adrs.archive.locks import LocksMixin
from adrs.archive.packing import pack_values
from adrs.archive.program_reads import ProgramReadsMixin
from adrs.archive.reads import ReadsMixin
from adrs.archive.records import (
    ClaimDraft,
    NewProgram,
    ProgramRecord,
    ProgramStatus,
    RunRecord,
    unevaluated_fields,
)
from adrs.archive.rescores import RescoresMixin, add_claim_row, add_repeat_rows
from adrs.archive.runs import RunsMixin
from adrs.archive.schema import EvaluationRow, Program
from adrs.archive.steering import SteeringMixin
from adrs.archive.texts import as_one_record, store_texts
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

# The statements every proposal and evaluation runs, built once (SQLAlchemy then reuses their
# compiled form): Core, not the ORM, on this path.
_P, _E = Program.__table__, EvaluationRow.__table__
_NEXT_INDEX = select(func.max(_P.c.proposal_index)).where(_P.c.run_id == bindparam("run"), _P.c.migrated_from.is_(None))
_NEW_HASH = (
    select(_P.c.id)
    .where(_P.c.run_id == bindparam("run"), _P.c.code_hash == bindparam("hash"), _P.c.migrated_from.is_(None))
    .limit(1)
)
_INDEX_TAKEN = (
    select(_P.c.id)
    .where(_P.c.run_id == bindparam("run"), _P.c.proposal_index == bindparam("index"), _P.c.migrated_from.is_(None))
    .limit(1)
)
_STAGES = select(_E.c.stage).where(_E.c.program_id == bindparam("program"))
# A program's row once per stage stored for it (once, with stage None, when there is none).
_PROGRAM_AND_STAGES = (
    select(_P, _E.c.stage.label("stored_stage"))
    .outerjoin(_E, _E.c.program_id == _P.c.id)
    .where(_P.c.id == bindparam("id"))
)
_INSERT_PROGRAM = insert(_P)
_INSERT_EVALUATION = insert(_E)
_SET_EVALUATED = update(_P).where(_P.c.id == bindparam("program"))
_ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(:run, :key)")


def _now() -> datetime:
    return datetime.now(UTC)


def _program_values(run_id: int, index: int, status: str, fields: dict[str, Any]) -> dict[str, Any]:
    """A new programs row: `fields` as NewProgram names them, the rest as a pending program has them."""
    return {
        "run_id": run_id,
        "proposal_index": index,
        "parent_id": None,
        "inspiration_ids": [],
        "island": 0,
        "generation": 0,
        "description": "",
        "diff": "",
        "status": status,
        "migrated_from": None,
        **unevaluated_fields(),
        "created_at": _now(),
        **fields,
    }


def _migrant_fields(original: ProgramRecord, island: int) -> dict[str, Any]:
    return {
        "code": original.code,
        "code_hash": original.code_hash,
        "parent_id": original.id,
        "inspiration_ids": [],
        "island": island,
        "generation": original.generation,
        "mutator": "migration",
        "description": f"copy of #{original.id} from island {original.island}",
        "diff": "",
        "migrated_from": original.id,
        "score": original.score,
        "complete": original.complete,
        "stage_reached": original.stage_reached,
        "error_kind": original.error_kind,
        "metrics": original.metrics,
        "features": original.features,
        "evaluated_at": original.evaluated_at,
    }


def _evaluation_values(program_id: int, e: Evaluation) -> dict[str, Any]:
    """A new evaluations row (the Evaluation's own dictionaries: they are only read)."""
    return {
        "program_id": program_id,
        "stage": e.stage,
        "ok": e.ok,
        "score": e.score,
        "metrics": e.metrics,
        "features": e.features,
        "feedback": e.feedback,
        "instances": e.instances,
        "error_kind": e.error_kind,
        "error": e.error,
        "duration_s": e.duration_s,
        "created_at": _now(),
    }


class Archive(
    CooperationMixin,
    LLMCallsMixin,
    ReadsMixin,
    IntegrityMixin,
    RescoresMixin,
    LocksMixin,
    SteeringMixin,
    RunsMixin,
    ProgramReadsMixin,
    EventsMixin,
):
    """One archive database; it may hold several runs, and several engines may write one run."""

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
        status = ProgramStatus(status).value
        return self._insert_program(
            run_id,
            new.proposal_index,
            lambda index: _program_values(run_id, index, status, fields),
            new.code_hash if reject_duplicate else None,
        )

    def add_migrant(self, original: ProgramRecord, island: int, proposal_index: int) -> ProgramRecord:
        """Copy an evaluated program (and its evaluations) onto another island; the original stays."""
        # The copy keeps the original's proposal index (islands.py), which the unique index allows.
        fields = _migrant_fields(original, island)
        return self._insert_program(
            original.run_id,
            proposal_index,
            lambda index: _program_values(original.run_id, index, original.status, fields),
            retry=False,
        )

    def _insert_program(
        self,
        run_id: int,
        proposal_index: int,
        make_values: Callable[[int], dict[str, Any]],
        unique_hash: str | None = None,
        retry: bool = True,
    ) -> ProgramRecord:
        index = proposal_index
        for _ in range(_INDEX_RETRIES if retry else 1):
            seq = None
            try:
                with self._write() as c:
                    if unique_hash is not None:
                        self._check_new_hash(c, run_id, unique_hash)
                    values = make_values(index)
                    row = store_texts(c, Program, values)
                    row["features"] = stored_features(row["metrics"], row["features"])
                    program_id = c.execute(_INSERT_PROGRAM, pack_values(c, row)).inserted_primary_key[0]
                    if values["status"] != ProgramStatus.PENDING:
                        seq = self._journal(c, run_id, program_id)
            except IntegrityError:
                if not retry or not self._index_taken(run_id, index):
                    raise  # another constraint: not a race for the index
                index = max(index + 1, self._read_next_index(run_id))
                continue
            self._own_change(run_id, seq)
            if values["migrated_from"] is None and run_id in self._next_index:
                self._next_index[run_id] = max(self._next_index[run_id], index + 1)
            return ProgramRecord(id=program_id, **values)
        raise ArchiveError(f"run {run_id}: no free proposal index after {_INDEX_RETRIES} attempts")

    def _check_new_hash(self, c: Connection, run_id: int, code_hash: str) -> None:
        if c.dialect.name == "postgresql":
            # Held to commit: another engine storing the same hash waits, then sees this row.
            key = int(hashlib.sha256(code_hash.encode()).hexdigest()[:7], 16)  # fits PostgreSQL's int4
            c.execute(_ADVISORY_LOCK, {"run": run_id, "key": key})
        if c.execute(_NEW_HASH, {"run": run_id, "hash": code_hash}).first() is not None:
            raise DuplicateProgram(f"run {run_id} already holds a program with hash {code_hash}")

    def _index_taken(self, run_id: int, index: int) -> bool:
        with self._read() as c:
            return c.execute(_INDEX_TAKEN, {"run": run_id, "index": index}).first() is not None

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
        already stored is never written twice. The last stage's row stores no metrics of its own
        when they are the program's (scored once; compact.py).
        """
        last = evaluations[-1]
        ok = all(e.ok for e in evaluations)
        scored = [last, *(r for r in repeats if r.ok)] if ok else []
        metrics = mean_metrics([e.metrics for e in scored]) if ok else {}
        derived = {
            "status": (ProgramStatus.EVALUATED if ok else ProgramStatus.FAILED).value,
            "score": sum(e.score for e in scored) / len(scored) if ok else None,
            "complete": ok and complete,
            "stage_reached": last.stage,
            "error_kind": None if ok else last.error_kind,
            "metrics": metrics,
            "features": {**metrics, **last.features} if ok else {},
            "evaluated_at": _now(),
        }
        with self._write() as c:
            rows = c.execute(_PROGRAM_AND_STAGES, {"id": program_id}).all()
            if not rows:
                raise ArchiveError(f"no program with id {program_id}")
            row, done = rows[0], {r.stored_stage for r in rows}
            stored = {**derived, "features": stored_features(metrics, derived["features"])}
            for e in evaluations:
                if e.stage in done:
                    continue
                values = _evaluation_values(program_id, e)
                if e is last and ok and not repeats and same_values(e.metrics, metrics):
                    values["metrics"] = SAME_AS_PROGRAM  # the program's row holds them (compact.py)
                    if same_values(e.features, stored["features"]):
                        values["features"] = SAME_AS_PROGRAM
                values = store_texts(c, EvaluationRow, values, parent_id=row.parent_id)
                c.execute(_INSERT_EVALUATION, pack_values(c, values))
            if repeats and last.stage not in done:
                add_repeat_rows(c, program_id, repeats)
            c.execute(_SET_EVALUATED, {**pack_values(c, stored), "program": program_id})
            if claim is not None:
                add_claim_row(c, row.run_id, program_id, claim)
            seq = self._journal(c, row.run_id, program_id)  # last: it holds the run's counter row to commit
            record = as_one_record(c, ProgramRecord, row)
        self._own_change(row.run_id, seq)
        return dataclasses.replace(record, **derived)

    def record_extra_evaluation(self, program_id: int, evaluation: Evaluation) -> None:
        """Store a stage outside the cascade (holdout) without changing the program's status."""
        with self._write() as c:
            if evaluation.stage in set(c.execute(_STAGES, {"program": program_id}).scalars()):
                return
            values = store_texts(c, EvaluationRow, _evaluation_values(program_id, evaluation))
            c.execute(_INSERT_EVALUATION, pack_values(c, values))

    def next_proposal_index(self, run_id: int) -> int:
        """The index the run's next proposal gets: read once, then kept by this process's inserts
        (another engine's make it stale; the insert then finds the index taken and takes the next)."""
        known = self._next_index.get(run_id)
        return self._read_next_index(run_id) if known is None else known

    def _read_next_index(self, run_id: int) -> int:
        with self._read() as c:
            # Migrants carry their original's index, so leaving them out changes nothing, and lets
            # the partial unique index answer: one index probe, not a scan of the run's programs.
            value = c.execute(_NEXT_INDEX, {"run": run_id}).scalar()
        index = 0 if value is None else value + 1
        self._next_index[run_id] = max(index, self._next_index.get(run_id, 0))
        return self._next_index[run_id]
