"""Trusted evaluator of cant_be_late: single-region spot/on-demand scheduling with a deadline.

Stages: quick (180 runs, a few seconds), full (the leaderboard's 1080 runs), holdout (720 runs on
traces never scored during evolution). Real traces when `data_dir` (or ADRS_DATA) points at them,
otherwise the seeded synthetic traces fitted to them. The candidate runs only through the trusted
harness with driver.py; its action logs are replayed and scored by evaluators.cant_be_late.
"""

from __future__ import annotations

from pathlib import Path

from evaluators.cant_be_late.evaluation import evaluate_stage

DRIVER = Path(__file__).with_name("driver.py")


def evaluate(
    program_path: str, *, stage: str = "full", workdir: str | None = None, data_dir: str | None = None
) -> dict:
    """Score the Strategy in `program_path`; a broken candidate raises CandidateError."""
    return evaluate_stage(program_path, DRIVER, stage, workdir, data_dir)
