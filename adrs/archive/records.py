"""The plain records the archive hands out, and the statuses it stores.

Owns: the frozen dataclasses every archive method returns (runs, programs, stored evaluation
rows, best claims, LLM calls, LLM usage per model and in total, a run's steering and its log, with
`steering_state`, the record of a stored steering row, which both read paths use), what is about
to be stored (`NewProgram`, `ClaimDraft`), the program and run statuses as
`StrEnum`s (their members equal the strings stored in the database, so records read back hold
plain strings that compare equal to them), and `as_record`, the one copy from an ORM row into a
record.

Must not: import SQLAlchemy or the schema, or open anything: every module of the project may
import these records, and modules outside adrs/archive/ see only them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

T = TypeVar("T")


class ProgramStatus(StrEnum):
    """A program's life: stored as pending before it is evaluated, then evaluated or failed."""

    PENDING = "pending"
    EVALUATED = "evaluated"  # every stage it reached succeeded (it may have stopped below a threshold)
    FAILED = "failed"  # a stage failed; error_kind says how


class RunStatus(StrEnum):
    """What the engine that started or resumed a run last said about it."""

    RUNNING = "running"
    STOPPED = "stopped"  # the engine stopped normally (budget, time, target, no proposals)
    INTERRUPTED = "interrupted"  # Ctrl-C: `adrs resume` continues it
    # It could not run (no LLM endpoint answered the start-up check), or it stopped on a failure:
    # the initial program failed, evaluations or proposals kept failing, the endpoint stayed away.
    FAILED = "failed"


@dataclass(frozen=True)
class RunRecord:
    id: int
    problem_name: str
    problem_root: str
    problem_fingerprint: str
    seed: int
    config: dict[str, Any]
    status: str  # a RunStatus value
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
    status: str  # a ProgramStatus value
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
        return self.status in (ProgramStatus.EVALUATED, ProgramStatus.FAILED)

    @property
    def original_id(self) -> int:
        """The id of the program this one is: a migrated copy names the program it copies."""
        return self.migrated_from or self.id


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


@dataclass(frozen=True)
class StoredEvaluation:
    """One stored stage of one program, as the integrity check, the report and benchmarks read it.

    Holds the row's id and time, which `Evaluation` (what an evaluator answered) does not; leaves
    out the long texts (feedback, error) and per-instance scores.
    """

    id: int
    program_id: int
    stage: str
    ok: bool
    score: float | None
    metrics: dict[str, float]
    features: dict[str, float]
    error_kind: str | None
    duration_s: float
    created_at: datetime


@dataclass(frozen=True)
class BestClaim:
    """A program declared the run's best (problems that declare noise), with the score it was judged on."""

    id: int
    run_id: int
    program_id: int
    score: float  # the mean of its evaluations of the scoring stage
    uncertainty: float  # standard error of that mean: noise / sqrt(evaluations)
    evaluations: int
    noise: float  # standard deviation of one evaluation's score, declared or measured
    previous_id: int | None  # the best it replaced
    created_at: datetime


@dataclass(frozen=True)
class ClaimDraft:
    """A best claim about to be stored with the evaluations that earned it."""

    score: float
    uncertainty: float
    evaluations: int
    noise: float
    previous_id: int | None = None


@dataclass(frozen=True)
class CallRecord:
    """One LLM call: the reason a reply produced no program is in `error`, as "<kind>: <message>"."""

    id: int
    run_id: int
    program_id: int | None
    proposal_index: int | None
    model: str
    prompt: str
    response: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_s: float
    error: str
    created_at: datetime

    @property
    def failure_kind(self) -> str | None:
        return self.error.split(":", 1)[0] if self.error else None


@dataclass(frozen=True)
class FailedStage:
    """The stage at which a failed program failed: how (error_kind) and the message (error)."""

    program_id: int
    stage: str
    error_kind: str | None
    error: str


@dataclass(frozen=True)
class ModelUsage:
    """LLM calls of one run to one model, summed."""

    model: str
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


@dataclass(frozen=True)
class ProgramLine:
    """A program without its code, diff or metrics: one point of a live view's plots and tables."""

    id: int
    status: str  # a ProgramStatus value
    score: float | None
    complete: bool
    error_kind: str | None
    island: int
    generation: int
    parent_id: int | None
    mutator: str
    created_at: datetime
    evaluated_at: datetime | None


@dataclass(frozen=True)
class LLMTotals:
    """LLM calls of one run, summed over its models."""

    calls: int
    dollars: float
    failed: int  # calls that failed at the endpoint after their retries


@dataclass(frozen=True)
class Hint:
    """A line of guidance a person wrote for the LLM while the run goes (`adrs serve --steer`)."""

    id: int  # the id of the `steer` event that added it
    text: str
    at: datetime  # when it was written (UTC)


@dataclass(frozen=True)
class SteeringState:
    """What a person steering a run asks of its engines now (archive/steering.py keeps it).

    `version` grows with every change, so a reader can tell an unchanged state at a glance."""

    version: int = 0
    paused: bool = False  # no new proposals until resumed (proposals and evaluations under way finish)
    pinned: tuple[int, ...] = ()  # programs every proposal takes as its parent (one of them, seeded)
    banned: tuple[int, ...] = ()  # programs never taken as a parent nor shown as an inspiration
    hints: tuple[Hint, ...] = ()  # active hints, oldest first: the next prompts carry them


def unevaluated_fields() -> dict[str, Any]:
    """A program's result fields before any evaluation: how a new program is stored, and what
    `adrs doctor --repair` puts back when a program's evaluation rows are gone (fresh dicts each call)."""
    return {
        "score": None,
        "complete": False,
        "stage_reached": None,
        "error_kind": None,
        "metrics": {},
        "features": {},
        "evaluated_at": None,
    }


def utc_moment(value: Any) -> datetime:
    """A stored moment (a datetime, or its ISO text in a JSON value) in UTC; a naive one was written in UTC."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def steering_state(value: dict[str, Any] | None) -> SteeringState:
    """The record of a run's stored `steering` state row (none: nothing asked)."""
    if not value:
        return SteeringState()
    hints = tuple(Hint(int(h["id"]), str(h["text"]), utc_moment(h["at"])) for h in value.get("hints", []))
    return SteeringState(
        version=int(value.get("version", 0)),
        paused=bool(value.get("paused", False)),
        pinned=tuple(int(i) for i in value.get("pinned", [])),
        banned=tuple(int(i) for i in value.get("banned", [])),
        hints=hints,
    )


@dataclass(frozen=True)
class SteeringEntry:
    """One steering action as it was stored, for the report's log."""

    at: datetime
    action: str  # hint, unhint, pin, unpin, ban, unban, pause, resume
    detail: str  # the hint's text, or the program it names ("#12"), or ""


def as_record(cls: type[T], row: Any) -> T:
    """The record `cls` with each of its fields read from the attribute of that name on `row`."""
    return cls(**{f.name: getattr(row, f.name) for f in dataclasses.fields(cls)})  # type: ignore[arg-type]
