"""Noise-aware verdicts: when a re-scored program replaces the run's best, and how sure a score is.

Owns the rule, as arithmetic over scores (problem.toml's [score] noise gives `sigma`, the standard
deviation of one evaluation's score):

- A complete program is worth re-scoring when its first score beats the best's mean by more than
  the noise (one `sigma`), or when there is no best yet. Its scoring stage is then evaluated again
  until it has `repeats` scores.
- It replaces the best only when the mean of those scores beats the best's mean by more than
  `Z` standard errors of the difference, Z x sigma x sqrt(1/n + 1/m) (n, m: the two programs'
  evaluations), and none of its repeats failed.
- A score's uncertainty is the standard error of its mean, sigma / sqrt(n): 0 when the problem is
  deterministic. A deterministic problem (sigma 0) never re-scores: a higher score wins, as before.

Must not: evaluate, store or choose anything itself (adrs/referee.py, export.py and the doctor
call it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# Standard errors of the difference a challenger's mean must clear: about a 2 % chance that a
# program no better than the best replaces it, once it has been re-scored.
Z = 2.0


@dataclass(frozen=True)
class Estimate:
    """A score as measured: the mean of `evaluations` scores, its standard error, and their spread."""

    mean: float
    uncertainty: float  # standard error of the mean: sigma / sqrt(evaluations)
    evaluations: int
    spread: float | None = None  # sample standard deviation of the scores; None with fewer than two


def sample_std(values: Sequence[float]) -> float | None:
    """The sample standard deviation (n - 1), or None for fewer than two values."""
    if len(values) < 2:
        return None
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def estimate(scores: Sequence[float], sigma: float) -> Estimate:
    """The mean of `scores` with its standard error under a noise of `sigma` per evaluation."""
    if not scores:
        raise ValueError("an estimate needs at least one score")
    n = len(scores)
    return Estimate(sum(scores) / n, sigma / math.sqrt(n), n, sample_std(scores))


def worth_rescoring(first_score: float, best: Estimate | None, sigma: float | None) -> bool:
    """Whether a complete program's first score makes it a contender for the best.

    sigma None (the noise is still to be measured) re-scores the first contender, which measures it;
    a measured noise of 0 leaves the plain rule, a higher score wins (after the repeats)."""
    if best is None or sigma is None:
        return True
    return first_score > best.mean + sigma


def margin(challenger_evaluations: int, best_evaluations: int, sigma: float) -> float:
    """How far a challenger's mean must be above the best's: Z standard errors of the difference."""
    return Z * sigma * math.sqrt(1.0 / challenger_evaluations + 1.0 / best_evaluations)


def beats(challenger: Estimate, best: Estimate | None, sigma: float) -> bool:
    """Whether a re-scored challenger replaces the best."""
    if best is None:
        return True
    return challenger.mean > best.mean + margin(challenger.evaluations, best.evaluations, sigma)


def mean_metrics(metric_maps: Sequence[dict[str, float]]) -> dict[str, float]:
    """The first map's metrics, each replaced by its mean over all maps where every map holds it
    (the metrics of a re-scored program)."""
    if not metric_maps:
        return {}
    first = metric_maps[0]
    shared = set(first).intersection(*metric_maps[1:])
    return {k: sum(m[k] for m in metric_maps) / len(metric_maps) if k in shared else v for k, v in first.items()}


def run_sigma(declared: float | None, claim_noises: Sequence[float]) -> float:
    """The standard deviation of one evaluation in a run: the problem's declared noise, else the one
    its first best claim measured, else 0."""
    if declared is not None:
        return declared
    return claim_noises[0] if claim_noises else 0.0
