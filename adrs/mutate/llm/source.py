"""LLM mutation: a proposal source that asks a model for an edit of the parent and applies it.

Owns: one proposal from end to end: choose a model (fixed weights or the bandit), choose the edit
format (diff, rewrite, or a seeded mix), assemble the prompt, reserve its worst-case cost, call
the endpoint through the client pool, apply the reply, reject no-op and duplicate children, and
record the call (prompt, raw response, tokens, dollars, latency, why it failed) in the archive.
Refused proposals become `proposal_failed` events and lineage history, so the next prompt for that
parent says what went wrong. When calls fail for reasons that pass (no connection, timeouts, 5xx,
429), proposals pause while outage.py probes the endpoint, and go on when it answers; an outage
longer than `outage_limit_s`, or `stop_after_call_failures` failed calls in a row, stop the run as
a failure, with a message that quotes the setting. Also `MixedSource`, which sends a seeded share
of proposals to the offline mutator, and `build_llm_source`, which reads the settings from
problem.toml and the run.

Both sources derive from `ProposalSource` (adrs/mutate/base.py) and override, besides `propose`,
`concurrency`, `start()`, `aclose()`, `stop_reason()`, `stop_is_failure()`, `pause()`,
`proposal_outcome(...)`, `breakthrough(...)` (a stalled adaptive run's call for new approaches:
breakthrough.py) and `write_strategy(...)` (its call for a parent-selection function: strategy_call.py).

Must not: evaluate programs, store programs (the engine does), or parse edits itself (edits.py).
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from adrs.archive.records import ProgramStatus
from adrs.archive.store import Archive, ProgramRecord
from adrs.edits import DUPLICATE, apply_reply
from adrs.mutate.base import (
    BreakthroughReply,
    BreakthroughRequest,
    Proposal,
    ProposalContext,
    ProposalSource,
    StrategyReply,
    StrategyRequest,
)
from adrs.mutate.llm.bandit import STATE_KEY, ModelChooser
from adrs.mutate.llm.cost import CostMeter
from adrs.mutate.llm.history import FAILED_EVENT, LineageHistory
from adrs.mutate.llm.models import LLMConfigError, LLMSettings, ModelSpec, llm_settings
from adrs.mutate.llm.outage import Outage
from adrs.mutate.llm.pool import PREFLIGHT_PROMPT, CallFailed, ClientPool, Completion
from adrs.mutate.llm.prompts import Prompt, PromptBuilder, PromptInputs
from adrs.mutate.offline import OfflineSource
from adrs.problem import Problem
from adrs.program import change_summary, normalized_hash
from adrs.progress import LLMActivity, Pause

LLM_ERROR = "llm_error"  # the call itself failed (after retries)
COST_CAP = "cost_cap"  # the call was not made: the cost cap would be exceeded
UNCHANGED = "nothing (the edit left the program as it was)"  # how a no-op answer is listed as already tried


class LLMSource(ProposalSource):
    name = "llm"

    def __init__(
        self,
        problem: Problem,
        settings: LLMSettings,
        archive: Archive,
        run_id: int,
        seed: int,
        max_cost: float | None = None,
        persist: bool = True,  # False in an engine that joined the run: the model chooser's stored state is not its own
    ):
        self.problem = problem
        self.persist = persist
        self.settings = settings
        self.archive = archive
        self.run_id = run_id
        self.concurrency = settings.concurrency
        self.pool = ClientPool(settings, random.Random(f"{seed}:llm-backoff"))
        self.meter = CostMeter(max_cost, spent=archive.llm_spent_usd(run_id))
        state = archive.get_state(run_id, STATE_KEY) or {}
        self.chooser = ModelChooser(settings, state)
        # children whose reward the bandit still awaits: program id -> (model label, parent score)
        self.awaiting: dict[int, tuple[str, float | None]] = {
            int(pid): (str(v[0]), v[1]) for pid, v in state.get("awaiting", {}).items()
        }
        self.history = LineageHistory()
        self.history.load(archive, run_id)
        self.prompts = PromptBuilder(problem, settings.max_prompt_tokens)
        self._failed_calls = 0
        self._last_call_error = ""
        self._probed: ModelSpec | None = None  # the model whose failed call began the outage
        outage_rng = random.Random(f"{seed}:llm-outage")
        self.outage = Outage(settings.outage_limit_s, settings.backoff_s, outage_rng, self._probe)
        self._activity = LLMActivity(dollars=self.meter.spent, cap=max_cost)

    # lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Check every model with one tiny call (raises LLMError naming what is wrong)."""
        if not self.settings.preflight:
            return
        for model, completion in await self.pool.preflight(self.settings.models):
            self._record_check(model, completion, "preflight: start-up check")

    async def aclose(self) -> None:
        self._collect_rewards()  # the engine has drained its queue: every child has its result now
        await self.pool.aclose()

    def activity(self) -> LLMActivity:
        return self._activity

    def stop_reason(self) -> str | None:
        if self.meter.stop_reason:
            return self.meter.stop_reason
        limit = self.settings.stop_after_call_failures
        if self._failed_calls >= limit:
            return (
                f"the LLM endpoint failed {limit} calls in a row "
                f"(llm.stop_after_call_failures = {limit}; last: {self._last_call_error})"
            )
        if self.outage.gave_up:
            limit_s = self.settings.outage_limit_s
            return (
                f"the LLM endpoint was unreachable for {limit_s:g} s (llm.outage_limit_s = {limit_s:g}; "
                f"{self.outage.probes} probes; last: {self.outage.reason})"
            )
        return None

    def stop_is_failure(self) -> bool:
        return not self.meter.stop_reason and self.stop_reason() is not None

    def pause(self) -> Pause | None:
        return self.outage.pause()

    async def _probe(self) -> None:
        """One probe of the endpoint that is away; an answer costs tokens, so it is recorded."""
        model = self._probed or self.settings.models[0]
        completion = await self.pool.probe(model)
        self._record_check(model, completion, "probe: the endpoint answered after an outage")

    def _record_check(self, model: ModelSpec, completion: Completion, note: str) -> None:
        """A start-up check or an outage probe: not a proposal, but it costs tokens, so it is charged and stored."""
        cost = model.cost(completion.prompt_tokens, completion.completion_tokens)
        self.meter.spent += cost
        self._activity.dollars = self.meter.spent
        self.archive.add_llm_call(
            self.run_id,
            model=model.label,
            prompt=PREFLIGHT_PROMPT,
            response=completion.text,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            cost_usd=cost,
            latency_s=completion.latency_s,
            error=note,
        )

    # proposing --------------------------------------------------------------------------------
    async def propose(self, context: ProposalContext) -> Proposal:
        self._collect_rewards()
        model = self.chooser.choose(context.rng)
        mutator = f"llm:{model.label}"
        if not await self.outage.wait():  # paused while the endpoint is away; False: it stayed away
            self.chooser.stats[model.label].proposals -= 1  # no call was made
            error = self.stop_reason() or "the endpoint is unreachable"
            return Proposal(None, mutator, error_kind=LLM_ERROR, error=error)
        edit_format = self._edit_format(context.rng)
        prompt = self._prompt(context, edit_format)
        reservation = self.meter.reserve(model.cost(prompt.tokens, model.max_tokens))
        if reservation is None:
            self.chooser.stats[model.label].proposals -= 1  # no call was made
            return Proposal(None, mutator, error_kind=COST_CAP, error=self.meter.stop_reason or "")
        self._save_state()
        self._activity.in_flight += 1
        try:
            temperature = self.settings.temperature(model, self.history.duplicate_streak(context.parent.id))
            completion = await self.pool.complete(model, prompt.messages, temperature=temperature)
        except CallFailed as failure:
            self._call_ended(failed=True)
            self.meter.settle(reservation, 0.0)
            if not (failure.retryable and self.outage.active):  # calls in flight when an outage began count once
                self._failed_calls += 1
            self._last_call_error = str(failure)
            if failure.retryable:  # no connection, deadline, 5xx, 429: pause and probe until it answers
                self._probed = model
                self.outage.begin(failure)
            call_id = self._record(model, prompt, "", 0, 0, 0.0, failure.latency_s, f"{LLM_ERROR}: {failure}", context)
            self._refused(context, mutator, "", LLM_ERROR, str(failure), call_id)
            return Proposal(None, mutator, error_kind=LLM_ERROR, error=str(failure), llm_call_ids=[call_id])
        except asyncio.CancelledError:
            self._activity.in_flight -= 1
            self.meter.settle(reservation, 0.0)
            self._record(model, prompt, "", 0, 0, 0.0, 0.0, "cancelled: the run stopped before the reply came", context)
            raise
        self._failed_calls = 0
        cost = model.cost(completion.prompt_tokens, completion.completion_tokens)
        self.meter.settle(reservation, cost)
        self._call_ended(failed=False)
        self.chooser.record_cost(model.label, cost)
        result = apply_reply(context.parent.code, completion.text)
        kind, message = result.kind, result.message
        if result.code is not None and self.archive.hash_exists(self.run_id, normalized_hash(result.code)):
            kind, message = (
                DUPLICATE,
                "the edited program duplicates one already in the archive (up to comments and layout)",
            )
        elif kind is not None and completion.finish_reason == "length":
            message += f" (the reply was cut at max_tokens={model.max_tokens}: raise max_tokens for {model.label})"
        error = f"{kind}: {message}" if kind else ""
        call_id = self._record(
            model,
            prompt,
            completion.text,
            completion.prompt_tokens,
            completion.completion_tokens,
            cost,
            completion.latency_s,
            error,
            context,
        )
        self._save_state()
        summary = result.parsed.summary
        if kind is not None:
            change = ""
            if kind == DUPLICATE:  # no code: the edit left the parent itself unchanged
                change = change_summary(context.parent.code, result.code) if result.code else UNCHANGED
            self._refused(context, mutator, summary, kind, message, call_id, change)
            return Proposal(None, mutator, description=summary, error_kind=kind, error=message, llm_call_ids=[call_id])
        how = (
            "full rewrite" if result.matches == ("rewrite",) else f"{len(result.parsed.blocks)} SEARCH/REPLACE block(s)"
        )
        return Proposal(result.code, mutator, description=summary or how, llm_call_ids=[call_id])

    async def breakthrough(self, request: BreakthroughRequest) -> BreakthroughReply:
        """New approaches for a stalled adaptive run: one call to the first model (breakthrough.py)."""
        from adrs.mutate.llm.breakthrough import ask_for_breakthrough

        return await ask_for_breakthrough(self, request)

    async def write_strategy(self, request: StrategyRequest) -> StrategyReply:
        """A parent-selection function for a stalled adaptive run: one call to the first model (strategy_call.py)."""
        from adrs.mutate.llm.strategy_call import ask_for_strategy

        return await ask_for_strategy(self, request)

    def proposal_outcome(
        self, context: ProposalContext, proposal: Proposal, program: ProgramRecord | None, rejected_as: str | None
    ) -> None:
        """Told by the engine how a proposal ended: stored as `program`, or rejected (e.g. a duplicate)."""
        if program is not None:
            self.history.add_child(context.parent, program)
            if proposal.llm_call_ids:
                self.archive.link_llm_calls(proposal.llm_call_ids, program.id)
                self.awaiting[program.id] = (proposal.mutator.removeprefix("llm:"), context.parent.score)
                self._save_state()
        elif rejected_as == DUPLICATE and proposal.code is not None and proposal.llm_call_ids:
            # another proposal in flight produced the same program first
            message = "the edited program duplicates one proposed at the same time"
            self.archive.mark_llm_call_failed(proposal.llm_call_ids[0], f"{DUPLICATE}: {message}")
            change = change_summary(context.parent.code, proposal.code)
            self._refused(
                context, proposal.mutator, proposal.description, DUPLICATE, message, proposal.llm_call_ids[0], change
            )

    # helpers ----------------------------------------------------------------------------------
    def _call_ended(self, failed: bool) -> None:
        self._activity.in_flight -= 1
        self._activity.calls += 1
        self._activity.failed += int(failed)
        self._activity.dollars = self.meter.spent

    def _edit_format(self, rng: random.Random) -> str:
        if self.settings.edit_format == "mixed":
            return "rewrite" if rng.random() < self.settings.rewrite_share else "diff"
        return self.settings.edit_format

    def _prompt(self, context: ProposalContext, edit_format: str) -> Prompt:
        parent = context.parent
        inputs = PromptInputs(
            parent=parent,
            evaluations=self.archive.evaluations(parent.original_id),
            inspirations=list(context.inspirations),
            attempts=self.history.recent(self.archive, parent, self.settings.attempts_shown),
            edit_format=edit_format,
            last_failure=self.history.last_failure(parent.id),
            guidance=context.guidance,
            hints=context.hints,
            tried=self.history.already_tried(parent.id, self.settings.duplicates_shown),
        )
        return self.prompts.build(inputs)

    def _record(
        self,
        model: ModelSpec,
        prompt: Prompt,
        response: str,
        prompt_tokens: int,
        completion_tokens: int,
        cost: float,
        latency_s: float,
        error: str,
        context: ProposalContext,
    ) -> int:
        return self.archive.add_llm_call(
            self.run_id,
            model=model.label,
            prompt=prompt.as_text(),
            response=response,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=cost,
            latency_s=latency_s,
            error=error,
            proposal_index=context.proposal_index,
        )

    def _refused(
        self,
        context: ProposalContext,
        mutator: str,
        summary: str,
        kind: str,
        error: str,
        call_id: int,
        change: str = "",
    ) -> None:
        self.history.add_failure(context.parent.id, mutator, summary, kind, error, change)
        payload = {
            "parent_id": context.parent.id,
            "mutator": mutator,
            "summary": summary,
            "kind": kind,
            "error": error,
            "llm_call_id": call_id,
        }
        if change:  # a duplicate's first changed line: listed as already tried in the parent's next prompts
            payload["change"] = change
        self.archive.add_event(self.run_id, FAILED_EVENT, payload)

    def _collect_rewards(self) -> None:
        """Credit the bandit for children evaluated since the last proposal."""
        if not self.awaiting:
            return
        changed = False
        # One query for the short columns of every awaited child (not a full program read each):
        # this runs before every proposal, on the engine's event loop.
        newest = max(self.awaiting)
        lines = {line.id: line for line in self.archive.program_lines(self.run_id, newest, also=self.awaiting)}
        for program_id, (label, parent_score) in list(self.awaiting.items()):
            program = lines.get(program_id)
            if program is None or program.status == ProgramStatus.PENDING:
                continue
            improved = (
                program.status == ProgramStatus.EVALUATED
                and program.complete
                and program.score is not None
                and parent_score is not None
            )
            self.chooser.record_child(label, program.score - parent_score if improved else 0.0)
            del self.awaiting[program_id]
            changed = True
        if changed:
            self._save_state()

    def _save_state(self) -> None:
        if not self.persist:
            return
        state: dict[str, Any] = self.chooser.to_state()
        state["awaiting"] = {str(pid): [label, score] for pid, (label, score) in self.awaiting.items()}
        self.archive.put_state(self.run_id, STATE_KEY, state)


