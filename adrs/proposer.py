"""The proposer of a run: what is built next, from what, and how it becomes a stored program.

Owns, for one engine: the window of proposals in flight (up to the source's `concurrency` at once,
committed in launch order so archive writes stay ordered), each proposal's seeded rng (run seed,
proposal index, launches at that index, the engine's salt), the choice of parent and inspirations
(`select()`, or the adaptive search, adrs/search/, after the island keeper's upkeep), the steering
a person set from `adrs serve --steer` (a pause, pins and bans, hints), the rejection of a child
before it costs an evaluation (exact duplicates by normalised code hash, the novelty filter), the
stored `pending` child and its place in the evaluation queue (this invocation's share of the
budget), and the stops that belong to proposing: nothing to mutate, a streak of proposals that
yielded no program (search exhausted, or a failure when none ever did), the source's own stop.

Reads from the engine (engine.py) what the evaluation slots keep up to date: the elites and the
deterministic view, the progress, the stopping and first-result events, the other engines of a
shared run (`follow_others`, `shared_budget_allows`).

Must not: evaluate, parse programs, build prompts, or render anything.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from adrs.archive.novelty import NoveltyFilter
from adrs.archive.records import ProgramStatus
from adrs.archive.select import select
from adrs.archive.store import DuplicateProgram, NewProgram, ProgramRecord
from adrs.islands import IslandKeeper
from adrs.mutate.base import BreakthroughRequest, Proposal, ProposalContext
from adrs.program import normalized_hash, unified_diff
from adrs.progress import SOURCE_FAILED, RunFailure
from adrs.search.adaptive import AdaptiveSearch, Choice
from adrs.search.written import WrittenSelection
from adrs.search.written_run import StrategyHost
from adrs.steering import POLL_S, SteeringFollower
from adrs.stops import nothing_to_mutate, proposals_failing

if TYPE_CHECKING:
    from adrs.engine import Engine


@dataclass
class _InFlight:
    """A proposal being made: its task and what it was asked, until it is committed."""

    task: asyncio.Task[Proposal]
    context: ProposalContext
    island: int
    began: float
    choice: Choice | None = None  # what the adaptive search chose, told back when the proposal settles


class Proposer:
    def __init__(self, engine: Engine):
        self.engine = engine
        config, archive, run = engine.config, engine.archive, engine.run_record
        self.problem, self.archive, self.run_record, self.config = engine.problem, archive, run, config
        self.source, self.progress, self.on_progress = engine.source, engine.progress, engine.on_progress
        self.elites, self.view, self.frontier = engine.elites, engine.view, engine.frontier
        self.stopping, self.first_result, self.joined = engine.stopping, engine.first_result, engine.joined
        adaptive = config.selection.strategy == "adaptive"
        # The adaptive search retires and spawns islands instead of re-seeding stagnant ones.
        reseed = None if adaptive else config.island_stagnation
        self.keeper = IslandKeeper(archive, run.id, config.islands, config.migration_interval, reseed)
        self.adaptive = (
            AdaptiveSearch(
                archive,
                run.id,
                config.adaptive,
                config.islands,
                self.keeper,
                sweeps=self.source.sweeps,
                persist=not engine.joined,  # the run's search state is its own engine's
            )
            if adaptive
            else None
        )
        # A model-written selection strategy (`--evolve-selection`): chooses the parents while one is in use.
        self.written = (
            WrittenSelection.open(
                archive, run.id, StrategyHost(engine.problem, engine.settings), config.seed, persist=not engine.joined
            )
            if self.adaptive is not None and config.adaptive.written_strategy
            else None
        )
        self.novelty = NoveltyFilter(config.novelty) if config.novelty is not None else None
        # A person's steering from `adrs serve --steer` (hints, pins, bans, a pause): read only when asked for.
        self.steering = SteeringFollower(archive, run.id) if config.steerable else None
        self._queued = 0  # evaluations committed to this invocation's budget
        self._children = 0  # proposals of this invocation stored as programs
        # Launches per proposal index (seeds each rng), proposals in a row without a new program.
        self._launched: Counter[int] = Counter()
        self._streak = 0

    async def run(self, queue: asyncio.Queue[ProgramRecord | None]) -> None:
        """Queue what is stored, then launch proposals and commit them, in launch order, until a budget stops.

        Up to the source's `concurrency` proposals are in flight (LLM calls take seconds): a call that
        comes back is replaced at once, even while an older one is still out; they are committed in
        launch order, so archive writes stay ordered (at most 2 x concurrency launched, uncommitted)."""
        if not await self._enqueue_stored(queue):
            return
        window: deque[_InFlight] = deque()
        try:
            while True:
                if not await self._launch_ready(window):
                    return
                if not window or not await self._wait_settled(window):
                    break
                while window and window[0].task.done():  # commit in launch order what has come back
                    if not await self._commit(window.popleft(), queue):
                        return
        finally:
            for entry in window:
                entry.task.cancel()
            await asyncio.gather(*(entry.task for entry in window), return_exceptions=True)
        if not self.stopping.is_set():
            reason = self.source.stop_reason()
            if reason and self.source.stop_is_failure() and not self.progress.stop_reason:
                self.progress.failure = RunFailure(SOURCE_FAILED, reason)
            self.progress.stop_reason = self.progress.stop_reason or reason or "budget spent"

    async def _enqueue_stored(self, queue: asyncio.Queue[ProgramRecord | None]) -> bool:
        """Queue the programs a stopped run left pending and, in a fresh run, the initial program.

        False when the run must stop (a budget spent, or stopping)."""
        # A joining engine leaves pending programs to the engine that stored them (or to a resume).
        for program in [] if self.joined else self.archive.programs(self.run_record.id, status=ProgramStatus.PENDING):
            if not await self._enqueue(queue, program):
                return False
        if not self.joined and not self.elites.programs and self.elites.failures == 0 and self._queued == 0:
            initial = self._store(self.problem.initial_code(), None, [], 0, "initial", "the problem's initial program")
            if not await self._enqueue(queue, initial):
                return False
        return True

    async def _launch_ready(self, window: deque[_InFlight]) -> bool:
        """Launch proposals into `window` while the budgets and the source's concurrency allow.

        Each one's rng comes from the run seed and the proposal index it would get, plus how many
        were launched at that index before. False when the run must stop: nothing to mutate."""
        concurrency = max(1, int(self.source.concurrency))
        while (
            not self.stopping.is_set()
            and sum(not entry.task.done() for entry in window) < concurrency
            and len(window) < (2 * concurrency if concurrency > 1 else 1)  # one at a time stays one at a time
            and self._queued + len(window) < self.config.budget
            and not self.source.stop_reason()
            and self.engine.shared_budget_allows(len(window))
        ):
            self.engine.follow_others()
            if not self.elites.programs:
                if window:
                    break
                if self._queued > 0 and not self.first_result.is_set():
                    await self._wait_for(self.first_result)
                    continue
                if self.joined:
                    await asyncio.sleep(0.25)  # the run's first evaluation is still running elsewhere
                    continue
                failure = nothing_to_mutate(self.archive, self.run_record.id, self.problem)
                self.engine.stop("no program evaluated successfully: nothing to mutate", failure)
                return False
            if self.steering is not None and self._steering_paused():
                if window:
                    break  # commit the proposals under way; the next call waits for the resume
                await self._wait_for_resume()
                continue
            began = time.perf_counter()
            index = self.archive.next_proposal_index(self.run_record.id) + len(window)
            if self.frontier is not None and not await self.frontier.wait_for(index, self.stopping):
                break
            rng = random.Random(f"{self.config.seed}:{index}:{self._launched[index]}{self.engine.salt}")
            self._launched[index] += 1
            if self.adaptive is None:
                self.keeper.maintain(self.view, also=self.elites)
                island, choice = index % self.config.islands, None
                selection = select(self.view, island, rng, self.config.selection)
            else:
                choice = await self._adaptive_choice(rng)
                island, selection = (choice.island, choice.selection) if choice else (0, None)
            if selection is not None and self.steering is not None:
                selection = self.steering.redirect(selection, self.view, rng)
                if selection is None:  # every program it could build on is banned: wait for a change
                    if window:
                        break
                    await asyncio.sleep(POLL_S)
                    continue
            if selection is None:
                if window:
                    break
                await asyncio.sleep(0.05)
                continue
            context = ProposalContext(
                self.problem,
                selection.parent,
                selection.inspirations,
                rng,
                index,
                guidance=choice.guidance if choice else "",
                escalation=choice.escalation if choice else 0,
                focus_lines=choice.focus_lines if choice else (),
                momentum=choice.momentum if choice else (),
                sweep=choice.sweep if choice else (),
                guard=choice.guard if choice else False,
                hints=self.steering.hints if self.steering is not None else (),
            )
            task = asyncio.create_task(self.source.propose(context))
            window.append(_InFlight(task, context, island, began, choice))
            await asyncio.sleep(0)  # let it start (an LLM source reserves its cost) before deciding on the next
        return True

    def _steering_paused(self) -> bool:
        """Read the run's steering (one primary-key read) and show whether a person paused it."""
        assert self.steering is not None
        paused = self.steering.refresh().paused
        if paused != self.progress.steering_paused:
            self.progress.steering_paused = paused
            self.on_progress(self.progress)
        return paused

    async def _wait_for_resume(self) -> None:
        """While a person has paused the run: look again every POLL_S until resumed or stopping."""
        while not self.stopping.is_set() and self._steering_paused():
            stop = asyncio.create_task(self.stopping.wait())
            await asyncio.wait({stop}, timeout=POLL_S)
            stop.cancel()

    async def _adaptive_choice(self, rng: random.Random) -> Choice | None:
        """Island upkeep, then the adaptive search's choice; a stalled run first asks for new approaches."""
        assert self.adaptive is not None
        copies = self.keeper.maintain(self.view, also=self.elites, active=self.adaptive.active)
        self.adaptive.maintain(self.view, copies, also=self.elites)
        best = self.view.best()
        if best is not None and self.adaptive.wants_breakthrough():
            book = self.adaptive.book
            request = BreakthroughRequest(
                best, self.adaptive.config.breakthroughs, self.adaptive.since_best, list(book.tried)
            )
            reply = await self.source.breakthrough(request)
            paradigms, call_id = (reply.paradigms, reply.llm_call_id) if reply else ([], None)
            self.adaptive.breakthrough_done(paradigms, self.view, call_id)
        if self.written is not None:
            await self.written.upkeep(self.adaptive, self.view, self.source)
            # A breakthrough's approaches are cited first (choose() builds those on the best); then
            # the written strategy, while one is in use, draws the parent.
            parent = None if self.adaptive.book.available() else self.written.parent(self.view, rng)
            if parent is not None:
                return self.adaptive.choose_given(self.view, rng, parent)
        return self.adaptive.choose(self.view, rng)

    async def _commit(self, head: _InFlight, queue: asyncio.Queue[ProgramRecord | None]) -> bool:
        """Store and queue the finished proposal `head`, or count why it yielded no program.

        False when the run must stop: the child could not be queued, or too many proposals in a
        row were refused (search exhausted)."""
        proposal = head.task.result()
        counted = not self.source.stop_reason()  # refusals after a source stop are not failures
        code_hash = None if proposal.code is None else normalized_hash(proposal.code)
        if proposal.code is None:
            if proposal.error_kind == "duplicate":
                self.progress.duplicates += 1
            else:
                self.progress.no_edit += 1
            if counted:
                self._streak += 1
            self._outcome(head, proposal, None, proposal.error_kind or "no_edit")
        elif self.archive.hash_exists(self.run_record.id, code_hash):
            self.progress.duplicates += 1
            self._streak += 1
            self._outcome(head, proposal, None, "duplicate")
        elif self.novelty is not None and not self.novelty.admits(
            head.island, proposal.code, self.view.island_members(head.island)
        ):
            self.progress.too_similar += 1
            self._streak += 1
            self._outcome(head, proposal, None, "too_similar")
        else:
            self._streak = 0
            parent = head.context.parent
            inspirations = [p.id for p in head.context.inspirations]
            try:
                child = self._store(
                    proposal.code,
                    parent,
                    inspirations,
                    head.island,
                    proposal.mutator,
                    proposal.description,
                    code_hash,
                )
            except DuplicateProgram:  # another engine on this run stored the same child first
                self.progress.duplicates += 1
                self._streak += 1
                self._outcome(head, proposal, None, "duplicate")
                return True
            self._outcome(head, proposal, child, None)
            self._children += 1
            self.progress.proposal_s += time.perf_counter() - head.began
            if not await self._enqueue(queue, child):
                return False
        if self._streak >= self.config.max_duplicate_streak:
            reason = f"{self._streak} proposals in a row were duplicates or failed: search exhausted"
            # Every proposal of this invocation failed: a failure, not an exhausted search.
            failure = None if self._children else proposals_failing(self.progress, self.config.max_duplicate_streak)
            self.engine.stop(reason, failure)
            return False
        if self._streak and self._streak % 20 == 0:
            await asyncio.sleep(0)  # let evaluations land so selection sees new parents
        return True

    def _outcome(
        self, head: _InFlight, proposal: Proposal, program: ProgramRecord | None, rejected_as: str | None
    ) -> None:
        """Tell the source how its proposal ended (an LLM source feeds refusals into the next prompt),
        and the adaptive search whether its choice became a child."""
        self.source.proposal_outcome(head.context, proposal, program, rejected_as)
        if head.choice is not None and self.adaptive is not None:
            self.adaptive.settled(head.choice, program)

    async def _wait_settled(self, window: deque[_InFlight]) -> bool:
        """Wait until the oldest proposal is done or any in flight comes back (its place can be refilled);
        False if the run is stopping first."""
        if not window[0].task.done():
            stop = asyncio.create_task(self.stopping.wait())
            pending = {entry.task for entry in window if not entry.task.done()}
            await asyncio.wait(pending | {stop}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
        return not self.stopping.is_set() or window[0].task.done()

    def _store(
        self,
        code: str,
        parent: ProgramRecord | None,
        inspirations: list[int],
        island: int,
        mutator: str,
        description: str,
        code_hash: str | None = None,
    ) -> ProgramRecord:
        new = NewProgram(
            code=code,
            code_hash=code_hash or normalized_hash(code),
            proposal_index=self.archive.next_proposal_index(self.run_record.id),
            mutator=mutator,
            parent_id=parent.id if parent else None,
            inspiration_ids=inspirations,
            island=island,
            generation=parent.generation + 1 if parent else 0,
            description=description,
            diff=unified_diff(parent.code, code) if parent else "",
        )
        return self.archive.add_program(self.run_record.id, new, reject_duplicate=True)

    async def _enqueue(self, queue: asyncio.Queue[ProgramRecord | None], program: ProgramRecord) -> bool:
        if self.stopping.is_set() or self._queued >= self.config.budget:
            return False
        if not self.archive.claim_evaluation(self.run_record.id):  # other engines spent the run's budget
            self.progress.stop_reason = self.progress.stop_reason or "budget spent (shared with other engines)"
            return False
        put = asyncio.create_task(queue.put(program))
        stop = asyncio.create_task(self.stopping.wait())
        done, _ = await asyncio.wait({put, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if put not in done:
            put.cancel()
            return False
        self._queued += 1
        return True

    async def _wait_for(self, event: asyncio.Event) -> None:
        stop = asyncio.create_task(self.stopping.wait())
        wait = asyncio.create_task(event.wait())
        await asyncio.wait({stop, wait}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        wait.cancel()
