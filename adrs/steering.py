"""What an engine takes from a person steering its run (`adrs run --steerable`, then `adrs serve --steer`).

Owns: reading the run's steering from the archive before each proposal (one primary-key read of a
small row, made only in a steerable run, so it works for every engine of a run, on any machine,
and an unsteerable run reads nothing), and what it means for the next proposal: whether proposals
are paused, the hints the next prompts carry (the latest few), and the parent: a pinned program
replaces the strategy's choice (one of several, by the proposal's seeded rng), a banned program is
never a parent nor an inspiration (the best allowed program of its island, else of the run, stands
in; a copy of a banned program on another island is banned with it).

Without pins or bans the strategy's choice is returned untouched and the rng is not drawn from,
so a run nobody steers proposes exactly what it would have proposed without --steerable.

Must not: write to the archive, choose parents beyond these rules (archive/select.py does), or
build prompts (mutate/llm/prompts.py renders the hints).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from adrs.archive.elites import Elites
from adrs.archive.records import ProgramRecord, SteeringState
from adrs.archive.select import Selection
from adrs.archive.store import Archive

MAX_HINTS = 5  # the most recent hints a prompt carries
POLL_S = 0.25  # while paused, how often the engine looks for a resume


class SteeringFollower:
    """The steering of one run, as the engine last read it."""

    def __init__(self, archive: Archive, run_id: int):
        self.archive = archive
        self.run_id = run_id
        self.state = SteeringState()

    def refresh(self) -> SteeringState:
        self.state = self.archive.steering(self.run_id)
        return self.state

    @property
    def paused(self) -> bool:
        return self.state.paused

    @property
    def hints(self) -> tuple[str, ...]:
        return tuple(hint.text for hint in self.state.hints[-MAX_HINTS:])

    def redirect(self, selection: Selection, elites: Elites, rng: random.Random) -> Selection | None:
        """The strategy's choice with pins and bans applied; None when every candidate parent is banned."""
        banned = set(self.state.banned)
        if not self.state.pinned and not banned:
            return selection

        def allowed(program: ProgramRecord) -> bool:
            return program.original_id not in banned

        pinned = [elites.programs[i] for i in self.state.pinned if i in elites.programs and i not in banned]
        if pinned:
            parent, how = (pinned[0] if len(pinned) == 1 else rng.choice(pinned)), "pinned"
        elif allowed(selection.parent):
            parent, how = selection.parent, selection.how
        else:
            stand_in = _best_allowed(elites, selection.parent.island, allowed)
            if stand_in is None:
                return None
            parent, how = stand_in, f"{selection.how} (banned parent replaced)"
        inspirations = [p for p in selection.inspirations if allowed(p) and p.original_id != parent.original_id]
        return Selection(parent, inspirations, how)


def _best_allowed(elites: Elites, island: int, allowed: Callable[[ProgramRecord], bool]) -> ProgramRecord | None:
    for ranked in (elites.ranked(island), elites.ranked()):  # best first: the first allowed is the best allowed
        for program in ranked:
            if allowed(program):
                return program
    return None
