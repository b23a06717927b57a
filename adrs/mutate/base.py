"""The interface between the engine and whatever proposes new programs.

Owns: `ProposalContext` (what a mutator may look at), `Proposal` (what it hands back) and
`ProposalSource`, the base class every source derives from (the offline mutator in
adrs/mutate/offline/, the LLM sources in adrs/mutate/llm/). Like Optuna's BaseSampler, a source
overrides `propose` and, only where it has something to say, the hooks whose defaults are here;
the engine and adrs.api call every member directly. `breakthrough` answers a stalled adaptive
run's request for new approaches and `write_strategy` its request for a parent-selection function
(an LLM source asks its model; the default has neither).

Must not: store anything or evaluate anything.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from adrs.archive.records import ProgramRecord  # not store.py: `adrs check` never loads SQLAlchemy
from adrs.problem import Problem
from adrs.progress import LLMActivity, Pause
from adrs.search.focus import Step
from adrs.search.paradigms import Paradigm


@dataclass(frozen=True)
class ProposalContext:
    problem: Problem
    parent: ProgramRecord
    inspirations: list[ProgramRecord]
    rng: random.Random
    proposal_index: int
    parent_feedback: str = ""
    # From the adaptive search (adrs/search/): what a prompt should say about this proposal (the
    # sampling mode, a stall, a breakthrough approach to follow), and how much larger than usual
    # the offline mutator's edit should be (0: as usual), which lines of the parent it should
    # prefer (where the parent's own gain was made; empty: anywhere) and which of that gain's
    # numbers it may push further the same way (empty: none).
    guidance: str = ""
    escalation: int = 0
    focus_lines: tuple[int, ...] = ()
    momentum: tuple[Step, ...] = ()
    # The adaptive search's stall sweep (adrs/search/sweep.py): apply exactly these entries of the
    # parent's list of single edits (adrs/mutate/offline/neighbours.py), together; empty: none.
    # Only a source whose `sweeps` is true is given any.
    sweep: tuple[int, ...] = ()
    # The stall sweep's other kind of entry: insert one guard, a new decision, into the parent
    # (adrs/mutate/offline/guards.py). Only a source whose `sweeps` is true is given one.
    guard: bool = False
    # A steerable run's hints from the person watching it (`adrs serve --steer`), oldest first. An
    # LLM source puts them in the prompt; the offline mutator has no use for text and ignores them.
    hints: tuple[str, ...] = ()


@dataclass(frozen=True)
class BreakthroughRequest:
    """A stalled run asks for new high-level approaches (adrs/search/paradigms.py)."""

    best: ProgramRecord  # the run's best program
    count: int  # approaches wanted
    stalled_for: int  # evaluations since the best last improved
    tried: list[dict]  # earlier approaches: name, best score before and after


@dataclass(frozen=True)
class BreakthroughReply:
    paradigms: list[Paradigm]  # empty when the call failed or its reply held none
    llm_call_id: int | None


@dataclass(frozen=True)
class StrategyRequest:
    """A stalled run asks for a parent-selection function (adrs/search/written.py)."""

    best: ProgramRecord  # the run's best program
    stalled_for: int  # evaluations since the best last improved
    example: dict  # the payload select() would be given now, a few programs shown
    history: list[dict]  # earlier strategies: number, outcome, reason, code, best before and after


@dataclass(frozen=True)
class StrategyReply:
    code: str | None  # None: the call failed or its reply held no select()
    llm_call_id: int | None


@dataclass(frozen=True)
class Proposal:
    """A child program, or the reason none came out (then code is None)."""

    code: str | None
    mutator: str
    description: str = ""
    error_kind: str | None = None  # no_edit, search_not_found, syntax, marker_violation, ...
    error: str = ""
    llm_call_ids: list[int] = field(default_factory=list)


class ProposalSource(ABC):
    """What the engine asks for children. Subclasses implement `propose`; every other member has
    a default that suits a source with no endpoint, no budget of its own and no memory."""

    name: str = "source"  # a short label (offline, llm, mixed); each Proposal names its own mutator
    # Proposals the engine keeps in flight at once, committed in launch order. 1 suits an instant
    # source and keeps a seeded run reproducible; an LLM source sets its number of calls in flight.
    concurrency: int = 1
    # Whether `propose` applies a context's `sweep` entries (the offline mutator's listed single
    # edits): the adaptive search sweeps a stalled run's neighbourhood only through such a source.
    sweeps: bool = False

    async def start(self) -> None:
        """Called by adrs.api before the engine runs (an LLM source checks its endpoints here)."""
        return None

    async def aclose(self) -> None:
        """Called by adrs.api after the engine stopped, however it stopped (close clients, save state)."""
        return None

    @abstractmethod
    async def propose(self, context: ProposalContext) -> Proposal:
        """A child of `context.parent`, or a Proposal with code None saying why none came out."""

    def activity(self) -> LLMActivity | None:
        """The LLM calls this source has in flight, made, failed and paid for, updated in place as
        they happen (the live view shows it); None for a source that calls no LLM."""
        return None

    def stop_reason(self) -> str | None:
        """Why the engine should ask for no more proposals (a cost cap reached), or None to go on.

        Queued evaluations still finish; refusals made after a stop are not counted as failures."""
        return None

    def stop_is_failure(self) -> bool:
        """Whether the stop `stop_reason()` gives is a failure (an endpoint gone for good) rather
        than a limit the user set (a cost cap): the run then exits non-zero."""
        return False

    def pause(self) -> Pause | None:
        """Proposals are paused (an LLM endpoint is unreachable and probed with backoff), or None.

        The engine polls it and shows it in `Progress.paused`; the source itself makes its
        `propose` calls wait while it pauses."""
        return None

    async def breakthrough(self, request: BreakthroughRequest) -> BreakthroughReply | None:
        """New approaches for a stalled run (one model call), or None: this source has no model to ask."""
        return None

    async def write_strategy(self, request: StrategyRequest) -> StrategyReply | None:
        """A parent-selection function for a stalled run (one model call), or None: no model to ask."""
        return None

    def proposal_outcome(
        self, context: ProposalContext, proposal: Proposal, program: ProgramRecord | None, rejected_as: str | None
    ) -> None:
        """How a proposal ended: stored as `program`, or rejected before evaluation (`rejected_as`:
        duplicate, too_similar, or the proposal's own error kind). Default: nothing to learn."""
        return None
