"""Runs an exported txn_scheduling policy on three workloads (written by adrs export as <stem>_example.py).

The workloads are the synthetic ones (evaluators/txn_scheduling/sample_workloads.py), each wrapped
in the leaderboard's `Workload(workload_json)` (evaluators/txn_scheduling/simulator.py, no call
budget here). The example checks that each schedule is a permutation of the transactions and
prints its makespan beside the makespan of the identity order.
"""

import importlib
import inspect
import random

from evaluators.txn_scheduling.sample_workloads import WORKLOAD_1, WORKLOAD_2, WORKLOAD_3
from evaluators.txn_scheduling.simulator import LeaderboardWorkload

POLICY_MODULE = "initial"
NUM_SEQS = 10  # the second argument adrs passes (LEVI-style programs take only the workload)


def main() -> None:
    policy = importlib.import_module(POLICY_MODULE)
    takes_num_seqs = len(inspect.signature(policy.get_best_schedule).parameters) >= 2
    random.seed(42)  # adrs seeds `random` with 42 before the first workload
    for number, text in enumerate((WORKLOAD_1, WORKLOAD_2, WORKLOAD_3), start=1):
        workload = LeaderboardWorkload(text)
        args = (workload, NUM_SEQS) if takes_num_seqs else (workload,)
        _, schedule = policy.get_best_schedule(*args)
        schedule = [int(t) for t in schedule]
        assert sorted(schedule) == list(range(workload.num_txns)), "a schedule must hold every transaction once"
        identity = workload.get_opt_seq_cost(list(range(workload.num_txns)))
        print(f"workload {number}: makespan {workload.get_opt_seq_cost(schedule)} (identity order {identity})")


if __name__ == "__main__":
    main()
