"""LLM call rows of a run: writing them, linking them to the programs they produced, reading them back.

Owns: the `llm_calls` rows behind methods of `Archive` (this is one of its parts): model, prompt,
raw response, tokens, dollars, latency, and for a reply that produced no program the reason, as
"<kind>: <message>"; the dollars a run has spent (the LLM source's cost meter resumes from it);
the calls behind a program, one call by id, the usage per model `adrs status` shows, and the
run's totals a live view shows. Linking a call to its program happens after the engine has stored
the program, since the id is only known then.

Must not: call endpoints or decide anything; it reads and writes rows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, func, insert, select, update

from adrs.archive.base import ArchiveBase
from adrs.archive.records import CallRecord, LLMTotals, ModelUsage
from adrs.archive.schema import LLMCall
from adrs.archive.texts import as_one_record, as_records, store_texts

# The error prefix of a call that failed at the endpoint (mutate/llm/source.py's LLM_ERROR; archive/ must
# not import the mutators).
CALL_FAILED = "llm_error"
# The columns of a call a writer may leave out, as the table's defaults have them.
_CALL_DEFAULTS: dict[str, Any] = {
    "program_id": None,
    "proposal_index": None,
    "prompt": "",
    "response": "",
    "prompt_tokens": 0,
    "completion_tokens": 0,
    "cost_usd": 0.0,
    "latency_s": 0.0,
    "error": "",
}


class LLMCallsMixin(ArchiveBase):
    """The LLM calls of a run."""

    def add_llm_call(self, run_id: int, **fields: Any) -> int:
        values = {**_CALL_DEFAULTS, **fields, "run_id": run_id, "created_at": datetime.now(UTC)}
        with self._write() as c:
            return c.execute(insert(LLMCall), store_texts(c, LLMCall, values)).inserted_primary_key[0]

    def link_llm_calls(self, call_ids: list[int], program_id: int) -> None:
        """Mark the calls as the ones that produced `program_id`."""
        with self._session() as s, s.begin():
            s.execute(update(LLMCall).where(LLMCall.id.in_(call_ids)).values(program_id=program_id))

    def mark_llm_call_failed(self, call_id: int, error: str) -> None:
        """Record why a call's reply produced no program ("<kind>: <message>")."""
        with self._session() as s, s.begin():
            s.execute(update(LLMCall).where(LLMCall.id == call_id).values(error=error))

    def llm_spent_usd(self, run_id: int) -> float:
        with self._session() as s:
            total = s.scalar(select(func.coalesce(func.sum(LLMCall.cost_usd), 0.0)).where(LLMCall.run_id == run_id))
            return float(total or 0.0)

    def llm_totals(self, run_id: int) -> LLMTotals:
        """Calls of the run, their dollars, and how many failed at the endpoint (after retries)."""
        failed = case((LLMCall.error.like(f"{CALL_FAILED}:%"), 1), else_=0)
        sums = (func.count(), func.coalesce(func.sum(LLMCall.cost_usd), 0.0), func.coalesce(func.sum(failed), 0))
        stmt = select(*sums)
        with self._session() as s:
            calls, dollars, failures = s.execute(stmt.where(LLMCall.run_id == run_id)).one()
            return LLMTotals(int(calls or 0), float(dollars or 0.0), int(failures or 0))

    def llm_costs(self, run_id: int) -> list[tuple[datetime, float]]:
        """(time, dollars) of every call of the run, oldest first."""
        stmt = select(LLMCall.created_at, LLMCall.cost_usd).where(LLMCall.run_id == run_id).order_by(LLMCall.created_at)
        with self._session() as s:
            return [(at, float(cost or 0.0)) for at, cost in s.execute(stmt)]

    def llm_usage(self, run_id: int) -> list[ModelUsage]:
        """Calls, tokens and dollars per model."""
        stmt = (
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
        with self._session() as s:
            return [
                ModelUsage(model, calls, int(prompt or 0), int(completion or 0), float(cost or 0.0))
                for model, calls, prompt, completion, cost in s.execute(stmt)
            ]

    def llm_calls_of_program(self, program_id: int) -> list[CallRecord]:
        with self._session() as s:
            rows = s.scalars(select(LLMCall).where(LLMCall.program_id == program_id).order_by(LLMCall.id))
            return as_records(s, CallRecord, rows)

    def llm_calls(self, run_id: int) -> list[CallRecord]:
        with self._session() as s:
            rows = s.scalars(select(LLMCall).where(LLMCall.run_id == run_id).order_by(LLMCall.id))
            return as_records(s, CallRecord, rows)

    def llm_call(self, call_id: int) -> CallRecord | None:
        with self._session() as s:
            row = s.get(LLMCall, call_id)
            return None if row is None else as_one_record(s, CallRecord, row)
