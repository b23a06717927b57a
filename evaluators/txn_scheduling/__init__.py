"""Trusted scorer of txn_scheduling: ordering database transactions to minimise makespan.

Owns the makespan model and the budgeted cost function candidates search with (simulator.py,
standalone: it is also copied into the candidate's process), the seeded synthetic workloads
(generator.py), the real and synthetic workload sets (workloads.py), the stage table and budgets
(stages.py), the checks on untrusted results (validate.py) and the score (scoring.py).
Must not run candidate code: problems/txn_scheduling/evaluator.py does that through the harness.
"""

from evaluators.txn_scheduling.generator import EVOLUTION_SEED, HOLDOUT_SEEDS, generate_set
from evaluators.txn_scheduling.scoring import StageResult, WorkloadOutcome, anchored_score, judge, score_stage
from evaluators.txn_scheduling.simulator import BudgetExhausted, ParsedWorkload, makespan, parse_workload
from evaluators.txn_scheduling.stages import (
    FULL_BUDGET,
    QUICK_BUDGET,
    RNG_SEED,
    STAGES,
    StagePlan,
    driver_payload,
    stage_plan,
)
from evaluators.txn_scheduling.validate import budget_problems, permutation_problem, read_set_value
from evaluators.txn_scheduling.workloads import NamedWorkload, WorkloadSet, load_real_set, synthetic_set

SIMULATOR_FILE = __path__[0] + "/simulator.py"  # copied into the candidate's folder for the driver

__all__ = [
    "EVOLUTION_SEED",
    "FULL_BUDGET",
    "HOLDOUT_SEEDS",
    "QUICK_BUDGET",
    "RNG_SEED",
    "SIMULATOR_FILE",
    "STAGES",
    "BudgetExhausted",
    "NamedWorkload",
    "ParsedWorkload",
    "StagePlan",
    "StageResult",
    "WorkloadOutcome",
    "WorkloadSet",
    "anchored_score",
    "budget_problems",
    "driver_payload",
    "generate_set",
    "judge",
    "load_real_set",
    "makespan",
    "parse_workload",
    "permutation_problem",
    "read_set_value",
    "score_stage",
    "stage_plan",
    "synthetic_set",
]
