"""Baseline (human state of the art): Uniform Progress, from "Can't Be Late" (Wu et al., NSDI'24).

Keep the job on the straight line from (0, no work) to (deadline, all work): while ahead of it,
use spot when available and wait otherwise; once behind, use on-demand when spot is unavailable;
leave on-demand for spot only when comfortably ahead again; near the deadline, switch to on-demand
early enough to absorb one more restart. (The simulator's `rc_cr_threshold` strategy.)
"""

import math

from evaluators.cant_be_late.strategy import ClusterType, Strategy


# EVOLVE-BLOCK-START
class UniformProgressStrategy(Strategy):
    NAME = "uniform_progress"

    def _step(self, last_cluster_type: ClusterType, has_spot: bool) -> ClusterType:
        env = self.env
        gap = env.gap_seconds
        total = self.task_duration
        work_left = total - sum(self.task_done_time)
        if work_left <= 1e-3:
            return ClusterType.NONE
        elapsed = env.elapsed_seconds
        overhead = self.restart_overhead
        time_left = math.floor((self.deadline - elapsed) / gap) * gap
        # how far the work done is ahead of (>0) or behind (<0) uniform progress
        progress_gap = (total - work_left) - elapsed * total / self.deadline
        # how far ahead we would still be after paying two restarts: needed to return to spot
        return_gap = (elapsed + 2 * overhead) * total / self.deadline - (total - work_left)

        choice = ClusterType.SPOT if has_spot else ClusterType.NONE
        current = env.cluster_type
        if progress_gap < 0:
            choice = ClusterType.SPOT if has_spot else ClusterType.ON_DEMAND
        if current == ClusterType.ON_DEMAND and (not has_spot or return_gap >= 0):
            choice = ClusterType.ON_DEMAND
        needed_one_restart = math.ceil((work_left + overhead) / gap) * gap
        needed_two_restarts = math.ceil((work_left + 2 * overhead) / gap) * gap
        if needed_two_restarts >= time_left and current in (ClusterType.NONE, ClusterType.ON_DEMAND):
            choice = ClusterType.ON_DEMAND
        if needed_one_restart >= time_left:
            if current == ClusterType.SPOT and self.remaining_restart_overhead < 1e-3:
                choice = ClusterType.SPOT  # keep the running spot until it is preempted
            else:
                choice = ClusterType.ON_DEMAND
            if overhead == 0 and has_spot:
                choice = ClusterType.SPOT
        return choice


# EVOLVE-BLOCK-END
