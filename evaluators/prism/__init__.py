"""Trusted scorer of the prism problem: LLM-to-GPU placement minimising the worst KV-cache pressure.

Owns the seeded test cases (cases.py), the KV-cache pressure, lower bound and round-robin
reference (kvpr.py), the validation of untrusted placements (validate.py) and the stage score,
features and feedback (scoring.py). Must not run candidate code: problems/prism/evaluator.py does
that through the trusted harness and hands the untrusted results here.
"""

from evaluators.prism.cases import (
    FULL_SEED,
    HOLDOUT_SEED,
    ModelSpec,
    PrismCase,
    case_message,
    generate_cases,
)
from evaluators.prism.kvpr import (
    GPU_MEMORY_GB,
    case_score,
    gpu_kvpr,
    lower_bound,
    max_kvpr,
    round_robin,
)
from evaluators.prism.scoring import StageScore, score_stage
from evaluators.prism.validate import PlacementError, parse_placement

__all__ = [
    "FULL_SEED",
    "GPU_MEMORY_GB",
    "HOLDOUT_SEED",
    "ModelSpec",
    "PlacementError",
    "PrismCase",
    "StageScore",
    "case_score",
    "case_message",
    "generate_cases",
    "gpu_kvpr",
    "lower_bound",
    "max_kvpr",
    "parse_placement",
    "round_robin",
    "score_stage",
]
