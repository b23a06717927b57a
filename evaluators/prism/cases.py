"""The prism test cases: seeded synthetic model sets, reproduced exactly from the leaderboard.

Owns the generation procedure (NumPy legacy RNG, the same draws in the same order as
`np.random.seed(42)` followed by `np.random.randint` calls) and the JSON payload the driver
rebuilds model objects from, one case per message. Must not touch NumPy's global RNG: a private RandomState gives the
identical stream without side effects on anyone else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

FULL_SEED = 42  # the leaderboard's seed: quick and full stages use these cases
HOLDOUT_SEED = 20_251  # a fresh, fixed seed for the held-out stage; never shown during evolution
CASES_PER_SET = 50


@dataclass(frozen=True)
class ModelSpec:
    """One LLM to place, as generated: the trusted, immutable original."""

    size_gb: int
    req_rate: int
    slo: int

    @property
    def weighted_rate(self) -> float:
        return self.req_rate / self.slo


@dataclass(frozen=True)
class PrismCase:
    """One placement instance: `gpu_num` GPUs of 80 GB, 2 x gpu_num models (model j is `model_j`)."""

    index: int
    gpu_num: int
    models: tuple[ModelSpec, ...]


def generate_cases(seed: int = FULL_SEED, count: int = CASES_PER_SET) -> list[PrismCase]:
    """Draw `count` cases exactly as the leaderboard does: per case gpu_num, then per model
    (size, rate, slo), all with randint's exclusive upper bounds."""
    rng = np.random.RandomState(seed)
    cases = []
    for index in range(count):
        gpu_num = int(rng.randint(5, 10))
        models = []
        for _ in range(2 * gpu_num):
            size = int(rng.randint(10, 30))
            rate = int(rng.randint(1, 10))
            slo = int(rng.randint(5, 10))
            models.append(ModelSpec(size, rate, slo))
        cases.append(PrismCase(index, gpu_num, tuple(models)))
    return cases


def case_message(case: PrismCase) -> dict[str, Any]:
    """The message the driver receives for one case: only the documented inputs, nothing about
    the scoring and nothing about the other cases."""
    return {"gpu_num": case.gpu_num, "models": [[m.size_gb, m.req_rate, m.slo] for m in case.models]}
