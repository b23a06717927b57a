"""One serving instance, simulated iteration by iteration but advanced in stretches.

A stretch is a run of identical iterations: a prefill iteration (chunked prompt tokens plus one
token for every decoding sequence) is a stretch of one; decode-only iterations repeat unchanged
until the next sequence finishes, so they are one stretch whose end is computed at once. An
external event (a new request, a pin released) cuts a decode stretch at the end of the iteration
in progress; the scheduler then runs again, as vLLM's does before every step.

Scheduling at each iteration boundary: admit waiting requests in queue order while the running
cap and the KV cache allow (head-of-line blocking, as vLLM's FCFS), the prefix hit counted at
admission; then fill the token budget with prompt chunks of the admitted sequences in admission
order. A sequence's first token comes at the end of the iteration that completes its prompt; it
then decodes one token per iteration. Output blocks are reserved in full at admission (no
preemption). A prompt always computes at least its last token, even on a full hit.

Must not: decide which instance a request goes to, read clocks, or draw random numbers.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Iterator

from evaluators.llm_serving.model import ServingModel
from evaluators.llm_serving.prefix_cache import PrefixCache

INF = math.inf


class Unrevealed(RuntimeError):
    """A mirror run (fed facts one question at a time) needed a fact it had not been sent: it diverged."""


class Job:
    """A request inside the simulator (trusted state: the policy sees only views of it)."""

    __slots__ = (
        "rid",
        "blocks",
        "out_blocks",
        "prompt_tokens",
        "output_tokens",
        "private",
        "context",
        "key",
        "cached_tokens",
        "prefill_left",
        "queued_at",
        "admitted_at",
        "first_token",
        "finished_at",
        "finish_iter",
        "owner",
    )

    def __init__(
        self,
        rid: int,
        blocks: tuple[int, ...],
        out_blocks: tuple[int, ...],
        prompt_tokens: int,
        output_tokens: int,
        block_tokens: int,
        owner: object = None,
    ):
        self.rid = rid
        self.blocks = blocks
        self.out_blocks = out_blocks
        self.prompt_tokens = prompt_tokens
        self.output_tokens = output_tokens
        self.private = -(-(prompt_tokens + output_tokens) // block_tokens) - len(blocks)
        self.context = prompt_tokens + output_tokens // 2
        self.key: tuple[float, int] = (0.0, rid)
        self.cached_tokens = 0
        self.prefill_left = prompt_tokens
        self.queued_at = INF
        self.admitted_at = INF
        self.first_token = INF
        self.finished_at = INF
        self.finish_iter = 0
        self.owner = owner

    def set_output(self, output_tokens: int, block_tokens: int) -> None:
        """Learn the output length late (a mirror run learns it when the request is admitted)."""
        self.output_tokens = output_tokens
        self.private = -(-(self.prompt_tokens + output_tokens) // block_tokens) - len(self.blocks)
        self.context = self.prompt_tokens + output_tokens // 2


class FifoQueue:
    """Waiting requests in arrival order; removal (migration) is O(n) but rare."""

    def __init__(self) -> None:
        self.items: deque[Job] = deque()
        self.tokens = 0

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Job]:
        return iter(self.items)

    def push(self, job: Job) -> None:
        self.items.append(job)
        self.tokens += job.prompt_tokens

    def peek(self) -> Job:
        return self.items[0]

    def pop(self) -> Job:
        job = self.items.popleft()
        self.tokens -= job.prompt_tokens
        return job

    def remove(self, job: Job) -> None:
        self.items.remove(job)
        self.tokens -= job.prompt_tokens


class PriorityQueue:
    """Waiting requests ordered by `job.key` (smaller first; the key's second field breaks ties)."""

    def __init__(self) -> None:
        self.heap: list[tuple[tuple[float, int], Job]] = []
        self.tokens = 0

    def __len__(self) -> int:
        return len(self.heap)

    def __iter__(self) -> Iterator[Job]:
        return (job for _, job in sorted(self.heap, key=lambda item: item[0]))

    def push(self, job: Job) -> None:
        heapq.heappush(self.heap, (job.key, job))
        self.tokens += job.prompt_tokens

    def peek(self) -> Job:
        return self.heap[0][1]

    def pop(self) -> Job:
        job = heapq.heappop(self.heap)[1]
        self.tokens -= job.prompt_tokens
        return job


class Instance:
    def __init__(self, index: int, model: ServingModel, queue: FifoQueue | PriorityQueue | None = None):
        self.index = index
        self.model = model
        self.cache = PrefixCache(model.kv_blocks)
        self.queue = queue if queue is not None else FifoQueue()
        self.prefilling: list[Job] = []  # admitted, prompt not fully computed
        self.completing: list[Job] = []  # prompt completes at the end of the current iteration
        self.decoding: list[tuple[int, int, Job]] = []  # heap of (finish iteration, rid, job)
        self.context = 0  # attention context of the decoding sequences
        self.iterations = 0
        self.busy = False
        self.start = 0.0
        self.step = 0.0
        self.steps = 0
        self.end = INF
        self.version = 0  # bumped whenever `end` changes, for the owner's event heap
        self.prefill_tokens_done = 0
        self.busy_s = 0.0
        self.on_admit = None  # optional callable(job, now), e.g. to release a pin the job now holds
        # optional callable(job): the job is about to be tried for admission, which depends on its output
        # length (the reservation covers the whole output), so the length shows from then on
        self.on_consider = None

    @property
    def running(self) -> int:
        return len(self.prefilling) + len(self.completing) + len(self.decoding)

    def enqueue(self, job: Job, now: float) -> None:
        job.queued_at = now
        self.queue.push(job)
        self.wake(now)

    def wake(self, now: float) -> None:
        """Something changed outside (a request queued, a pin released): replan at the next boundary."""
        if not self.busy:
            self._plan(now)
        elif self.steps > 1:
            done = int((now - self.start) / self.step) + 1
            if done < self.steps:
                self.steps = done
                self.end = self.start + done * self.step
                self.version += 1

    def finish_stretch(self) -> list[Job]:
        """Apply the stretch ending at `self.end`; returns the sequences that finished, then replans."""
        now = self.end
        self.iterations += self.steps
        self.busy_s += now - self.start
        iteration = self.iterations
        finished: list[Job] = []
        decoding = self.decoding
        if self.completing:
            for job in self.completing:
                job.first_token = now
                if job.output_tokens <= 1:
                    self._finish(job, now)
                    finished.append(job)
                else:
                    job.finish_iter = iteration + job.output_tokens - 1
                    heapq.heappush(decoding, (job.finish_iter, job.rid, job))
                    self.context += job.context
            self.completing = []
        while decoding and decoding[0][0] <= iteration:
            job = heapq.heappop(decoding)[2]
            self.context -= job.context
            self._finish(job, now)
            finished.append(job)
        self._plan(now)
        return finished

    def _finish(self, job: Job, now: float) -> None:
        job.finished_at = now
        self.cache.release(job.blocks, job.out_blocks, job.private)

    def _plan(self, now: float) -> None:
        model = self.model
        queue = self.queue
        prefilling = self.prefilling
        if queue:
            cache = self.cache
            block = model.block_tokens
            room = model.max_running - len(prefilling) - len(self.decoding)
            while room > 0 and queue:
                job = queue.peek()
                if self.on_consider is not None:
                    self.on_consider(job)
                hit = cache.admit(job.blocks, job.private)
                if hit < 0:
                    break
                queue.pop()
                job.cached_tokens = min(hit * block, job.prompt_tokens - 1)
                job.prefill_left = job.prompt_tokens - job.cached_tokens
                job.admitted_at = now
                prefilling.append(job)
                room -= 1
                if self.on_admit is not None:
                    self.on_admit(job, now)
        decoding = len(self.decoding)
        self.start = now
        self.version += 1
        if prefilling:
            budget = model.token_budget - decoding
            chunk = 0
            done = 0
            for job in prefilling:
                if budget <= 0:
                    break
                take = job.prefill_left if job.prefill_left < budget else budget
                job.prefill_left -= take
                budget -= take
                chunk += take
                if job.prefill_left == 0:
                    done += 1
            if chunk:
                if done:
                    self.completing = prefilling[:done]
                    self.prefilling = prefilling[done:]
                self.prefill_tokens_done += chunk
                self.busy = True
                self.steps = 1
                self.step = model.iteration_s(decoding, self.context, chunk)
                self.end = now + self.step
                return
        if decoding:
            self.busy = True
            self.steps = self.decoding[0][0] - self.iterations
            self.step = model.iteration_s(decoding, self.context, 0)
            self.end = now + self.steps * self.step
            return
        self.busy = False
        self.steps = 0
        self.end = INF
