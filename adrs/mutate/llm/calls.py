"""LLM call records in the archive: writing them, linking them to the programs they produced, reading them back.

Owns: the `llm_calls` rows of a run (model, prompt, raw response, tokens, dollars, latency, and
for a reply that produced no program the reason, as "<kind>: <message>") and the lookups
`adrs show` and `adrs status` need: the calls behind a program, one call by id, the refused
proposals made from a parent (`proposal_failed` events), and each model's calls, tokens and dollars. Linking a call to its program happens after the engine has
stored the program, since the id is only known then.

Must not: call endpoints or decide anything; it reads and writes rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from adrs.archive.schema import LLMCall
from adrs.archive.store import Archive
from adrs.mutate.llm.history import FAILED_EVENT


@dataclass(frozen=True)
class CallRecord:
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
class ModelUsage:
    """One model's calls in a run: how many, their tokens and their dollars."""

    model: str
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


def _record(row: LLMCall) -> CallRecord:
    return CallRecord(**{name: getattr(row, name) for name in CallRecord.__dataclass_fields__})


def record_call(archive: Archive, run_id: int, **fields: object) -> int:
    return archive.add_llm_call(run_id, **fields)


def link_calls(archive: Archive, call_ids: list[int], program_id: int) -> None:
    with Session(archive.engine) as s, s.begin():
        s.execute(update(LLMCall).where(LLMCall.id.in_(call_ids)).values(program_id=program_id))


def mark_call_failed(archive: Archive, call_id: int, error: str) -> None:
    with Session(archive.engine) as s, s.begin():
        s.execute(update(LLMCall).where(LLMCall.id == call_id).values(error=error))


def spent_usd(archive: Archive, run_id: int) -> float:
    with Session(archive.engine) as s:
        return float(s.scalar(select(func.coalesce(func.sum(LLMCall.cost_usd), 0.0)).where(LLMCall.run_id == run_id)) or 0.0)


def calls_of_program(archive: Archive, program_id: int) -> list[CallRecord]:
    with Session(archive.engine) as s:
        rows = s.scalars(select(LLMCall).where(LLMCall.program_id == program_id).order_by(LLMCall.id))
        return [_record(r) for r in rows]


def calls_of_run(archive: Archive, run_id: int) -> list[CallRecord]:
    with Session(archive.engine) as s:
        rows = s.scalars(select(LLMCall).where(LLMCall.run_id == run_id).order_by(LLMCall.id))
        return [_record(r) for r in rows]


def call(archive: Archive, call_id: int) -> CallRecord | None:
    with Session(archive.engine) as s:
        row = s.get(LLMCall, call_id)
        return None if row is None else _record(row)


def refused_proposals(archive: Archive, run_id: int, parent_id: int) -> list[dict]:
    """Payloads of `proposal_failed` events for proposals made from `parent_id`, oldest first."""
    return [payload for _k, payload, _t in archive.events(run_id, FAILED_EVENT) if payload.get("parent_id") == parent_id]


def usage_by_model(archive: Archive, run_id: int) -> list[ModelUsage]:
    with Session(archive.engine) as s:
        rows = list(
            s.execute(
                select(
                    LLMCall.model,
                    func.count(),
                    func.sum(LLMCall.prompt_tokens),
                    func.sum(LLMCall.completion_tokens),
                    func.sum(LLMCall.cost_usd),
                )
                .where(LLMCall.run_id == run_id)
                .group_by(LLMCall.model)
            )
        )
    return [ModelUsage(model, calls, prompt or 0, completion or 0, cost or 0.0) for model, calls, prompt, completion, cost in rows]
