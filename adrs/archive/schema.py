"""The archive's tables (SQLAlchemy 2 declarative models).

Owns: the relational shape of a run: runs, programs, evaluations (one row per program and stage),
repeated evaluations of a stage (re-scoring a noisy program), the programs claimed as the run's
best, LLM calls, events, small key-value state (e.g. a bandit's statistics), the large texts those
rows refer to (`texts`: each stored once under its sha256, compressed when that pays; texts.py
reads and writes them); and what several engines attached to one run share: a counter row per run
(budget claims, a change sequence) and the change journal other engines follow. Elites (MAP-Elites
cells, the Pareto front, island bests) are derived from these rows and never stored as the only
copy of anything.

The same tables serve SQLite and PostgreSQL. Two column types make them behave alike: `Label`
(PostgreSQL enforces VARCHAR lengths, SQLite does not, so labels are unbounded text there) and
`SafeText` (PostgreSQL text cannot hold a NUL character, which candidate output may contain, and
neither database a lone surrogate, which a model's reply may).

Must not: hold behaviour beyond column definitions.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import (
    DDL,
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeEngine

from adrs.archive.records import ProgramStatus, RunStatus

# 2 added the tables repeat_evaluations and best_claims. An archive of version 1 gains them, empty,
# when it is opened (connect.py creates missing tables); no existing table or column changes, so
# nothing stored is rewritten and older versions of adrs still read the archive.
# 3 added the table texts: a program's code and diff, an evaluation's feedback and error, an LLM
# call's prompt and reply longer than a few lines are stored there once (by sha256, compressed), and
# the row holds a reference (texts.py). Rows an older adrs wrote keep their text inline and read as
# before; an archive of version 2 gains the table when it is opened for writing. An older adrs
# reading a version 3 archive would show the references instead of the texts.
# 4 stores each metric once (compact.py): programs.features holds only what the last stage's
# features add to the metrics, the evaluation row a program's metrics were taken from holds JSON null
# (its metrics are the program's), and JSON has no spaces. Opening an older archive to write (`adrs
# resume`) rewrites its rows so, in one transaction (migrate.py); reading either layout gives the same
# records, so the read-only commands read an older archive as it is. An older adrs must not open a
# version 4 archive: it would read programs' features without their metrics. 4 also adds the
# table metric_names (a dictionary's names stored once) and drops the index on evaluations.program_id
# (and on repeat_evaluations.program_id), which the unique index on (program_id, stage, ...) covers.
# 5 names a new text by 16 bytes of its sha256 (textcodec.py), keeps an LLM call's reply and a
# program's diff in their row compressed against the prompt and the code (textcodec.IN_ROW), and
# packs a dictionary of floats as doubles (compact.py). Version 4's rows read as they are, so
# nothing is rewritten; an older adrs must not open a version 5 archive: it would read those as text.
SCHEMA_VERSION = 5


def Label(length: int) -> TypeEngine:  # noqa: N802 - used like a column type
    """A short label: VARCHAR(length) in SQLite (which ignores the length), TEXT in PostgreSQL.

    A model name or a user's stage name longer than the declared length is stored as given in
    SQLite; PostgreSQL would refuse it, so there the column has no length.
    """
    return String(length).with_variant(Text(), "postgresql")


class SafeText(TypeDecorator):
    """Text that may come from a candidate or a model: a NUL is written as the four characters \\x00
    in PostgreSQL, and a lone surrogate (a model's JSON may carry one) as U+FFFD everywhere.

    PostgreSQL's text type cannot store NUL; SQLite can, so nothing changes there. Neither can store
    a string that is not valid Unicode: without the replacement the write would fail.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return value
        value = replace_surrogates(value)
        if dialect.name == "postgresql" and "\x00" in value:
            return value.replace("\x00", "\\x00")
        return value


_SURROGATE = re.compile("[\ud800-\udfff]")


def replace_surrogates(value: str) -> str:
    """`value` with each lone surrogate (not valid Unicode, so no database stores it) as U+FFFD."""
    return _SURROGATE.sub("\ufffd", value) if _SURROGATE.search(value) else value


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    problem_name: Mapped[str] = mapped_column(Label(200))
    problem_root: Mapped[str] = mapped_column(Text)
    problem_fingerprint: Mapped[str] = mapped_column(String(64))
    seed: Mapped[int] = mapped_column(Integer)
    config: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(32), default=RunStatus.RUNNING.value)
    schema_version: Mapped[int] = mapped_column(Integer, default=SCHEMA_VERSION)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Program(Base):
    __tablename__ = "programs"
    __table_args__ = (
        Index("ix_programs_run_status", "run_id", "status"),
        Index("ix_programs_run_hash", "run_id", "code_hash"),
        # uq_program_run_proposal_index: created with the table, below.
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    proposal_index: Mapped[int] = mapped_column(Integer)  # order of proposal within the run
    code: Mapped[str] = mapped_column(SafeText)
    code_hash: Mapped[str] = mapped_column(String(64))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("programs.id"), nullable=True)
    inspiration_ids: Mapped[list] = mapped_column(JSON, default=list)
    island: Mapped[int] = mapped_column(Integer, default=0)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    mutator: Mapped[str] = mapped_column(Label(64))  # initial, offline, llm:<model>, migration, baseline
    description: Mapped[str] = mapped_column(SafeText, default="")
    diff: Mapped[str] = mapped_column(SafeText, default="")  # against the parent
    # A ProgramStatus: pending -> evaluated | failed. Migrants are copies of an evaluated program
    # on another island.
    status: Mapped[str] = mapped_column(String(16), default=ProgramStatus.PENDING.value)
    migrated_from: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Denormalised from the evaluations so selection needs one query.
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    complete: Mapped[bool] = mapped_column(Boolean, default=False)  # passed every evolution stage
    stage_reached: Mapped[str | None] = mapped_column(Label(64), nullable=True)
    error_kind: Mapped[str | None] = mapped_column(Label(32), nullable=True)
    metrics: Mapped[dict] = mapped_column(JSON, default=dict)
    features: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    evaluated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


