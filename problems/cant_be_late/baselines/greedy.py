"""Baseline: the greedy safety policy of the ADRS leaderboard (its `baseline`; = initial.py).

Each 10-minute tick, choose what runs next: SPOT (cheap, only when available, may be preempted),
ON_DEMAND (3.14x the price, always available) or NONE (idle, free). A 48 h job must finish before
its deadline (52 h or 70 h); every switch to a running type costs `restart_overhead` seconds of
lost work. The simulator forces ON_DEMAND when the deadline gets tight, whatever you return.
"""

import math

from evaluators.cant_be_late.strategy import ClusterType, Strategy


# EVOLVE-BLOCK-START
class GreedySafetyStrategy(Strategy):
    """Use spot whenever it is available and wait otherwise, until the deadline needs on-demand."""

    NAME = "greedy_safety"

    def _step(self, last_cluster_type: ClusterType, has_spot: bool) -> ClusterType:
        gap = self.env.gap_seconds
        work_left = self.task_duration - sum(self.task_done_time)
        if work_left <= 1e-9:
            return ClusterType.NONE
        ticks_left = max(0, math.floor((self.deadline - self.env.elapsed_seconds) / gap))
        ticks_needed = math.ceil((work_left + self.restart_overhead) / gap)
        ticks_needed_after_restart = math.ceil((work_left + 2 * self.restart_overhead) / gap)
        if ticks_needed >= ticks_left:
            return ClusterType.ON_DEMAND
        if ticks_needed_after_restart >= ticks_left:
            # one more preemption would make us late: keep a running spot, otherwise go on-demand
            if self.env.cluster_type == ClusterType.SPOT and has_spot:
                return ClusterType.SPOT
            return ClusterType.ON_DEMAND
        return ClusterType.SPOT if has_spot else ClusterType.NONE


# EVOLVE-BLOCK-END