class MixedSource(ProposalSource):
    """LLM and offline mutation in one run: a seeded `offline_share` of proposals goes to the offline mutator."""

    name = "mixed"

    def __init__(self, llm: LLMSource, offline: OfflineSource, offline_share: float):
        self.llm = llm
        self.offline = offline
        self.offline_share = offline_share
        self.concurrency = llm.concurrency

    async def start(self) -> None:
        await self.llm.start()

    async def aclose(self) -> None:
        await self.llm.aclose()

    def stop_reason(self) -> str | None:
        return self.llm.stop_reason()

    def stop_is_failure(self) -> bool:
        return self.llm.stop_is_failure()

    def pause(self) -> Pause | None:
        return self.llm.pause()

    async def breakthrough(self, request: BreakthroughRequest) -> BreakthroughReply:
        return await self.llm.breakthrough(request)

    async def write_strategy(self, request: StrategyRequest) -> StrategyReply:
        return await self.llm.write_strategy(request)

    def activity(self) -> LLMActivity:
        return self.llm.activity()

    async def propose(self, context: ProposalContext) -> Proposal:
        if context.rng.random() < self.offline_share:
            return await self.offline.propose(context)
        return await self.llm.propose(context)

    def proposal_outcome(
        self, context: ProposalContext, proposal: Proposal, program: ProgramRecord | None, rejected_as: str | None
    ) -> None:
        self.llm.proposal_outcome(context, proposal, program, rejected_as)


def build_llm_source(
    problem: Problem,
    run_table: dict[str, Any],
    archive: Archive,
    run_id: int,
    seed: int,
    max_cost: float | None,
    offline_share: float,
    persist: bool = True,
) -> LLMSource | MixedSource:
    settings = llm_settings(problem, run_table)
    if settings is None:
        raise LLMConfigError(
            "the LLM mutator needs a model: pass --llm NAME[@URL] or add [[llm.models]] to problem.toml"
        )
    source = LLMSource(problem, settings, archive, run_id, seed, max_cost, persist)
    return MixedSource(source, OfflineSource(), offline_share) if offline_share > 0 else source