# Several engines on one run allocate indices by max + 1 and retry on this index. Migrants carry
# their original's index (islands.py), so they are left out of it. Written as DDL (the same in
# SQLite and PostgreSQL) rather than an Index with dialect options, which would load the PostgreSQL
# dialect into every command that opens an archive (a slower `adrs status`).
event.listen(
    Program.__table__,
    "after_create",
    DDL(
        "CREATE UNIQUE INDEX uq_program_run_proposal_index ON programs (run_id, proposal_index) "
        "WHERE migrated_from IS NULL"
    ),
)


class EvaluationRow(Base):
    __tablename__ = "evaluations"
    __table_args__ = (UniqueConstraint("program_id", "stage", name="uq_evaluation_program_stage"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Looked up through the unique index on (program_id, stage), whose first column it is.
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"))
    stage: Mapped[str] = mapped_column(Label(64))
    ok: Mapped[bool] = mapped_column(Boolean)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    metrics: Mapped[dict] = mapped_column(JSON, default=dict)
    features: Mapped[dict] = mapped_column(JSON, default=dict)
    instances: Mapped[dict] = mapped_column(JSON, default=dict)
    feedback: Mapped[str] = mapped_column(SafeText, default="")
    error_kind: Mapped[str | None] = mapped_column(Label(32), nullable=True)
    error: Mapped[str] = mapped_column(SafeText, default="")
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class RepeatEvaluation(Base):
    """A stage of a program evaluated again (re-scoring a noisy program; the holdout of a noisy
    best). `repeat` counts from 1: the stage's row in `evaluations` is evaluation 0. A program's
    score is the mean of its scoring stage's successful evaluations, both tables together."""

    __tablename__ = "repeat_evaluations"
    __table_args__ = (UniqueConstraint("program_id", "stage", "repeat", name="uq_repeat_program_stage_repeat"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Looked up through the unique index on (program_id, stage, repeat), whose first column it is.
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"))
    stage: Mapped[str] = mapped_column(Label(64))
    repeat: Mapped[int] = mapped_column(Integer)
    ok: Mapped[bool] = mapped_column(Boolean)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    metrics: Mapped[dict] = mapped_column(JSON, default=dict)
    features: Mapped[dict] = mapped_column(JSON, default=dict)
    instances: Mapped[dict] = mapped_column(JSON, default=dict)
    feedback: Mapped[str] = mapped_column(SafeText, default="")
    error_kind: Mapped[str | None] = mapped_column(Label(32), nullable=True)
    error: Mapped[str] = mapped_column(SafeText, default="")
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class BestClaim(Base):
    """A program the engine declared the run's best, in the order of the claims, with the score it
    was judged on. Written in the transaction that stores the program's evaluations; the latest
    claim of a run is its best (problems that declare noise; others take the highest score)."""

    __tablename__ = "best_claims"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"))
    score: Mapped[float] = mapped_column(Float)  # the mean of its scoring stage's evaluations
    uncertainty: Mapped[float] = mapped_column(Float)  # standard error of that mean
    evaluations: Mapped[int] = mapped_column(Integer)
    noise: Mapped[float] = mapped_column(Float)  # standard deviation of one evaluation used in the verdict
    previous_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the program it replaced
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class LLMCall(Base):
    __tablename__ = "llm_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    program_id: Mapped[int | None] = mapped_column(ForeignKey("programs.id"), nullable=True, index=True)
    proposal_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    model: Mapped[str] = mapped_column(Label(200))
    prompt: Mapped[str] = mapped_column(SafeText, default="")
    response: Mapped[str] = mapped_column(SafeText, default="")
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    latency_s: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str] = mapped_column(SafeText, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Event(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    kind: Mapped[str] = mapped_column(Label(64))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class State(Base):
    """Small named JSON blobs that must survive resume (bandit statistics, counters)."""

    __tablename__ = "state"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    key: Mapped[str] = mapped_column(Label(128), primary_key=True)
    value: Mapped[dict] = mapped_column(JSON, default=dict)


class RunCounter(Base):
    """One row per run, updated under its row lock by every engine attached to the run.

    `claimed` counts evaluations claimed against the budget (`budget_limit`, None: no limit), so
    several engines spend one budget. `change_seq` numbers the change journal: it is incremented in
    the same transaction that writes a change, which orders the journal by commit.
    """

    __tablename__ = "run_counters"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    budget_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    claimed: Mapped[int] = mapped_column(Integer, default=0)
    change_seq: Mapped[int] = mapped_column(Integer, default=0)
    engines: Mapped[int] = mapped_column(Integer, default=0)  # engines that joined the run after its start


class ProgramChange(Base):
    """The change journal: a program became evaluated or failed, or a migrant was placed.

    Other engines read it from their last sequence number to bring those programs into their
    in-memory elites; `writer` lets an engine skip its own changes.
    """

    __tablename__ = "program_changes"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"))
    writer: Mapped[str] = mapped_column(String(32))


class StoredText(Base):
    """A large text, stored once whoever refers to it: a row's text column holds a reference to its
    digest instead of the text (texts.py). `compression` is "" (UTF-8 bytes) or "zlib"; with a
    `base`, the zlib stream was made with that text (a parent's code, say) as its preset dictionary,
    so a text much like another costs only what differs. `depth` counts the bases behind it."""

    __tablename__ = "texts"

    digest: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)  # sha256 of the UTF-8 text
    compression: Mapped[str] = mapped_column(String(8), default="")
    base: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    depth: Mapped[int] = mapped_column(Integer, default=0)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class MetricNames(Base):
    """A list of names stored once (compact.py): a metrics, features or per-instance dictionary
    whose names cost more than a reference is stored as `["<key>", value, ...]`, and this row gives
    the names back. `key` is derived from the names (12 hex digits of their sha256)."""

    __tablename__ = "metric_names"

    key: Mapped[str] = mapped_column(String(12), primary_key=True)
    names: Mapped[list] = mapped_column(JSON)
