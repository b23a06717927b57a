"""The routing simulator: a cluster of serving instances in one or more regions, event by event.

Requests arrive at the balancer of their home region. At each arrival the decider is asked for an
instance (or HOLD: keep it at the balancer); held requests are offered again, in arrival order per
region, after every completion and every tick, and one held longer than `max_hold_s` is sent to
its home region's least-busy instance. Every `tick_s` the decider may also move requests still
waiting in an instance's queue (rebalancing). A request sent to another region reaches it after
the one-way latency, and its tokens come back after it too. The run ends when every request has
finished or `drain_s` after the last arrival.

The same code runs twice. On the trusted side it runs the whole trace, asks the candidate each
question over a session and records, as it goes, the facts a decision may see (`record`): a
request when its arrival is processed, its output length when an instance first tries to admit it
(the KV reservation covers the whole output, so the length shows then) and its output's blocks when it finishes.
In the candidate's process a mirror runs on a `Trace` that holds only those facts (`mirror=True`:
the number of requests and the last arrival are unknown there), with a decider that asks the
policy; facts arrive before the mirror needs them (episode_kit.py), so both runs ask the same
questions about the same state.

Must not: read the policy's code or objects, or use anything but the trace and the answers.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, Protocol

from evaluators.llm_routing.workload import BLOCK_TOKENS, Trace
from evaluators.llm_serving import Instance, Job, ServingModel, Unrevealed

HOLD = -1
INF = math.inf
ROUTE, REBALANCE = "r", "b"  # the two questions (also their names in a session's messages)
Steps = Generator[tuple, Any, "Outcome"]


@dataclass(frozen=True)
class Layout:
    """The cluster a trace runs on (README, "Cluster")."""

    model: ServingModel
    instance_regions: tuple[int, ...]  # region of every instance
    region_names: tuple[str, ...]
    rtt_s: tuple[tuple[float, ...], ...]  # round trip between regions
    price_per_hour: tuple[float, ...]  # $ per instance-hour, per region
    slo_ttft_s: float
    tick_s: float = 1.0
    max_hold_s: float = 10.0
    drain_s: float = 120.0

    @property
    def instances(self) -> int:
        return len(self.instance_regions)


class Decider(Protocol):
    calls: int

    def route(self, job: Job, now: float) -> int: ...

    def rebalance(self, now: float) -> list[tuple[int, int]]: ...


@dataclass
class Outcome:
    """Per request: where and when it ran. Times are simulator seconds; inf = never."""

    instance: list[int]
    dispatched: list[float]
    first_token: list[float]  # as seen by the user: + the way back to the home region
    finished: list[float]
    cached_tokens: list[int]
    forwarded: list[bool]
    moves: int
    forced: int
    end_s: float
    busy_s: list[float]


class MoveError(ValueError):
    """A rebalancing answer names a request that is not waiting in an instance's queue."""


class Recorder(Protocol):
    def add(self, kind: str, fact: list) -> None: ...


