"""The evolution loop: one asyncio loop, a proposer, W evaluation slots, a bounded queue.

Owns: the order of work in a run. The proposer picks a parent and inspirations from the archive as
it stands, asks the mutator for a child (up to the source's `concurrency` at once, committed in
launch order), rejects exact duplicates (normalised code hash) before
they cost an evaluation, stores the child as `pending`, and queues it. Evaluation slots drain the
queue, run the stage cascade through the executor (sandboxed workers here, or Ray tasks) and store
the result in one transaction. Several engines may share one run (a PostgreSQL archive): each
claims evaluations from the run's budget in the database and admits the others' results.
Budgets: evaluations, wall time, target score, and the source's own stop (an LLM cost cap: no new
proposals, queued evaluations finish). Some stops are failures (`RunFailure` in progress.py): no
program evaluated successfully (the initial program's error is shown), a streak of failed
evaluations, a proposal streak before any proposal became a program, a source that gave up (the
LLM endpoint stayed away). While the source pauses (an outage), `Progress.paused` says so.
A steerable run (`--steerable`) reads its steering before each proposal (adrs/steering.py): while
a person has paused it from `adrs serve --steer`, no proposal is launched (those under way finish,
are stored and evaluated) and `Progress.steering_paused` says so; pinned and banned programs
redirect the parent; hints go into the proposal's context for the prompt.
For a problem that declares noise, the referee (referee.py) re-scores contenders for the best in
the slot that evaluated them, and decides, before the evaluation is stored, whether they become
the best. Resume is opening the same archive again: pending programs are evaluated first,
nothing evaluated is redone.

Must not: parse programs, build prompts, or render anything (ui.py listens to `Progress`).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass

from adrs.archive.elites import Elites, fitness_key
from adrs.archive.frontier import DeterministicFrontier
from adrs.archive.novelty import NoveltyFilter
from adrs.archive.records import ProgramStatus
from adrs.archive.select import select
from adrs.archive.store import Archive, DuplicateProgram, NewProgram, ProgramRecord, RunRecord
from adrs.config import RunConfig
from adrs.evaluate import warm
from adrs.evaluate.runner import EvalSettings
from adrs.executors import Executor, LocalExecutor
from adrs.islands import IslandKeeper
from adrs.mutate.base import BreakthroughRequest, Proposal, ProposalContext, ProposalSource
from adrs.noise import Estimate
from adrs.problem import Problem
from adrs.program import normalized_hash, unified_diff
from adrs.progress import LLM_ACTIVITY_STATE, SOURCE_FAILED, Progress, RunFailure, RunSummary
from adrs.referee import Referee
from adrs.search.adaptive import AdaptiveSearch, Choice
from adrs.steering import POLL_S, SteeringFollower
from adrs.stops import failing_evaluations, nothing_to_mutate, proposals_failing


@dataclass
class _InFlight:
    """A proposal being made: its task and what it was asked, until it is committed."""

    task: asyncio.Task[Proposal]
    context: ProposalContext
    island: int
    began: float
    choice: Choice | None = None  # what the adaptive search chose, told back when the proposal settles


class Engine:
    def __init__(
        self,
        problem: Problem,
        archive: Archive,
        run: RunRecord,
        config: RunConfig,
        source: ProposalSource,
        on_progress: Callable[[Progress], None] | None = None,
        executor: Executor | None = None,
        joined: bool = False,
    ):
        self.problem = problem
        self.archive = archive
        self.run_record = run
        self.config = config
        self.source = source
        self.on_progress = on_progress or (lambda _p: None)
        self.settings = EvalSettings(
            seed=config.seed,
            data_dir=config.data_dir,
            sandbox=config.sandbox,
            docker_image=config.docker_image,
            archive_url=archive.url,
            warm=config.warm_start,
        )
        self.executor = executor or LocalExecutor()  # where evaluations run
        self.referee = Referee(problem, archive, run.id, self.executor, self.settings)  # re-scoring, the best
        self.elites = Elites(problem, config.islands)  # everything evaluated so far (progress, summary)
        # What proposals are built from: the same object, or in a deterministic run a view fed in
        # proposal order only (archive/frontier.py).
        self.view = Elites(problem, config.islands) if config.deterministic else self.elites
        self.frontier = DeterministicFrontier(self.view, config.lag) if config.deterministic else None
        adaptive = config.selection.strategy == "adaptive"
        # The adaptive search retires and spawns islands instead of re-seeding stagnant ones.
        reseed = None if adaptive else config.island_stagnation
        self.keeper = IslandKeeper(archive, run.id, config.islands, config.migration_interval, reseed)
        self.adaptive = (
            AdaptiveSearch(archive, run.id, config.adaptive, config.islands, self.keeper, sweeps=source.sweeps)
            if adaptive
            else None
        )
        self.novelty = NoveltyFilter(config.novelty) if config.novelty is not None else None
        # A person's steering from `adrs serve --steer` (hints, pins, bans, a pause): read only when asked for.
        self.steering = SteeringFollower(archive, run.id) if config.steerable else None
        self.progress = Progress(
            budget=config.budget,
            objectives=len(problem.objectives),
            max_time_s=config.max_time_s,
            llm=source.activity(),
        )
        self._stopping = asyncio.Event()
        self._first_result = asyncio.Event()
        self._queued = 0  # evaluations committed to this invocation's budget
        self._fatal: Exception | None = None
        self._best_key: tuple | None = None
        self._since_improvement = 0
        self._failed_in_a_row = 0  # evaluations, for the failure-streak stop
        self._children = 0  # proposals of this invocation stored as programs
        # Several engines on one run (adrs/archive/cooperation.py): whether this engine joined a
        # run another started, its salt for random choices, its journal cursor.
        self.joined = joined
        self._salt = ""
        self._cursor = 0
        # Proposing: launches per proposal index (seeds each rng), proposals in a row without a new program.
        self._launched: Counter[int] = Counter()
        self._streak = 0

    # public -----------------------------------------------------------------------------------
    async def run(self) -> RunSummary:
        try:
            return await self._run()
        finally:
            warm.close_all()  # the run's warm servers end with it (adrs/evaluate/warm.py)

    async def _run(self) -> RunSummary:
        run_id = self.run_record.id
        self._cursor = self.archive.change_cursor(run_id)  # read before the programs: nothing missed
        if self.joined:
            self._salt = f":engine{self.archive.register_engine(run_id)}"
        else:
            self.archive.open_budget(run_id, self.config.budget)  # other engines that join spend it too
        for program in self.archive.programs(run_id):
            if program.status != ProgramStatus.PENDING:
                self._admit(program, self._stored_instances(program))
        self._crown()
        self._refresh_progress()
        bound = self.config.effective_queue_size(max(1, int(self.source.concurrency)))
        queue: asyncio.Queue[ProgramRecord | None] = asyncio.Queue(maxsize=bound)
        deadline = None if self.config.max_time_s is None else time.monotonic() + self.config.max_time_s
        slots = [asyncio.create_task(self._slot(queue)) for _ in range(self.config.workers)]
        proposer = asyncio.create_task(self._propose(queue))
        watchdog = asyncio.create_task(self._watch_deadline(deadline))
        pauses = asyncio.create_task(self._watch_pauses())
        published = asyncio.create_task(self._publish_llm_activity())
        try:
            await proposer
            for task in slots:
                if not task.done():  # a slot that died of an internal error takes no sentinel
                    await queue.put(None)
            await asyncio.gather(*slots)
        finally:
            watchdog.cancel()
            pauses.cancel()
            published.cancel()
            proposer.cancel()
            for task in slots:
                task.cancel()
            await asyncio.gather(proposer, watchdog, pauses, published, *slots, return_exceptions=True)
        if self._fatal is not None:
            self.archive.add_event(run_id, "internal_error", {"error": repr(self._fatal)})
            raise self._fatal
        holdout = await self._evaluate_holdout()
        failure = self.progress.failure
        stopped = {
            "reason": self.progress.stop_reason,
            "evaluated": self.progress.evaluated,
            "rescores": self.referee.rescores,
        }
        if failure is not None:
            stopped["failure"] = {"kind": failure.kind, "message": failure.message}
        self.archive.add_event(run_id, "stopped", stopped)
        self._refresh_progress()
        return RunSummary(
            run_id,
            self.archive.url,
            self.progress.evaluated,
            self.elites.best(),
            self.progress.initial_score,
            self.progress.stop_reason,
            holdout.mean if holdout else None,
            best_uncertainty=self.progress.best_uncertainty,
            best_evaluations=self.progress.best_evaluations,
            holdout_uncertainty=holdout.uncertainty if holdout else None,
            rescores=self.referee.rescores,
            failure=failure,
        )

    # proposing ------------------------------------------------------------------------------------
    async def _propose(self, queue: asyncio.Queue[ProgramRecord | None]) -> None:
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
        if not self._stopping.is_set():
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
            not self._stopping.is_set()
            and sum(not entry.task.done() for entry in window) < concurrency
            and len(window) < (2 * concurrency if concurrency > 1 else 1)  # one at a time stays one at a time
            and self._queued + len(window) < self.config.budget
            and not self.source.stop_reason()
            and self._shared_budget_allows(len(window))
        ):
            self._follow_others()
            if not self.elites.programs:
                if window:
                    break
                if self._queued > 0 and not self._first_result.is_set():
                    await self._wait_for(self._first_result)
                    continue
                if self.joined:
                    await asyncio.sleep(0.25)  # the run's first evaluation is still running elsewhere
                    continue
                failure = nothing_to_mutate(self.archive, self.run_record.id, self.problem)
                self._stop("no program evaluated successfully: nothing to mutate", failure)
                return False
            if self.steering is not None and self._steering_paused():
                if window:
                    break  # commit the proposals under way; the next call waits for the resume
                await self._wait_for_resume()
                continue
            began = time.perf_counter()
            index = self.archive.next_proposal_index(self.run_record.id) + len(window)
            if self.frontier is not None and not await self.frontier.wait_for(index, self._stopping):
                break
            rng = random.Random(f"{self.config.seed}:{index}:{self._launched[index]}{self._salt}")
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
        while not self._stopping.is_set() and self._steering_paused():
            stop = asyncio.create_task(self._stopping.wait())
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
            self._stop(reason, failure)
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
            stop = asyncio.create_task(self._stopping.wait())
            pending = {entry.task for entry in window if not entry.task.done()}
            await asyncio.wait(pending | {stop}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
        return not self._stopping.is_set() or window[0].task.done()

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
        if self._stopping.is_set() or self._queued >= self.config.budget:
            return False
        if not self.archive.claim_evaluation(self.run_record.id):  # other engines spent the run's budget
            self.progress.stop_reason = self.progress.stop_reason or "budget spent (shared with other engines)"
            return False
        put = asyncio.create_task(queue.put(program))
        stop = asyncio.create_task(self._stopping.wait())
        done, _ = await asyncio.wait({put, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if put not in done:
            put.cancel()
            return False
        self._queued += 1
        return True

    async def _wait_for(self, event: asyncio.Event) -> None:
        stop = asyncio.create_task(self._stopping.wait())
        wait = asyncio.create_task(event.wait())
        await asyncio.wait({stop, wait}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        wait.cancel()

    # evaluating -----------------------------------------------------------------------------------
    async def _slot(self, queue: asyncio.Queue[ProgramRecord | None]) -> None:
        """One evaluation slot. An engine bug here must stop the run loudly, never hang it."""
        try:
            await self._drain(queue)
        except Exception as exc:
            self._fatal = exc
            self._stop(f"internal error in an evaluation slot: {exc!r}")
            raise

    async def _drain(self, queue: asyncio.Queue[ProgramRecord | None]) -> None:
        task = asyncio.current_task()
        while True:
            if task is not None and task.cancelling():
                # A cancellation that some await swallowed (3.11's wait_for does, in a race) must
                # still end the slot: otherwise a stopping run waits on an empty queue for ever.
                raise asyncio.CancelledError
            program = await queue.get()
            if program is None:
                return
            if self._stopping.is_set():
                continue  # stays pending in the archive: resume evaluates it
            began = time.perf_counter()
            evaluations = await self.executor.evaluate(
                self.problem, program.code, self.settings, label=f"p{program.id}"
            )
            complete = len(evaluations) == len(self.problem.evolution_stages) and all(e.ok for e in evaluations)
            repeats = []
            if self.referee.contender(evaluations, complete):
                repeats = await self.referee.rescore(program, evaluations[-1].stage)
            evaluated = time.perf_counter()
            self.progress.evaluation_s += evaluated - began
            # No await from the verdict to the write: the verdict is against the best as stored.
            claim = self.referee.verdict(program, evaluations, repeats) if repeats else None
            stored = self.archive.record_evaluations(program.id, evaluations, complete, repeats=repeats, claim=claim)
            if claim is not None:
                self.referee.claimed()
                self._crown()
            self._after_evaluation(stored, evaluations[-1].instances)
            self.progress.record_s += time.perf_counter() - evaluated

    def _after_evaluation(self, program: ProgramRecord, instances: dict[str, float] | None = None) -> None:
        self.progress.evaluated += 1
        if program.status == ProgramStatus.FAILED:
            self.progress.failures[program.error_kind or "unknown"] += 1
            self._failed_in_a_row += 1
        else:
            self._failed_in_a_row = 0
        self._admit(program, instances)
        self._first_result.set()
        self._refresh_progress()
        best = self._check_target()
        if best is not None and (self._best_key is None or fitness_key(best) > self._best_key):
            self._best_key, self._since_improvement = fitness_key(best), 0
        else:
            self._since_improvement += 1
        if self.config.stagnation is not None and self._since_improvement >= self.config.stagnation:
            self._stop(f"no improvement in {self._since_improvement} evaluations (stagnation limit)")
        limit = self.config.max_failure_streak
        if limit is not None and self._failed_in_a_row >= limit:
            streak = self._failed_in_a_row
            failure = failing_evaluations(self.archive, program, self.problem, streak, limit, self.progress.failures)
            self._stop(f"{streak} evaluations in a row failed", failure)

    def _admit(self, program: ProgramRecord, instances: dict[str, float] | None) -> None:
        """An evaluated program (or a stored copy) enters the elites, and the deterministic view."""
        self.elites.add(program, instances)
        if self.frontier is not None:
            if program.migrated_from is None:
                self.frontier.land(program, instances)
            else:
                self.view.add(program)

    def _stored_instances(self, program: ProgramRecord) -> dict[str, float] | None:
        """Per-instance scores of a stored program, read back only when the strategy uses them."""
        if self.config.selection.strategy != "instances" or not program.complete or program.migrated_from is not None:
            return None
        evaluations = self.archive.evaluations(program.id)
        return evaluations[-1].instances if evaluations else None

    async def _evaluate_holdout(self) -> Estimate | None:
        best = self.elites.best()
        stages = self.problem.holdout_stages
        if best is None or not stages or not self.config.evaluate_holdout or self.progress.stop_reason == "interrupted":
            return None
        return await self.referee.holdout(self.archive.program(best.original_id))

    # several engines on one run ----------------------------------------------------------------
    def _shared_budget_allows(self, in_flight: int) -> bool:
        left = self.archive.budget_left(self.run_record.id)
        return left is None or left > in_flight

    def _follow_others(self) -> None:
        """Admit what other engines attached to this run evaluated since the last look."""
        if self.frontier is not None:
            return  # a deterministic run builds proposals from its own results, in proposal order
        programs, self._cursor = self.archive.changes_since(self.run_record.id, self._cursor)
        for program in programs:
            if program.id not in self.elites.programs:
                self._admit(program, None)
        if programs:
            self.referee.refresh()
            self._crown()
            self._refresh_progress()
            self._check_target()

    # stopping and progress -------------------------------------------------------------------
    def _stop(self, reason: str, failure: RunFailure | None = None) -> None:
        if not self._stopping.is_set():
            self.progress.stop_reason = reason
            self.progress.failure = failure
            self._stopping.set()

    def _check_target(self) -> ProgramRecord | None:
        """Stop once the best complete program reaches the target score; returns the best."""
        best, target = self.elites.best(), self.config.target_score
        if (
            target is not None
            and best is not None
            and best.complete
            and best.score is not None
            and best.score >= target
        ):
            self._stop(f"target score {target:g} reached by program {best.id}")
        return best

    async def _watch_deadline(self, deadline: float | None) -> None:
        if deadline is None:
            return
        await asyncio.sleep(max(0.0, deadline - time.monotonic()))
        self._stop(f"wall-clock budget of {self.config.max_time_s:g} s spent")

    def _crown(self) -> None:
        """The referee's latest claim is the best, for progress and for what proposals are built from."""
        self.elites.champion = self.view.champion = self.referee.champion

    async def _watch_pauses(self) -> None:
        """Show (and record) when the source pauses proposals, e.g. while its LLM endpoint is away."""
        while True:
            pause = self.source.pause()
            if pause != self.progress.paused:
                if (pause is None) != (self.progress.paused is None):
                    payload = {"reason": pause.reason, "gives_up_at": pause.gives_up_at} if pause else {}
                    self.archive.add_event(self.run_record.id, "paused" if pause else "resumed", payload)
                self.progress.paused = pause
                self.on_progress(self.progress)
            await asyncio.sleep(0.25)

    async def _publish_llm_activity(self) -> None:
        """Keep a copy of the LLM source's activity in the archive for `adrs serve` (calls in flight are
        known only in this process): written when it changed, at most once a second, and at least every
        10 s while the run goes; the last copy, when the engine stops, has nothing in flight."""
        activity = self.source.activity()
        if activity is None:
            return  # the offline mutator calls no LLM: nothing to publish
        key = LLM_ACTIVITY_STATE + self._salt
        run_id = self.run_record.id
        written: dict | None = None
        at = 0.0
        try:
            while True:
                snapshot = activity.snapshot()
                if snapshot != written or time.monotonic() - at > 10:
                    self.archive.put_state(run_id, key, {**snapshot, "at": time.time(), "ended": False})
                    written, at = snapshot, time.monotonic()
                await asyncio.sleep(1.0)
        finally:
            self.archive.put_state(
                run_id, key, {**activity.snapshot(), "in_flight": 0, "at": time.time(), "ended": True}
            )

    def _refresh_progress(self) -> None:
        best = self.elites.best()
        self.progress.archive_size = self.elites.original_count()
        self.progress.front_size = len(self.elites.front)
        self.progress.best_score = best.score if best else None
        best_id = best.original_id if best else None
        if best_id is not None and best_id != self.progress.best_id:
            self.progress.best_changed = time.monotonic()
        self.progress.best_id = best_id
        self.progress.best_uncertainty, self.progress.best_evaluations = self.referee.uncertainty(best)
        self.progress.noise = self.referee.sigma
        self.progress.rescores = self.referee.rescores
        if self.progress.initial_score is None:
            initial = self.elites.initial()
            self.progress.initial_score = initial.score if initial else None
        self.on_progress(self.progress)
