"""The cloudcast score: the leaderboard's 0-100 scale on total cost, plus the raw figures.

Leaderboard: score = 100 (1199.00 - clamp(total, 626.24, 1199.00)) / (1199.00 - 626.24), on its
five real configurations. 1199.00 is about the cost of sending everything directly (measured here:
$1199.17) and 626.24 is undocumented. For any other workload (quick, holdout, synthetic data)
both anchors are scaled by the trusted Dijkstra baseline's cost on that workload
(x 1199.00/1045.86 and x 626.24/1045.86), so the baseline scores 26.74 everywhere and the scale
means the same thing. `score_unclamped` and `cost_ratio` (total / baseline total) keep the
differences among the best solutions that the clamp at 100 hides.
Must not: simulate or validate.
"""

from __future__ import annotations

from dataclasses import dataclass

WORST_COST = 1199.00
BEST_COST = 626.24
BASELINE_COST = 1045.86  # the leaderboard's Dijkstra baseline on its real configurations


@dataclass(frozen=True)
class Score:
    score: float
    score_unclamped: float
    worst: float
    best: float


def anchors(reference_total: float, leaderboard: bool) -> tuple[float, float]:
    if leaderboard:
        return WORST_COST, BEST_COST
    return reference_total * WORST_COST / BASELINE_COST, reference_total * BEST_COST / BASELINE_COST


def score(total: float, reference_total: float, leaderboard: bool) -> Score:
    worst, best = anchors(reference_total, leaderboard)
    raw = 100.0 * (worst - total) / (worst - best)
    return Score(min(max(raw, 0.0), 100.0), raw, worst, best)