class Cluster:
    def __init__(self, layout: Layout, trace: Trace, record: Recorder | None = None, mirror: bool = False):
        self.layout = layout
        self.trace = trace
        self.mirror = mirror
        self._record = record
        self.instances = [Instance(i, layout.model) for i in range(layout.instances)]
        self._shown: set[int] = set()  # requests whose output length has been recorded
        if record is not None or mirror:
            for inst in self.instances:
                inst.on_consider = self._considered
        self.one_way = [[rtt / 2.0 for rtt in row] for row in layout.rtt_s]
        self.jobs: list[Job | None] = [None] * len(trace)
        self.location = [HOLD] * len(trace)  # instance whose queue holds the request, else HOLD
        self.held: list[deque[Job]] = [deque() for _ in layout.region_names]
        self.held_count = 0
        self.now = 0.0
        self._events: list = []
        self._seq = 0
        self._pushed = [-1] * layout.instances
        n = len(trace)
        self.out = Outcome(
            [HOLD] * n, [INF] * n, [INF] * n, [INF] * n, [0] * n, [False] * n, 0, 0, 0.0, [0.0] * layout.instances
        )

    def extend(self, count: int) -> None:
        """The mirror: the first `count` requests have been revealed (the per-request lists grow)."""
        grow = count - len(self.jobs)
        out = self.out
        for values, default in (
            (self.jobs, None),
            (self.location, HOLD),
            (out.instance, HOLD),
            (out.dispatched, INF),
            (out.first_token, INF),
            (out.finished, INF),
            (out.cached_tokens, 0),
            (out.forwarded, False),
        ):
            values.extend([default] * grow)

    # --- event plumbing ------------------------------------------------------------------------

    def _push_instance(self, index: int) -> None:
        inst = self.instances[index]
        if inst.busy and self._pushed[index] != inst.version:
            self._pushed[index] = inst.version
            self._seq += 1
            heapq.heappush(self._events, (inst.end, 0, self._seq, index, inst.version))

    def _deliver(self, job: Job, index: int, now: float) -> None:
        self.location[job.rid] = index
        self.instances[index].enqueue(job, now)
        self._push_instance(index)

    def dispatch(self, job: Job, index: int, now: float) -> None:
        rid = job.rid
        home = self.trace.region[rid]
        region = self.layout.instance_regions[index]
        self.out.instance[rid] = index
        self.out.dispatched[rid] = now
        self.out.forwarded[rid] = region != home
        delay = self.one_way[home][region]
        if delay <= 0.0:
            self._deliver(job, index, now)
        else:
            self.location[rid] = HOLD
            self._seq += 1
            heapq.heappush(self._events, (now + delay, 1, self._seq, index, job))

    def _considered(self, job: Job) -> None:
        if self.mirror:
            if job.output_tokens < 0:
                raise Unrevealed(f"request {job.rid} was tried for admission before its output length was sent")
        elif job.rid not in self._shown:
            self._shown.add(job.rid)
            self._record.add("o", [job.rid, job.output_tokens])

    # --- decisions -----------------------------------------------------------------------------

    def _offer_held(self, now: float) -> Steps:
        for queue in self.held:
            while queue:
                job = queue[0]
                answer = yield ROUTE, job, now
                if answer == HOLD:
                    break
                queue.popleft()
                self.held_count -= 1
                self.dispatch(job, answer, now)

    def _force_overdue(self, now: float) -> None:
        limit = self.layout.max_hold_s
        for region, queue in enumerate(self.held):
            while queue and now - self.trace.arrival[queue[0].rid] >= limit:
                job = queue.popleft()
                self.held_count -= 1
                local = [i for i, r in enumerate(self.layout.instance_regions) if r == region]
                target = min(local, key=lambda i: (len(self.instances[i].queue) + self.instances[i].running, i))
                self.out.forced += 1
                self.dispatch(job, target, now)

    def _apply_moves(self, moves: list[tuple[int, int]], now: float) -> None:
        for rid, target in moves:
            where = self.location[rid] if 0 <= rid < len(self.location) else HOLD
            job = self.jobs[rid] if 0 <= rid < len(self.jobs) else None
            if job is None or where == HOLD or job.admitted_at != INF:
                raise MoveError(f"request {rid} is not waiting in an instance's queue at t={now:.3f} s")
            if target == where:
                continue
            self.instances[where].queue.remove(job)
            self.out.moves += 1
            self.dispatch(job, target, now)

    # --- the run -------------------------------------------------------------------------------

    def run(self, decider: Decider) -> Outcome:
        """The whole run with `decider` answering each question."""
        steps = self.steps()
        try:
            question = next(steps)
            while True:
                if question[0] == ROUTE:
                    question = steps.send(decider.route(question[1], question[2]))
                else:
                    question = steps.send(decider.rebalance(question[1]))
        except StopIteration as stop:
            return stop.value

    def steps(self) -> Steps:
        """The run as a generator: yields each question ((ROUTE, job, now) or (REBALANCE, now)) and
        takes its answer (an instance id or HOLD; a list of moves); returns the outcome."""
        trace = self.trace
        layout = self.layout
        arrivals = trace.arrival
        n = INF if self.mirror else len(trace)  # the mirror does not know how many requests will come
        events = self._events
        instances = self.instances
        out = self.out
        end_time = INF if self.mirror else (arrivals[-1] if n else 0.0) + layout.drain_s
        next_tick = layout.tick_s
        next_arrival = 0
        done = 0
        record = self._record
        while done < n:
            t_arrival = arrivals[next_arrival] if next_arrival < len(arrivals) else INF
            t_event = events[0][0] if events else INF
            now = min(t_arrival, t_event, next_tick)
            if now > end_time:
                break
            self.now = now
            if t_event == now:
                _, kind, _, index, extra = heapq.heappop(events)
                if kind == 1:
                    self._deliver(extra, index, now)
                    continue
                inst = instances[index]
                if extra != inst.version:
                    continue
                finished = inst.finish_stretch()
                self._push_instance(index)
                for job in finished:
                    rid = job.rid
                    if record is not None:
                        record.add("f", [rid, job.out_blocks])
                    back = self.one_way[layout.instance_regions[index]][trace.region[rid]]
                    out.first_token[rid] = job.first_token + back
                    out.finished[rid] = job.finished_at + back
                    out.cached_tokens[rid] = job.cached_tokens
                done += len(finished)
                if finished and self.held_count:
                    yield from self._offer_held(now)
            elif t_arrival == now:
                rid = next_arrival
                next_arrival += 1
                job = Job(
                    rid,
                    trace.blocks[rid],
                    trace.out_blocks[rid],
                    trace.prompt_tokens[rid],
                    trace.output_tokens[rid],
                    BLOCK_TOKENS,
                )
                self.jobs[rid] = job
                if record is not None:
                    region = trace.region[rid]
                    record.add("a", [rid, now, region, trace.session[rid], job.prompt_tokens, job.blocks])
                if self.held_count and self.held[trace.region[rid]]:
                    self.held[trace.region[rid]].append(job)  # FIFO per balancer: no overtaking
                    self.held_count += 1
                    continue
                answer = yield ROUTE, job, now
                if answer == HOLD:
                    self.held[trace.region[rid]].append(job)
                    self.held_count += 1
                else:
                    self.dispatch(job, answer, now)
            else:
                next_tick += layout.tick_s
                moves = yield REBALANCE, now
                if moves:
                    self._apply_moves(moves, now)
                if self.held_count:
                    yield from self._offer_held(now)
                    self._force_overdue(now)
        out.end_s = self.now
        for index, inst in enumerate(instances):
            out.busy_s[index] = inst.busy_s
        # a request still prefilling or decoding at the end keeps inf; its first token may exist
        for job in self.jobs:
            if job is not None and job.first_token != INF and out.first_token[job.rid] == INF:
                region = layout.instance_regions[out.instance[job.rid]]
                out.first_token[job.rid] = job.first_token + self.one_way[region][trace.region[job.rid]]
                out.cached_tokens[job.rid] = job.cached_tokens
        return out
