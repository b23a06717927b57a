"""Trusted evaluator of llm_routing: cache- and load-aware request routing (DualMap, SkyWalker).

Stages: single_region (DualMap's setting: 8 instances, three load levels), full (that plus
SkyWalker's setting: 3 regions with diurnal load), holdout (both settings, other seeds). The
trusted simulator runs every trace and asks the candidate each question over an interactive
session (one candidate process per trace, with driver.py), sending only what has happened so far;
evaluators.llm_routing scores the trusted runs.
"""

from __future__ import annotations

from pathlib import Path

from evaluators.llm_routing.evaluation import evaluate_stage

DRIVER = Path(__file__).with_name("driver.py")


def evaluate(program_path: str, *, stage: str = "full", workdir: str | None = None) -> dict:
    """Score the Router in `program_path`; a broken candidate raises CandidateError."""
    return evaluate_stage(program_path, DRIVER, stage, workdir)
