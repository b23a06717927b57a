"""Outages of the LLM endpoint: pause proposals, probe the endpoint with backoff, give up after a limit.

Owns: `Outage`, the state of a run's endpoint while calls fail for reasons that pass (no
connection, timeouts, HTTP 5xx and 429, after the client pool's own retries): when the outage
began, the last error, the probes made and the next one. `wait()` holds a proposal until a probe
gets an answer (True; at once when there is no outage) or `limit_s` seconds have passed since the
outage began (False: the source then stops the run as a failure). One probe runs at a time
however many proposals wait; the delay between probes doubles from `first_delay_s` up to
MAX_PROBE_DELAY_S, with seeded jitter, and the last probe is made at the limit itself.

Must not: choose models, build prompts or touch the archive (the source records a probe's call).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable

from adrs.mutate.llm.pool import CallFailed
from adrs.progress import Pause

MAX_PROBE_DELAY_S = 60.0  # the longest wait between two probes of an endpoint that is away
MIN_FIRST_DELAY_S = 0.5  # the first probe waits at least this long, whatever backoff_s says


class Outage:
    """The endpoint's outage, if any. Create and use it inside the run's event loop."""

    def __init__(self, limit_s: float, first_delay_s: float, rng: random.Random, probe: Callable[[], Awaitable[None]]):
        self.limit_s = limit_s
        self.first_delay_s = max(MIN_FIRST_DELAY_S, first_delay_s)
        self._rng = rng
        self._probe = probe  # one call to the endpoint; raises CallFailed while it is away
        self._lock = asyncio.Lock()
        self.since: float | None = None  # time.time() when the outage began
        self.reason = ""
        self.probes = 0
        self.next_try_at = 0.0
        self.gave_up = False
        self.outages = 0  # outages this invocation (each one ended or ongoing)

    @property
    def active(self) -> bool:
        return self.since is not None

    @property
    def gives_up_at(self) -> float:
        return (self.since or time.time()) + self.limit_s

    def begin(self, error: CallFailed) -> None:
        """A call failed for a reason that passes: pause (or stay paused) and probe."""
        self.reason = str(error)
        if self.since is None:
            self.since = time.time()
            self.probes = 0
            self.outages += 1
            self.next_try_at = self.since + self._delay()

    def pause(self) -> Pause | None:
        if self.since is None or self.gave_up:
            return None
        return Pause(self.reason, self.since, self.next_try_at, self.gives_up_at, self.probes)

    async def wait(self) -> bool:
        """True once the endpoint answers (at once when there is no outage); False when the limit passed."""
        while self.since is not None:
            if self.gave_up:
                return False
            async with self._lock:
                if self.since is None or self.gave_up:
                    continue  # another waiter's probe decided it
                await self._probe_once()
        return True

    async def _probe_once(self) -> None:
        now = time.time()
        when = min(self.next_try_at, self.gives_up_at)
        await asyncio.sleep(max(0.0, when - now))
        self.probes += 1
        try:
            await self._probe()
        except CallFailed as error:
            self.reason = str(error)
            now = time.time()
            if now >= self.gives_up_at - 1e-3:
                self.gave_up = True
                return
            self.next_try_at = now + self._delay()
            return
        self.since = None  # it answered: proposals go on

    def _delay(self) -> float:
        base = self.first_delay_s * 2 ** max(0, self.probes - 1)
        return min(MAX_PROBE_DELAY_S, base * (0.75 + 0.5 * self._rng.random()))
