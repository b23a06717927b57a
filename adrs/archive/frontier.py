"""The deterministic view: what proposal i may see, independent of how many evaluation slots run.

Owns: an `Elites` fed in proposal order only. Proposal i is built from exactly the results of
proposals with index < i - lag: evaluations that finish early (another slot was faster) wait in
`_landed` until every earlier proposal has landed too. With the offline mutator and a seed, the
archive is then the same whatever the worker count.

Must not: write to the archive; the engine decides when to wait.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from adrs.archive.elites import Elites
from adrs.archive.records import ProgramRecord


@dataclass
class DeterministicFrontier:
    view: Elites
    lag: int
    _landed: dict[int, tuple[ProgramRecord, dict[str, float] | None]] = field(default_factory=dict)
    _next: int = 0  # every proposal index below this is in the view
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def land(self, program: ProgramRecord, instances: dict[str, float] | None = None) -> None:
        """An evaluated proposal (never a migrant) arrived; it enters the view only in index order."""
        self._landed[program.proposal_index] = (program, instances)
        self._changed.set()

    def advance(self, limit: int) -> None:
        """Move every landed proposal with index < limit into the view, in index order."""
        while self._next < limit and self._next in self._landed:
            program, instances = self._landed.pop(self._next)
            self.view.add(program, instances)
            self._next += 1

    def ready_for(self, index: int) -> bool:
        # At least the initial program (index 0) must be in view: there is nothing to mutate before it.
        limit = max(index - self.lag, 1)
        self.advance(limit)
        return self._next >= limit

    async def wait_for(self, index: int, stopping: asyncio.Event) -> bool:
        """Wait until proposal `index` may be built; False if the run stops first."""
        while not self.ready_for(index):
            if stopping.is_set():
                return False
            self._changed.clear()
            waiter = asyncio.ensure_future(self._changed.wait())
            stop = asyncio.ensure_future(stopping.wait())
            await asyncio.wait({waiter, stop}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            stop.cancel()
        return True
