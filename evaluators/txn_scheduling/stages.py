"""The stages of txn_scheduling: which workload sets each runs, the cost-call budget, the time limit.

Owns: the stage table (quick / full / holdout), the budgets, the candidate's random seed and the
payload the driver receives. Real data (the user's --data folder) replaces the synthetic
evolution set in quick and full; holdout always uses synthetic sets from seeds never shown during
evolution.
Must not: run candidates or score them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluators.txn_scheduling.generator import EVOLUTION_SEED, HOLDOUT_SEEDS
from evaluators.txn_scheduling.workloads import WorkloadSet, every_other, load_real_set, synthetic_set

QUICK_BUDGET = 2_000  # get_opt_seq_cost calls per workload (50 transactions each); SMF uses ~450
FULL_BUDGET = 50_000  # per workload of 100 transactions; SMF uses 946
NUM_SEQS = 10  # the second argument of get_best_schedule, as in the original
RNG_SEED = 42  # random.seed() before the first workload of a set: the leaderboard's human-SOTA seed
CANDIDATE_TIMEOUT_S = {"quick": 60.0, "full": 300.0, "holdout": 300.0}
STAGES = tuple(CANDIDATE_TIMEOUT_S)


@dataclass(frozen=True)
class StagePlan:
    stage: str
    sets: tuple[WorkloadSet, ...]  # one candidate process per set
    budget: int
    candidate_timeout_s: float
    source: str  # where the workloads come from, for the feedback


def stage_plan(stage: str, data_folder: Path | None) -> StagePlan:
    """The workloads and limits of `stage`; `data_folder` holds the real workloads.json, or None."""
    if stage not in CANDIDATE_TIMEOUT_S:
        raise ValueError(f"txn_scheduling has no stage {stage!r}; stages: {list(STAGES)}")
    timeout = CANDIDATE_TIMEOUT_S[stage]
    if stage == "holdout":
        sets = tuple(synthetic_set(seed, prefix=f"s{seed}_") for seed in HOLDOUT_SEEDS)
        return StagePlan(stage, sets, FULL_BUDGET, timeout, f"held-out synthetic seeds {list(HOLDOUT_SEEDS)}")
    base = load_real_set(data_folder) if data_folder is not None else synthetic_set(EVOLUTION_SEED)
    source = f"real workloads ({data_folder})" if data_folder is not None else f"synthetic seed {EVOLUTION_SEED}"
    if stage == "quick":
        return StagePlan(stage, (every_other(base),), QUICK_BUDGET, timeout, f"{source}, every second transaction")
    return StagePlan(stage, (base,), FULL_BUDGET, timeout, source)


def driver_payload(workload_set: WorkloadSet, budget: int) -> dict[str, Any]:
    """What driver.run() receives for one set (JSON)."""
    return {
        "workloads": [{"name": w.name, "ops": list(w.ops)} for w in workload_set.workloads],
        "budget": budget,
        "num_seqs": NUM_SEQS,
        "rng_seed": RNG_SEED,
    }
