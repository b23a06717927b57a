"""Per-call policy time for eplb, measured by the trusted side and paired with the baseline's.

The candidate and the trusted DeepSeek baseline each run in an interactive session
(adrs.problemkit.SessionGroup; paired.py). Every input goes to both, back to back, in alternating
order, and each call is timed by the evaluator from sending the message to the reply's last byte.
So:
- interpreter start, imports (torch: 1-2 s) and the warm-up calls are outside every call: a
  policy is charged for its calls only, as the public evaluator's per-call timer does;
- nothing the candidate does to its own clock, timers or driver changes a measured time;
- both calls of a pair run within milliseconds of each other, so they see the same machine: the
  ratio of a pair's two times is stable where each time is not. The score uses the median over
  pairs of that ratio, and compares it with nothing measured at another moment or on another
  machine (benchmarks/eplb_load.py: idle against both cores busy).
What remains (docs/security.md): the time includes the driver's per-call conversion and the
channel's round trip (both sides pay it, which pulls ratios slightly towards 1); a candidate
that burns CPU between its calls slows the baseline only where the machine has no free core.

Must not: run processes (paired.py does) or score balancedness.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

FLOOR_S = 1e-6  # no call is credited with less than a microsecond


@dataclass(frozen=True)
class Timing:
    """The per-call times the score uses, all measured by the trusted side."""

    candidate_s: float  # median seconds per call of the candidate
    baseline_s: float  # median seconds per call of the baseline, on the same inputs
    ratio: float  # median over paired calls of candidate / baseline time
    calls: int


def paired_timing(candidate_s: Sequence[float], baseline_s: Sequence[float]) -> Timing:
    """The timing of paired calls (call i of both saw the same input, back to back)."""
    if len(candidate_s) != len(baseline_s) or not candidate_s:
        raise ValueError("paired timing needs as many baseline calls as candidate calls, at least one")
    ratios = [max(c, FLOOR_S) / max(b, FLOOR_S) for c, b in zip(candidate_s, baseline_s, strict=True)]
    return Timing(
        candidate_s=max(statistics.median(candidate_s), FLOOR_S),
        baseline_s=max(statistics.median(baseline_s), FLOOR_S),
        ratio=statistics.median(ratios),
        calls=len(ratios),
    )
