"""A scripted proposal source for engine tests: hands out given programs in order."""

from __future__ import annotations

from collections.abc import Sequence

from adrs.mutate.base import Proposal, ProposalContext, ProposalSource


class ScriptedSource(ProposalSource):
    name = "scripted"

    def __init__(self, programs: Sequence[str]):
        self.programs = list(programs)
        self.calls = 0

    async def propose(self, context: ProposalContext) -> Proposal:
        self.calls += 1
        if not self.programs:
            return Proposal(None, self.name, error_kind="no_edit", error="script exhausted")
        return Proposal(self.programs.pop(0), self.name, description=f"scripted #{self.calls}")
