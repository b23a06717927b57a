"""The eplb score: the leaderboard's formula with its fixed 2 ms reference replaced by the
baseline's time measured in the same evaluation, so the score does not depend on the machine.

Leaderboard: 90 B + 5 min(0.002 / t, 2) - (min(20 t, 20) if t > 0.010 else 0), t in seconds.
Here, with r = t / t_baseline (same machine, same moment, same inputs; timing.py):
  speed   = 5 min(1 / r, 2)           (5 points at the baseline's speed, 10 at twice as fast)
  penalty = min(0.04 r, 20) if r > 5  (the leaderboard's 20 t with 1 s = 500 x 2 ms)
  score   = 90 B + speed - penalty
Must not: measure time or balancedness.
"""

from __future__ import annotations

from dataclasses import dataclass

BALANCE_WEIGHT = 90.0
SPEED_WEIGHT = 5.0
SPEED_CAP = 2.0
PENALTY_FROM_RATIO = 5.0
PENALTY_PER_RATIO = 0.04
PENALTY_CAP = 20.0


@dataclass(frozen=True)
class Score:
    score: float
    speed_points: float
    penalty: float
    time_ratio: float  # candidate time / baseline time


def score(balancedness: float, ratio: float) -> Score:
    """`ratio` = candidate time / baseline time per call (timing.paired_timing)."""
    speed = SPEED_WEIGHT * min(1.0 / ratio, SPEED_CAP)
    penalty = min(PENALTY_PER_RATIO * ratio, PENALTY_CAP) if ratio > PENALTY_FROM_RATIO else 0.0
    return Score(BALANCE_WEIGHT * balancedness + speed - penalty, speed, penalty, ratio)
