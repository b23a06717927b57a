"""The tick rules of the multi-region simulator: observe, credit work, guard, restart, bill.

Owns: one job's state over one simulation (current zone, cluster type, restart overhead left,
credited work, billing history) and the order of the original simulator's tick loop:

  observe(): bill the tick that ended, apply a preemption, credit its work;
  apply(requested, zone): deadline guard, availability guard, restart overhead, advance.

With migration restarts on (the default rules), moving a running job to another zone restarts it,
and a guard-forced decision keeps a running job in its zone.

Both sides use it: the candidate process (to feed the policy its observations) and the trusted
replay (to recompute everything from the action log). Arithmetic follows the original expression
by expression, so costs and tick counts agree exactly.

Must not: call a policy, read files, or decide what a failure scores.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from evaluators.cant_be_late_multi.model import (
    DONE_TOLERANCE,
    NONE,
    ON_DEMAND,
    OVERHEAD_TOLERANCE,
    SPOT,
    Job,
    Rules,
    ZoneTrace,
)


class TraceEnded(Exception):
    """The job is still running when the trace has no more ticks (the original raises too)."""


class Machine:
    """State of one simulation. Call observe() then apply() once per tick until `finished`."""

    def __init__(self, job: Job, zones: Sequence[ZoneTrace], rules: Rules):
        if not zones:
            raise ValueError("a simulation needs at least one zone")
        self.job = job
        self.rules = rules
        # The original reads gap_seconds from the trace metadata as an int; keep its type.
        gap = job.gap_seconds
        self.gap: float = int(gap) if float(gap).is_integer() else gap
        self.duration = job.duration_s
        self.deadline = job.deadline_s
        self.overhead = job.overhead_s
        self.available = [z.available for z in zones]
        self.spot_prices = [z.spot_price for z in zones]
        self.od_prices = [z.on_demand_price for z in zones]
        self.length = min(len(a) for a in self.available)
        self.num_zones = len(zones)

        self.tick = 0
        self.zone = 0  # every run starts in zone 0
        self.cluster = NONE  # type currently running, after any preemption
        self.remaining_overhead = 0.0
        self.done = 0.0
        self.credits: list[float] = []  # the original's task_done_time
        self.history: list[tuple[str, int]] = []  # (type, zone it ran in), one per observed tick
        self.applied: list[str] = []  # type applied at each tick after the guards
        self.finish_s: float | None = None
        # What the last observe() saw, needed by apply().
        self._last = NONE
        self._has_spot = False
        self._observed_zone = 0
        self._observed = False

    # --- the two steps of a tick -------------------------------------------------------------

    def observe(self) -> tuple[str, bool]:
        """Start tick `self.tick`: returns (type that ran in the tick that ended, spot available now)."""
        if self._observed:
            raise RuntimeError("observe() called twice for one tick")
        if self.tick >= self.length:
            raise TraceEnded(f"the job is unfinished at tick {self.tick}, the end of the trace")
        has_spot = self.available[self.zone][self.tick]
        last = self.cluster
        self.history.append((last, self.zone))
        if last == SPOT and not has_spot:
            self.cluster = NONE  # preempted at the tick boundary; the ended tick still counts
        self._credit(last)
        self._last, self._has_spot, self._observed_zone = last, has_spot, self.zone
        self._observed = True
        return last, has_spot

    def apply(self, requested: str, zone: int) -> str:
        """Finish the tick with the policy's request in `zone`; returns the type actually run."""
        if not self._observed:
            raise RuntimeError("apply() before observe()")
        if not 0 <= zone < self.num_zones:
            raise ValueError(f"zone {zone} does not exist (this scenario has zones 0..{self.num_zones - 1})")
        request, forced = self._deadline_guard(requested)
        current = NONE if (self._last == SPOT and not self._has_spot) else self._last
        if forced and self.rules.migration_restarts and request == current:
            # The guard keeps a running job where it runs: moving it would restart it and defeat
            # the guard. (Without migration restarts a move is free, as in the original.)
            zone = self._observed_zone
        if request == SPOT and not self.available[zone][self.tick]:
            request = NONE  # availability guard, in the zone the policy selected
        moved = self.rules.migration_restarts and zone != self._observed_zone
        if request != NONE and (current != request or moved):
            self.remaining_overhead = self.overhead  # a reset, not an addition
        self.zone = zone
        self.cluster = request
        self.applied.append(request)
        self.tick += 1
        self._observed = False
        return request

    # --- views -------------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return max(0.0, self.duration - self.done) <= DONE_TOLERANCE

    @property
    def elapsed_seconds(self) -> float:
        return self.tick * self.gap

    def spot_available(self, zone: int) -> bool:
        """Availability in `zone` for the current tick (what the policy may query for free)."""
        return self.available[zone][self.tick]

    def cost(self, *, per_tick_billing: bool | None = None) -> float:
        """Dollars billed so far. The original prices every tick at the zone current when read."""
        per_tick = self.rules.per_tick_billing if per_tick_billing is None else per_tick_billing
        total = 0.0
        for kind, ran_in in self.history:
            zone = ran_in if per_tick else self.zone
            total += self._price(kind, zone) * self.gap / 3600
        return total

    def hours_of(self, kind: str) -> float:
        return sum(1 for k, _ in self.history if k == kind) * self.gap / 3600

    # --- internals ---------------------------------------------------------------------------

    def _price(self, kind: str, zone: int) -> float:
        if kind == SPOT:
            return self.spot_prices[zone]
        if kind == ON_DEMAND:
            return self.od_prices[zone]
        return 0.0

    def _credit(self, last: str) -> None:
        if last == NONE:
            self.credits.append(0)
            return
        before = self.remaining_overhead
        work = max(self.gap - self.remaining_overhead, 0)
        self.remaining_overhead -= self.gap - work
        if self.remaining_overhead < OVERHEAD_TOLERANCE:
            self.remaining_overhead = 0
        work = min(work, self.duration - self.done)
        self.credits.append(work)
        self.done += work
        if self.finish_s is None and self.finished:
            started = (self.tick - 1) * self.gap
            self.finish_s = started + min(before, self.gap) + work

    def _deadline_guard(self, requested: str) -> tuple[str, bool]:
        """The original's non-negotiable check, bug included: after a preemption it forces SPOT.

        Returns the type and whether the guard decided it (rather than the policy)."""
        remaining_work = self.duration - self.done
        if remaining_work <= OVERHEAD_TOLERANCE:
            return requested, False
        remaining_time = math.floor((self.deadline - self.elapsed_seconds) / self.gap) * self.gap
        needed = math.ceil((remaining_work + self.overhead) / self.gap) * self.gap
        if needed >= remaining_time:
            if self._last == SPOT and self.remaining_overhead < OVERHEAD_TOLERANCE:
                return SPOT, True
            return ON_DEMAND, True
        return requested, False
