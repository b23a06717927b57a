"""WORKLOAD_1, WORKLOAD_2, WORKLOAD_3: the leaderboard's `workloads` module names, with synthetic data.

Leaderboard programs write `from workloads import WORKLOAD_1, WORKLOAD_2, WORKLOAD_3` (JSON strings
'{"txn0": "w-17 r-5 ...", ...}'). Inside a candidate's process the driver serves the stage's own
workloads under those names; an exported program gets this module instead: the synthetic
evolution set (seed 1, evaluators/txn_scheduling/generator.py), which has the structure of the
real workloads without any of their data. Standard library only.
"""

from evaluators.txn_scheduling.generator import EVOLUTION_SEED, generate_set
from evaluators.txn_scheduling.simulator import leaderboard_json

WORKLOAD_1, WORKLOAD_2, WORKLOAD_3 = (leaderboard_json(ops) for _, ops in generate_set(EVOLUTION_SEED))
