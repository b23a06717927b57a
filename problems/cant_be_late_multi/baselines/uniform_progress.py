"""Uniform Progress (Can't Be Late, NSDI'24) extended to many regions: run spot in the cheapest region
that has it.

Single-region rules (as in the cant_be_late problem): idle while ahead of the uniform-progress line
and no spot is available; run on-demand when behind it and no spot is available; leave on-demand
for spot only when far enough ahead to afford two restarts; on-demand once the deadline leaves no
room for another restart. Multi-region part: a running spot instance stays where it is (a move is a
restart); any new spot start goes to the cheapest region with spot this tick.
"""

import argparse
import math

from evaluators.cant_be_late_multi.api import ClusterType, MultiRegionStrategy


# EVOLVE-BLOCK-START
class UniformProgressMultiRegion(MultiRegionStrategy):
    NAME = "uniform_progress_multi_region"

    def _cheapest_spot_region(self, running_spot: bool):
        env = self.env
        current = env.get_current_region()
        if running_spot:
            return current
        prices = env.get_all_regions_spot_prices()  # None where spot is unavailable now
        candidates = [i for i, p in enumerate(prices) if p is not None]
        if not candidates:
            return None
        return min(candidates, key=lambda i: (prices[i], i != current))

    def _step(self, last_cluster_type: ClusterType, has_spot: bool) -> ClusterType:
        env = self.env
        gap = env.gap_seconds
        work_left = self.task_duration - sum(self.task_done_time)
        if work_left <= 1e-3:
            return ClusterType.NONE
        elapsed = env.elapsed_seconds
        total, deadline, overhead = self.task_duration, self.deadline, self.restart_overhead
        time_left = math.floor((deadline - elapsed) / gap) * gap
        running_spot = last_cluster_type == ClusterType.SPOT and has_spot
        current_type = env.cluster_type  # after any preemption

        def go_spot(region):
            env.switch_region(region)
            return ClusterType.SPOT

        # Deadline: no room for another restart -> keep a clean running spot, else on-demand.
        if math.ceil((work_left + overhead) / gap) * gap >= time_left:
            if running_spot and self.remaining_restart_overhead < 1e-3:
                return ClusterType.SPOT
            return ClusterType.ON_DEMAND
        if math.ceil((work_left + 2 * overhead) / gap) * gap >= time_left and current_type in (
            ClusterType.NONE,
            ClusterType.ON_DEMAND,
        ):
            return ClusterType.ON_DEMAND

        region = self._cheapest_spot_region(running_spot)
        done = total - work_left
        behind = done - elapsed * total / deadline  # < 0: behind the uniform-progress line
        return_gap = (elapsed + 2 * overhead) * total / deadline - done  # < 0: ahead by two restarts
        if current_type == ClusterType.ON_DEMAND:
            if region is not None and return_gap < 0:
                return go_spot(region)
            return ClusterType.ON_DEMAND
        if region is not None:
            return go_spot(region)
        return ClusterType.ON_DEMAND if behind < 0 else ClusterType.NONE

    @classmethod
    def _from_args(cls, parser: argparse.ArgumentParser) -> "UniformProgressMultiRegion":
        args, _ = parser.parse_known_args()
        return cls(args)


# EVOLVE-BLOCK-END
