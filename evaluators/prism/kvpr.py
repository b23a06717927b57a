"""KV-cache pressure (KVPR), the lower bound, the round-robin reference and the per-case score.

A placement here is trusted and already validated: one list of model indices per GPU id
(0 ... gpu_num-1), sizes and rates always read from the original ModelSpec records. Must not
accept anything that came from the candidate unvalidated (see validate.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from evaluators.prism.cases import ModelSpec, PrismCase

GPU_MEMORY_GB = 80
FULL_GPU_KVPR = 1_000_000.0  # the leaderboard's penalty for a GPU left with no free memory


def gpu_kvpr(models: Sequence[ModelSpec]) -> float:
    """R(S) / (80 - M(S)); an empty GPU has 0, a GPU filled to exactly 80 GB gets the penalty."""
    used = sum(m.size_gb for m in models)
    free = GPU_MEMORY_GB - used
    if free <= 0:
        return FULL_GPU_KVPR
    return sum(m.weighted_rate for m in models) / free


def gpu_loads(case: PrismCase, groups: Sequence[Sequence[int]]) -> list[float]:
    """KVPR of every GPU of a placement given as model indices per GPU."""
    return [gpu_kvpr([case.models[i] for i in group]) for group in groups]


def max_kvpr(case: PrismCase, groups: Sequence[Sequence[int]]) -> float:
    """The placement objective: the worst GPU's KVPR (empty GPUs count 0, so never below 0)."""
    return max(gpu_loads(case, groups), default=0.0)


def lower_bound(case: PrismCase) -> float:
    """R_total / (gpu_num x 80 - M_total): pressure if all free memory could be pooled (100 points).

    A true lower bound by the mediant inequality; 0 when the models do not fit at all (never here).
    """
    free = case.gpu_num * GPU_MEMORY_GB - sum(m.size_gb for m in case.models)
    if free <= 0:
        return 0.0
    return sum(m.weighted_rate for m in case.models) / free


def round_robin(case: PrismCase) -> list[list[int]]:
    """The 0-point reference: model j on GPU j mod gpu_num, in generated order."""
    groups: list[list[int]] = [[] for _ in range(case.gpu_num)]
    for j in range(len(case.models)):
        groups[j % case.gpu_num].append(j)
    return groups


def case_score(baseline: float, bound: float, solution: float) -> float:
    """100 x sqrt of the fraction of the way from round robin to the bound, clipped to [0, 1]."""
    if baseline <= bound:
        return 100.0 if solution <= bound else 0.0
    ratio = (baseline - solution) / (baseline - bound)
    return 100.0 * math.sqrt(min(1.0, max(0.0, ratio)))


def gap_closed(baseline: float, bound: float, solution: float) -> float:
    """The unscaled fraction of the way from round robin to the bound, clipped to [0, 1]."""
    if baseline <= bound:
        return 1.0 if solution <= bound else 0.0
    return min(1.0, max(0.0, (baseline - solution) / (baseline - bound)))
