"""Per-call policy time for eplb, measured by the trusted side, paired with the baseline's, net of
what a call costs besides the policy.

The candidate and the trusted DeepSeek baseline each run in an interactive session
(adrs.problemkit.SessionGroup; paired.py). Every input goes to both, and a *null call* (the same
message handled without the policy: decoding the input, encoding a fixed answer, the channel's
round trip) goes to the baseline's process, all three back to back in rotating order; the
evaluator times each from sending the message to the reply's last byte. So:
- interpreter start, imports (torch: 1-2 s) and the warm-up calls are outside every call: a
  policy is charged for its calls only, as the public evaluator's per-call timer does;
- nothing the candidate does to its own clock, timers or driver changes a measured time;
- the three calls of a step run within milliseconds of each other, on the same machine: a busy
  machine slows them alike (CPU share: a factor, which the ratio cancels) and delays each by about
  the same wake-up latency (a term, which subtracting the null call cancels). The policy time of a
  program is the median over steps of (its call - the null call); the score uses the ratio of the
  candidate's to the baseline's (benchmarks/eplb_load.py: idle against every core busy).
What remains (docs/security.md): a policy that runs threads on several cores is faster on an idle
machine with free cores than on a busy one; a candidate that burns CPU between its calls slows
the baseline's calls only where the machine has no free core.

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

    candidate_s: float  # median over steps of (candidate call - null call): its policy time per call
    baseline_s: float  # the same for the baseline, on the same inputs
    overhead_s: float  # median null call: what a call costs besides the policy
    ratio: float  # candidate_s / baseline_s
    calls: int


def paired_timing(candidate_s: Sequence[float], baseline_s: Sequence[float], null_s: Sequence[float]) -> Timing:
    """The timing of steps i = (candidate call, baseline call, null call), all on input i."""
    if not (len(candidate_s) == len(baseline_s) == len(null_s)) or not candidate_s:
        raise ValueError("paired timing needs as many baseline and null calls as candidate calls, at least one")
    mine = statistics.median(c - n for c, n in zip(candidate_s, null_s, strict=True))
    theirs = statistics.median(b - n for b, n in zip(baseline_s, null_s, strict=True))
    mine, theirs = max(mine, FLOOR_S), max(theirs, FLOOR_S)
    return Timing(mine, theirs, statistics.median(null_s), mine / theirs, len(candidate_s))
