"""Trusted evaluator of prism: runs the candidate's placement policy on seeded cases and scores it.

Stages: quick = the first 10 of the leaderboard's 50 cases (seed 42), full = all 50, holdout = 50
fresh cases from another fixed seed (never shown during evolution). All cases of a stage run in
ONE candidate process through the trusted harness and driver.py; the evaluator validates every
record that comes back and scores against the original model data (evaluators.prism).
Must not import or call the candidate itself, and must not read anything the candidate printed.
"""

from __future__ import annotations

from pathlib import Path

from adrs.problemkit import run_candidate
from evaluators.prism import FULL_SEED, HOLDOUT_SEED, cases_payload, generate_cases, score_stage

DRIVER = Path(__file__).with_name("driver.py")
QUICK_CASES = 10
CASE_TIMEOUT_S = 10.0  # the leaderboard's per-case limit, enforced inside the candidate process
STAGE_SEEDS = {"quick": FULL_SEED, "full": FULL_SEED, "holdout": HOLDOUT_SEED}


def stage_cases(stage: str):
    """The trusted cases of a stage (fixed seeds; evaluate()'s `seed` does not change them)."""
    if stage not in STAGE_SEEDS:
        raise ValueError(f"prism has no stage {stage!r}; stages: {sorted(STAGE_SEEDS)}")
    cases = generate_cases(STAGE_SEEDS[stage])
    return cases[:QUICK_CASES] if stage == "quick" else cases


def evaluate(program_path: str, *, stage: str = "full", workdir: str | None = None) -> dict:
    """Score `program_path` on the stage's cases; a broken candidate raises CandidateError."""
    cases = stage_cases(stage)
    run = run_candidate(program_path, DRIVER, cases_payload(cases, CASE_TIMEOUT_S), workdir=workdir)
    records = run.raise_for_failure()
    result = score_stage(cases, records, stage).as_dict()
    result["metrics"]["candidate_wall_s"] = run.wall_s
    return result
