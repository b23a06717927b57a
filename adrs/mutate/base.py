"""The interface between the engine and whatever proposes new programs.

Owns: `ProposalContext` (what a mutator may look at) and `Proposal` (what it hands back), and the
adapter that runs the offline mutator behind the same interface as LLM mutators.

Must not: store anything or evaluate anything.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Protocol

from adrs.archive.store import ProgramRecord
from adrs.problem import Problem


@dataclass(frozen=True)
class ProposalContext:
    problem: Problem
    parent: ProgramRecord
    inspirations: list[ProgramRecord]
    rng: random.Random
    proposal_index: int
    parent_feedback: str = ""


@dataclass(frozen=True)
class Proposal:
    """A child program, or the reason none came out (then code is None)."""

    code: str | None
    mutator: str
    description: str = ""
    error_kind: str | None = None  # no_edit, search_not_found, syntax, marker_violation, ...
    error: str = ""
    llm_call_ids: list[int] = field(default_factory=list)


class ProposalSource(Protocol):
    """What the engine needs. A source may also have: `concurrency` (proposals the engine keeps in
    flight, default 1), `async start()` / `async aclose()` (run around the engine by adrs.api),
    `stop_reason() -> str | None` (no new proposals once it says why, e.g. a cost cap) and
    `proposal_outcome(context, proposal, program, rejected_as)` (how each proposal ended)."""

    name: str

    async def propose(self, context: ProposalContext) -> Proposal: ...


class OfflineSource:
    """The built-in offline mutator behind the async proposal interface."""

    name = "offline"
    concurrency = 1  # proposals are instant: one at a time keeps a seeded run reproducible

    def __init__(self) -> None:
        from adrs.mutate.offline import OfflineMutator

        self._mutator = OfflineMutator()

    async def propose(self, context: ProposalContext) -> Proposal:
        mutation = self._mutator.propose(
            context.parent.code, [p.code for p in context.inspirations], context.rng
        )
        if mutation is None:
            return Proposal(None, self.name, error_kind="no_edit", error="no valid mutation found")
        return Proposal(mutation.code, self.name, description=f"{mutation.operator}: {mutation.description}")
