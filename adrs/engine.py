"""The evolution loop: one asyncio loop, a proposer, W evaluation slots, a bounded queue.

Owns: the order of work in a run. The proposer (proposer.py) picks a parent and inspirations from
the archive as it stands, asks the mutator for a child (up to the source's `concurrency` at once,
committed in launch order), rejects exact duplicates (normalised code hash) before they cost an
evaluation, stores the child as `pending`, and queues it. Evaluation slots (here) drain the queue,
run the stage cascade through the executor (sandboxed workers here, or Ray tasks) and store the
result in one transaction. Several engines may share one run (a PostgreSQL archive): each claims
evaluations from the run's budget in the database and admits the others' results.
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
import time
from collections.abc import Callable

from adrs.archive.elites import Elites, fitness_key
from adrs.archive.frontier import DeterministicFrontier
from adrs.archive.records import ProgramStatus
from adrs.archive.store import Archive, ProgramRecord, RunRecord
from adrs.config import RunConfig
from adrs.evaluate import leftovers, warm
from adrs.evaluate.runner import EvalSettings
from adrs.executors import Executor, LocalExecutor
from adrs.mutate.base import ProposalSource
from adrs.noise import Estimate
from adrs.problem import Problem
from adrs.progress import LLM_ACTIVITY_STATE, Progress, RunFailure, RunSummary
from adrs.proposer import Proposer
from adrs.referee import Referee
from adrs.stops import failing_evaluations


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
        self.progress = Progress(
            budget=config.budget,
            objectives=len(problem.objectives),
            max_time_s=config.max_time_s,
            llm=source.activity(),
        )
        self.stopping = asyncio.Event()
        self.first_result = asyncio.Event()
        self._fatal: Exception | None = None
        self._best_key: tuple | None = None
        self._since_improvement = 0
        self._failed_in_a_row = 0  # evaluations, for the failure-streak stop
        # Several engines on one run (adrs/archive/cooperation.py): whether this engine joined a
        # run another started, its salt for random choices, its journal cursor.
        self.joined = joined
        self.salt = ""
        self._cursor = 0
        self.proposer = Proposer(self)  # proposals, their rngs, selection and the evaluation queue (proposer.py)

    # public -----------------------------------------------------------------------------------
    async def run(self) -> RunSummary:
        try:
            return await self._run()
        finally:
            try:
                await leftovers.settle()  # stages whose workers were still exiting (adrs/evaluate/leftovers.py)
            finally:
                warm.close_all()  # the run's warm servers end with it (adrs/evaluate/warm.py)

    async def _run(self) -> RunSummary:
        run_id = self.run_record.id
        self._cursor = self.archive.change_cursor(run_id)  # read before the programs: nothing missed
        if self.joined:
            self.salt = f":engine{self.archive.register_engine(run_id)}"
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
        proposer = asyncio.create_task(self.proposer.run(queue))
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

    # evaluating -----------------------------------------------------------------------------------
    async def _slot(self, queue: asyncio.Queue[ProgramRecord | None]) -> None:
        """One evaluation slot. An engine bug here must stop the run loudly, never hang it."""
        try:
            await self._drain(queue)
        except Exception as exc:
            self._fatal = exc
            self.stop(f"internal error in an evaluation slot: {exc!r}")
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
            if self.stopping.is_set():
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
        self.first_result.set()
        self._refresh_progress()
        best = self._check_target()
        if best is not None and (self._best_key is None or fitness_key(best) > self._best_key):
            self._best_key, self._since_improvement = fitness_key(best), 0
        else:
            self._since_improvement += 1
        if self.config.stagnation is not None and self._since_improvement >= self.config.stagnation:
            self.stop(f"no improvement in {self._since_improvement} evaluations (stagnation limit)")
        limit = self.config.max_failure_streak
        if limit is not None and self._failed_in_a_row >= limit:
            streak = self._failed_in_a_row
            failure = failing_evaluations(self.archive, program, self.problem, streak, limit, self.progress.failures)
            self.stop(f"{streak} evaluations in a row failed", failure)

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
    def shared_budget_allows(self, in_flight: int) -> bool:
        left = self.archive.budget_left(self.run_record.id)
        return left is None or left > in_flight

    def follow_others(self) -> None:
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
    def stop(self, reason: str, failure: RunFailure | None = None) -> None:
        if not self.stopping.is_set():
            self.progress.stop_reason = reason
            self.progress.failure = failure
            self.stopping.set()

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
            self.stop(f"target score {target:g} reached by program {best.id}")
        return best

    async def _watch_deadline(self, deadline: float | None) -> None:
        if deadline is None:
            return
        await asyncio.sleep(max(0.0, deadline - time.monotonic()))
        self.stop(f"wall-clock budget of {self.config.max_time_s:g} s spent")

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
        key = LLM_ACTIVITY_STATE + self.salt
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
