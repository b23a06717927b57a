"""Simple greedy multi-region policy: the starting point of evolution (the leaderboard's initial program).

Spot whenever the current region has it; otherwise move to the next region (round robin) and wait
a tick; on-demand once the deadline gets close.
"""

import argparse
import math

from evaluators.cant_be_late_multi.api import ClusterType, MultiRegionStrategy


# EVOLVE-BLOCK-START
class SimpleGreedyMultiRegionStrategy(MultiRegionStrategy):
    """Greedy: SPOT when the current region has it, else try the next region; ON_DEMAND near the deadline."""

    NAME = "evolved_greedy_multi"

    def __init__(self, args):
        super().__init__(args)

    def _step(self, last_cluster_type: ClusterType, has_spot: bool) -> ClusterType:
        env = self.env
        remaining_task_time = self.task_duration - sum(self.task_done_time)
        if remaining_task_time <= 1e-3:
            return ClusterType.NONE

        # Whole ticks left before the deadline, and ticks needed with one or two restarts.
        remaining_time = math.floor((self.deadline - env.elapsed_seconds) / env.gap_seconds) * env.gap_seconds
        needed_one_restart = (
            math.ceil((remaining_task_time + self.restart_overhead) / env.gap_seconds) * env.gap_seconds
        )
        needed_two_restarts = (
            math.ceil((remaining_task_time + 2 * self.restart_overhead) / env.gap_seconds) * env.gap_seconds
        )

        if needed_one_restart >= remaining_time:
            # Critical: keep a running spot instance only if it has no restart pending.
            if last_cluster_type == ClusterType.SPOT and self.remaining_restart_overhead < 1e-3:
                return ClusterType.SPOT
            return ClusterType.ON_DEMAND

        if needed_two_restarts >= remaining_time:
            # Close to the deadline: stay on a working spot instance, otherwise on-demand.
            if last_cluster_type == ClusterType.SPOT and has_spot:
                return ClusterType.SPOT
            return ClusterType.ON_DEMAND

        if has_spot:
            return ClusterType.SPOT

        # No spot here: move to the next region and wait one tick there.
        num_regions = env.get_num_regions()
        current_region = env.get_current_region()
        if num_regions > 1:
            env.switch_region((current_region + 1) % num_regions)
        return ClusterType.NONE

    @classmethod
    def _from_args(cls, parser: argparse.ArgumentParser) -> "SimpleGreedyMultiRegionStrategy":
        args, _ = parser.parse_known_args()
        return cls(args)


# EVOLVE-BLOCK-END
