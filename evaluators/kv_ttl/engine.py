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

The same code runs twice. On the trusted side it runs the whole trace, asks the candidate each
question over a session and records, as it goes, the facts a decision may see (`record`): a
program when a worker takes it (its id and kind), a turn when it arrives (the tokens it adds, and
how long the tool call before it took, which is known now that it returned), its output length
when the instance first tries to admit it (the KV reservation covers the whole output) and, when
it finishes, the tool it calls (None: the program is done). In the candidate's process a mirror
runs on programs that hold only those facts (`mirror=True`: how many programs there are, their
remaining turns and a running tool's duration are unknown there); a tool call's return is pushed
when its duration is sent, with the sequence number the trusted run gave it, so both runs process
the same events in the same order and ask the same questions about the same state.

Must not: read the policy's objects, or use anything but the trace and the answers.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, Protocol

from evaluators.kv_ttl.workload import BLOCK_TOKENS, AgentTrace, block_ids, prompt_tokens
from evaluators.llm_serving import Instance, Job, PriorityQueue, ServingModel, Unrevealed

INF = math.inf


@dataclass(frozen=True)
class Setup:
    """The serving instance and the rules (README, "Simulator")."""

    model: ServingModel
    max_ttl_s: float = 600.0
    max_time_s: float = 7200.0  # simulated time cap; programs unfinished then are censored


PRIORITY, TTL = "p", "t"  # the two questions (also their names in a session's messages)
Steps = Generator[tuple, Any, "Outcome"]


class Recorder(Protocol):
    def add(self, kind: str, fact: list) -> None: ...


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
    busy_s: float = 0.0
    turn_queue_s: list[float] = field(default_factory=list)


class AgentEngine:
    def __init__(self, setup: Setup, trace: AgentTrace, record: Recorder | None = None, mirror: bool = False):
        self.setup = setup
        self.trace = trace
        self.programs = trace.programs
        self.mirror = mirror
        self._record = record
        self.instance = Instance(0, setup.model, PriorityQueue())
        self.instance.on_admit = self._admitted
        if record is not None or mirror:
            self.instance.on_consider = self._considered
        self._shown: set[tuple[int, int]] = set()  # turns whose output length has been recorded
        self._unshown: dict[tuple[int, int], Job] = {}  # the mirror: turns waiting for their output length
        self._returns: dict[tuple[int, int], int] = {}  # the mirror: sequence numbers of tool calls running
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
        self.last_finish = [0.0] * n
        self.started = [math.inf] * n
        self._next_program = 0
        self.out = Outcome([0.0] * n, [False] * n, [0.0] * n, 0, 0, 0.0, 0, 0, 0.0, 0.0)

    def extend(self, count: int) -> None:
        """The mirror: the first `count` programs have been taken by workers (per-program lists grow)."""
        grow = count - len(self.turn)
        out = self.out
        for values, default in (
            (self.turn, 0),
            (self.pins, None),
            (self.pin_since, 0.0),
            (self.pin_version, 0),
            (self.last_finish, 0.0),
            (self.started, math.inf),
            (out.jct, 0.0),
            (out.finished, False),
            (out.queue_s, 0.0),
        ):
            values.extend([default] * grow)

    def reveal_output(self, index: int, turn: int, output_tokens: int) -> None:
        """The mirror: a turn's output length, sent when the instance first tries to admit it."""
        self.programs[index].turns[turn].output_tokens = output_tokens
        job = self._unshown.pop((index, turn), None)
        if job is not None:
            self._complete_job(job, self.programs[index])

    def reveal_return(self, index: int, turn: int, tool_s: float) -> None:
        """The mirror: the tool call before `turn` returned after `tool_s`. If the mirror has run the
        call's start, its return goes in now, with the sequence number it kept; otherwise the start
        (still ahead of the mirror, before the next question) pushes it as the trusted run did."""
        self.programs[index].turns[turn - 1].tool_s = tool_s
        seq = self._returns.pop((index, turn), None)
        if seq is not None:
            heapq.heappush(self._events, (self.last_finish[index] + tool_s, 1, seq, index, turn))

    # --- plumbing --------------------------------------------------------------------------------

    def _push(self, time: float, kind: int, a: int, b: int) -> None:
        self._seq += 1
        heapq.heappush(self._events, (time, kind, self._seq, a, b))

    def _push_instance(self) -> None:
        inst = self.instance
        if inst.busy and self._pushed != inst.version:
            self._pushed = inst.version
            self._push(inst.end, 0, 0, inst.version)

    def _considered(self, job: Job) -> None:
        if self.mirror:
            if job.owner in self._unshown:
                raise Unrevealed(f"turn {job.owner} was tried for admission before its output length was sent")
        elif job.owner not in self._shown:
            self._shown.add(job.owner)
            self._record.add("o", [job.owner[0], job.owner[1], job.output_tokens])

    @staticmethod
    def _complete_job(job: Job, program) -> None:
        prompt = job.prompt_tokens
        job.set_output(program.turns[job.owner[1]].output_tokens, BLOCK_TOKENS)
        job.out_blocks = block_ids(program, prompt // BLOCK_TOKENS, (prompt + job.output_tokens) // BLOCK_TOKENS)

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
        index = self._next_program
        if index < len(self.programs):
            if self._record is not None:
                program = self.programs[index]
                self._record.add("s", [index, program.pid, program.kind])
            self._push(now, 1, index, 0)
            self._next_program += 1

    def _arrive(self, index: int, turn: int, now: float) -> Steps:
        program = self.programs[index]
        if turn == 0:
            self.started[index] = now
        step = program.turns[turn]
        if self._record is not None:
            self._record.add("a", [index, turn, step.new_tokens, program.turns[turn - 1].tool_s if turn else 0.0])
        prompt = prompt_tokens(program, turn)
        output = step.output_tokens
        full = prompt // BLOCK_TOKENS
        if output is None:  # the mirror: the length is sent when the instance first tries to admit it
            job = Job(self._seq, block_ids(program, 0, full), (), prompt, 0, BLOCK_TOKENS, (index, turn))
            self._unshown[index, turn] = job
        else:
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
        priority = yield PRIORITY, job, now
        job.key = (priority, self._seq)
        self._seq += 1
        self.instance.enqueue(job, now)
        self._push_instance()

    def _finished(self, job: Job, now: float) -> Steps:
        index, turn = job.owner
        program = self.programs[index]
        if self._record is not None:
            self._record.add("f", [index, turn, program.turns[turn].tool])
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
        ttl = yield TTL, job, now
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
        if step.tool_s is None:  # the mirror: how long the call takes is sent when it returns (reveal_return)
            self._seq += 1
            self._returns[index, turn + 1] = self._seq
        else:
            self._push(now + step.tool_s, 1, index, turn + 1)

    # --- the run -------------------------------------------------------------------------------------

    def run(self, decider: Decider) -> Outcome:
        """The whole run with `decider` answering each question."""
        steps = self.steps()
        try:
            question = next(steps)
            while True:
                if question[0] == PRIORITY:
                    question = steps.send(decider.priority(question[1], question[2]))
                else:
                    question = steps.send(decider.ttl(question[1], question[2]))
        except StopIteration as stop:
            return stop.value

    def steps(self) -> Steps:
        """The run as a generator: yields each question ((PRIORITY or TTL, job, now)) and takes its
        answer (a number); returns the outcome."""
        events = self._events
        inst = self.instance
        n = len(self.programs)
        for worker in range(min(self.trace.concurrency, n)):
            self._start_next(worker * self.trace.stagger_s)
        if self.mirror:
            n = math.inf  # the mirror does not know how many programs there are
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
                    yield from self._finished(job, now)
                    if self.programs[job.owner[0]].turns[job.owner[1]].tool is None:  # its last turn
                        done += 1
                self._push_instance()
            elif kind == 1:
                yield from self._arrive(a, b, now)
            elif b == self.pin_version[a] and self.pins[a] is not None:
                self._unpin(a, now)
                inst.wake(now)
                self._push_instance()
        out = self.out
        out.end_s = self.now
        out.busy_s = inst.busy_s
        for index in range(len(self.programs)):
            if not out.finished[index]:
                out.jct[index] = max(0.0, self.now - self.started[index]) if self.started[index] != INF else 0.0
            if self.pins[index] is not None:
                out.pin_token_s += len(self.pins[index]) * BLOCK_TOKENS * (self.now - self.pin_since[index])
        return out
