"""Trusted evaluator of txn_scheduling: runs the candidate's scheduler and scores its schedules.

Stages (evaluators/txn_scheduling/stages.py): quick = every second transaction of the three
workloads with 2,000 cost-function calls per workload; full = the three workloads of 100
transactions with 50,000 calls each; holdout = three synthetic sets from seeds never shown during
evolution. The workloads are the seeded synthetic ones unless `data_dir` (--data / ADRS_DATA)
holds the real workloads.json. One candidate process per workload set runs driver.py, which calls
get_best_schedule on a budgeted cost function; the schedules come back as untrusted JSON and
every makespan is recomputed here.
Must not import or call the candidate itself, or use any makespan the candidate reported.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from adrs.problemkit import default_limits, find_data, run_candidates
from evaluators.txn_scheduling import (
    SIMULATOR_FILE,
    budget_problems,
    driver_payload,
    judge,
    read_set_value,
    score_stage,
    stage_plan,
)

DRIVER = Path(__file__).with_name("driver.py")


def evaluate(
    program_path: str, *, stage: str = "full", workdir: str | None = None, data_dir: str | None = None
) -> dict:
    """Score `program_path` on the stage's workloads; a broken candidate raises CandidateError.

    The workloads and the candidate's random seed are fixed by the problem, so the same program
    scores the same every time (the engine's `seed` is not used).
    """
    plan = stage_plan(stage, find_data(data_dir, "txn_scheduling", "workloads.json"))
    limits = dataclasses.replace(default_limits(), timeout_s=plan.candidate_timeout_s)
    payloads = [driver_payload(s, plan.budget) for s in plan.sets]
    runs = run_candidates(program_path, DRIVER, payloads, limits=limits, workdir=workdir, files=[SIMULATOR_FILE])
    outcomes, problems = [], []
    for workload_set, run in zip(plan.sets, runs, strict=True):
        names = [w.name for w in workload_set.workloads]
        records, tally = read_set_value(run.raise_for_failure(), names)
        problems.extend(budget_problems(records, tally, plan.budget))
        outcomes.extend(judge(w, r, plan.budget) for w, r in zip(workload_set.workloads, records, strict=True))
    wall_s = sum(run.wall_s for run in runs)
    return score_stage(plan.stage, plan.source, outcomes, plan.budget, problems, wall_s).as_dict()
