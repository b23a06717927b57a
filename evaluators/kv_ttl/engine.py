"""The agent-serving simulator: one instance, multi-turn programs, tool pauses, KV pins with a TTL.

Programs start as agent workers free up (`concurrency` workers, the first ones staggered, each
starting the next program of the list when its current one finishes). A program's turn arrives
(its first when the program starts, later ones when the previous turn's tool call returns), is
given a queue priority by the decider (smaller first; ties in arrival order) and waits for
admission. When a turn that calls a tool finishes, its context's blocks go to
the prefix cache (evictable, LRU) and the decider chooses a TTL: with a TTL > 0 the blocks are
pinned (not evictable) until the program's next turn is admitted or the TTL expires, whichever
comes first; then they are ordinary prefix cache again. The next turn reuses whatever leading part
of its context is still resident and computes the rest. vLLM's default is a TTL of 0 and the
request's arrival as priority.

The same code runs inside the candidate's process (the decider asks the policy) and on the
trusted side (the decider replays the logged answers). `reveal_marks`: the (program, turn) arrivals
and finishes a probe twin changes; the run records how many questions came before the first.

Must not: read the policy's objects, or use anything but the trace and the answers.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from typing import Protocol

from evaluators.kv_ttl.workload import BLOCK_TOKENS, AgentTrace, block_ids, prompt_tokens
from evaluators.llm_serving import Instance, Job, PriorityQueue, ServingModel

INF = math.inf


@dataclass(frozen=True)
class Setup:
    """The serving instance and the rules (README, "Simulator")."""

    model: ServingModel
    max_ttl_s: float = 600.0
    max_time_s: float = 7200.0  # simulated time cap; programs unfinished then are censored


class Decider(Protocol):
    calls: int

    def priority(self, job: Job, now: float) -> float: ...

    def ttl(self, job: Job, now: float) -> float: ...


@dataclass
class Outcome:
    jct: list[float]  # per program: last turn's finish - its start (censored at the end; 0 if never started)
    finished: list[bool]
    queue_s: list[float]  # per program: total time its turns waited for admission
    recomputed_tokens: int  # context tokens of later turns computed again (evicted during a tool call)
    prompt_tokens: int
    pin_token_s: float  # pinned tokens x seconds
    pinned_calls: int
    tool_calls: int
    ttl_sum_s: float
    end_s: float
    reveal_call: int | None
    busy_s: float = 0.0
    turn_queue_s: list[float] = field(default_factory=list)


class AgentEngine:
    def __init__(self, setup: Setup, trace: AgentTrace, reveal_marks: frozenset | None = None):
        self.setup = setup
        self.trace = trace
        self.programs = trace.programs
        self.instance = Instance(0, setup.model, PriorityQueue())
        self.instance.on_admit = self._admitted
        self.cache = self.instance.cache
        n = len(self.programs)
        self.turn = [0] * n
        self.pins: list[list[int] | None] = [None] * n
        self.pin_since = [0.0] * n
        self.pin_version = [0] * n
        self.pinned_blocks = 0
        self.now = 0.0
        self._events: list = []
        self._seq = 0
        self._pushed = -1
        self._marks = reveal_marks or frozenset()
        self.last_finish = [0.0] * n
        self.started = [math.inf] * n
        self._next_program = 0
        self.out = Outcome([0.0] * n, [False] * n, [0.0] * n, 0, 0, 0.0, 0, 0, 0.0, 0.0, None)

    # --- plumbing --------------------------------------------------------------------------------

    def _push(self, time: float, kind: int, a: int, b: int) -> None:
        self._seq += 1
        heapq.heappush(self._events, (time, kind, self._seq, a, b))

    def _push_instance(self) -> None:
        inst = self.instance
        if inst.busy and self._pushed != inst.version:
            self._pushed = inst.version
            self._push(inst.end, 0, 0, inst.version)

    def _mark(self, decider: Decider, key: tuple) -> None:
        if self.out.reveal_call is None and key in self._marks:
            self.out.reveal_call = decider.calls

    def _unpin(self, index: int, now: float) -> None:
        pinned = self.pins[index]
        if pinned is None:
            return
        self.cache.unpin(pinned)
        self.pinned_blocks -= len(pinned)
        self.out.pin_token_s += len(pinned) * BLOCK_TOKENS * (now - self.pin_since[index])
        self.pins[index] = None
        self.pin_version[index] += 1

    def _admitted(self, job: Job, now: float) -> None:
        index, _ = job.owner
        self.out.queue_s[index] += now - job.queued_at
        self.out.turn_queue_s.append(now - job.queued_at)
        self._unpin(index, now)

    # --- program steps -----------------------------------------------------------------------------

    def _start_next(self, now: float) -> None:
        if self._next_program < len(self.programs):
            self._push(now, 1, self._next_program, 0)
            self._next_program += 1

    def _arrive(self, decider: Decider, index: int, turn: int, now: float) -> None:
        program = self.programs[index]
        if turn == 0:
            self.started[index] = now
        self._mark(decider, ("arrive", index, turn))
        prompt = prompt_tokens(program, turn)
        output = program.turns[turn].output_tokens
        full = prompt // BLOCK_TOKENS
        job = Job(
            self._seq,
            block_ids(program, 0, full),
            block_ids(program, full, (prompt + output) // BLOCK_TOKENS),
            prompt,
            output,
            BLOCK_TOKENS,
            (index, turn),
        )
        self.turn[index] = turn
        job.key = (decider.priority(job, now), self._seq)
        self._seq += 1
        self.instance.enqueue(job, now)
        self._push_instance()

    def _finished(self, decider: Decider, job: Job, now: float) -> None:
        index, turn = job.owner
        program = self.programs[index]
        self._mark(decider, ("finish", index, turn))
        self.out.prompt_tokens += job.prompt_tokens
        step = program.turns[turn]
        if turn:  # context an earlier turn had computed, computed again (evicted during the tool call)
            self.out.recomputed_tokens += max(0, job.prompt_tokens - job.cached_tokens - step.new_tokens)
        if step.tool is None:
            self.out.jct[index] = now - self.started[index]
            self.out.finished[index] = True
            self._start_next(now)
            return
        self.out.tool_calls += 1
        ttl = decider.ttl(job, now)
        if ttl > 0.0:
            pinned = self.cache.pin(job.blocks + job.out_blocks)
            self.pins[index] = pinned
            self.pin_since[index] = now
            self.pinned_blocks += len(pinned)
            self.pin_version[index] += 1
            self.out.pinned_calls += 1
            self.out.ttl_sum_s += ttl
            self._push(now + ttl, 2, index, self.pin_version[index])
        self.last_finish[index] = now
        self._push(now + step.tool_s, 1, index, turn + 1)

    # --- the run -------------------------------------------------------------------------------------

    def run(self, decider: Decider) -> Outcome:
        programs = self.programs
        events = self._events
        inst = self.instance
        n = len(programs)
        for worker in range(min(self.trace.concurrency, n)):
            self._start_next(worker * self.trace.stagger_s)
        done = 0
        while done < n and events:
            now = events[0][0]
            if now > self.setup.max_time_s:
                break
            self.now = now
            _, kind, _, a, b = heapq.heappop(events)
            if kind == 0:
                if b != inst.version:
                    continue
                for job in inst.finish_stretch():
                    self._finished(decider, job, now)
                    if job.owner[1] == len(programs[job.owner[0]].turns) - 1:
                        done += 1
                self._push_instance()
            elif kind == 1:
                self._arrive(decider, a, b, now)
            elif b == self.pin_version[a] and self.pins[a] is not None:
                self._unpin(a, now)
                inst.wake(now)
                self._push_instance()
        out = self.out
        out.end_s = self.now
        out.busy_s = inst.busy_s
        for index in range(n):
            if not out.finished[index]:
                out.jct[index] = max(0.0, self.now - self.started[index]) if self.started[index] != INF else 0.0
            if self.pins[index] is not None:
                out.pin_token_s += len(self.pins[index]) * BLOCK_TOKENS * (self.now - self.pin_since[index])
        return out
