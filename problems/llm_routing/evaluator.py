"""Trusted evaluator of llm_routing: cache- and load-aware request routing (DualMap, SkyWalker).

Stages: single_region (DualMap's setting: 8 instances, three load levels), full (that plus
SkyWalker's setting: 3 regions with diurnal load), holdout (both settings, other seeds). The
candidate runs only through the trusted harness with driver.py, one process per CPU; its answer
logs are replayed and scored by evaluators.llm_routing.
"""

from __future__ import annotations

import os
from pathlib import Path

from adrs.problemkit import CandidateError, run_candidates
from evaluators.llm_routing.evaluation import Rejected, plan_stage, score_stage

DRIVER = Path(__file__).with_name("driver.py")


def evaluate(program_path: str, *, stage: str = "full", workdir: str | None = None) -> dict:
    """Score the Router in `program_path`; a broken candidate raises CandidateError."""
    plan = plan_stage(stage, processes=os.cpu_count() or 1)
    runs = run_candidates(program_path, DRIVER, plan.payloads, workdir=workdir)
    try:
        result = score_stage(plan, [run.raise_for_failure() for run in runs])
    except Rejected as exc:
        raise CandidateError(exc.kind, exc.message) from None
    result["metrics"]["candidate_wall_s"] = round(max(run.wall_s for run in runs), 3)
    return result
