"""Continuum (Li et al., 2025), as the paper describes it.

- Tool-call duration: an empirical distribution per tool, learned online from the durations seen
  so far (a turn's arrival reveals how long the previous call took); before a tool has
  COLD_START_SAMPLES observations, an exponential law with the mean of all calls seen (or
  PRIOR_MEAN_S) stands in (the paper's cold start).
- TTL: the tau among the 5%-quantiles of that tool's observed durations (and 0) maximising
  P(duration <= tau) x benefit - cost(tau), where benefit = the reload (recompute) time of the
  context plus the queueing delay a re-admission would pay, weighted up with the program's turn
  count (programs that have run many turns tend to run more, and each saved turn saves a wait),
  and cost(tau) = tau x the share of KV memory the pin would hold x the memory's worth per second
  (PRESSURE_WEIGHT), higher when the queue is long.
- Program-level first come, first served: a turn's priority is its program's arrival, so a
  program's next turn goes ahead of programs that arrived after it.
"""

import bisect
import math

COLD_START_SAMPLES = 5
PRIOR_MEAN_S = 1.0
PRESSURE_WEIGHT = 1.0
TURN_WEIGHT = 0.1  # benefit grows by 10% per turn already run, up to x3
QUEUE_DELAY_PER_WAITING_S = 0.2


class Policy:
    def __init__(self, engine):
        self.durations = {}  # tool -> sorted observed durations
        self.pending_tool = {}  # program -> tool of its outstanding call
        self.total = 0.0
        self.count = 0

    def priority(self, request, engine):
        tool = self.pending_tool.pop(request.program, None)
        if tool is not None:
            bisect.insort(self.durations.setdefault(tool, []), request.last_tool_s)
            self.total += request.last_tool_s
            self.count += 1
        return request.program_arrival

    def _probability(self, tool, tau):
        seen = self.durations.get(tool, [])
        if len(seen) >= COLD_START_SAMPLES:
            return bisect.bisect_right(seen, tau) / len(seen)
        mean = self.total / self.count if self.count else PRIOR_MEAN_S
        return 1.0 - math.exp(-tau / mean)

    def ttl(self, turn, engine):
        self.pending_tool[turn.program] = turn.tool
        reload_s = turn.context_tokens / engine.prefill_tokens_per_s
        queue_s = QUEUE_DELAY_PER_WAITING_S * engine.waiting
        benefit = (reload_s + queue_s) * min(3.0, 1.0 + TURN_WEIGHT * turn.turn)
        share = turn.context_tokens / engine.kv_capacity_tokens
        worth = PRESSURE_WEIGHT * (1.0 + engine.waiting)
        seen = self.durations.get(turn.tool, [])
        if len(seen) >= COLD_START_SAMPLES:  # the observed durations at 5% steps of their distribution
            candidates = [seen[min(len(seen) - 1, int(q * len(seen) / 20))] for q in range(1, 21)]
        else:
            mean = self.total / self.count if self.count else PRIOR_MEAN_S
            candidates = [mean * q for q in (0.25, 0.5, 1.0, 2.0, 3.0)]
        best_tau, best_value = 0.0, 0.0
        for tau in candidates:
            tau = min(tau * 1.05, engine.max_ttl_s)
            value = self._probability(turn.tool, tau) * benefit - tau * share * worth
            if value > best_value:
                best_tau, best_value = tau, value
        return best_tau
