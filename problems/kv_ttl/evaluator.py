"""Trusted evaluator of kv_ttl: KV-cache time-to-live and admission order for multi-turn agents (Continuum).

Stages: quick (one SWE-bench-like trace), full (SWE-bench-like traces on an 80 GB and a 40 GB KV
budget and one BFCL-like trace), holdout (the same three from other seeds). The trusted engine
runs every trace and asks the candidate each question over an interactive session (one candidate
process per trace, with driver.py), sending only what has happened so far; evaluators.kv_ttl
scores the trusted runs.
"""

from __future__ import annotations

from pathlib import Path

from evaluators.kv_ttl.evaluation import evaluate_stage

DRIVER = Path(__file__).with_name("driver.py")


def evaluate(program_path: str, *, stage: str = "full", workdir: str | None = None) -> dict:
    """Score the Policy in `program_path`; a broken candidate raises CandidateError."""
    return evaluate_stage(program_path, DRIVER, stage, workdir)
