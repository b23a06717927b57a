"""Per-call policy time for eplb, estimated so that the candidate cannot make itself look fast.

The driver times each call with perf_counter_ns inside the candidate's process, where the
candidate can patch the clock, precompute answers at import time, or cache repeated inputs. So:
- repeats use distinct inputs (seeded resamples, trace.variants) and every timed call is scored,
  so caching or answering junk fast on "timing-only" calls does not pay;
- the reported times may not add up to more than the process lived (harness wall time, measured
  outside the candidate);
- the reported median is floored by a wall-clock bound: (candidate process wall time - the fixed
  overhead of a process running the trusted baseline on the same payload - slack) / calls. Time
  spent outside the timed calls (imports, precomputation, a clock that under-reports) therefore
  counts, beyond the slack. The slack = SLACK_S + SLACK_FRACTION x (overhead + reported call
  time) absorbs load changes between processes on a shared machine (measured: honest runs of the
  baseline against itself stay under it); its price is that a clock scaled down by a factor k
  is credited max(k, 1 - SLACK_FRACTION k) of the true time, at best 1 / (1 + SLACK_FRACTION) = 0.8,
  minus (SLACK_S + SLACK_FRACTION x overhead) / calls. A clock that reports ~0 gains only the latter.
The baseline runs the same driver on the same payload in its own process just before and just
after the candidate, so both times come from the same machine under the same load; only their
ratio scores. The larger of the two baseline overheads is used (lenient to honest candidates).

Must not: run processes (the evaluator does) or score balancedness.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

SLACK_S = 0.02  # absolute jitter allowance of one process start, seconds
SLACK_FRACTION = 0.25  # ... plus this fraction of (fixed overhead + reported call time)
CLOCK_TOLERANCE_S = 0.02  # reported call time may exceed the wall time by this much (clock granularity)
FLOOR_S = 1e-6  # no policy is credited with less than a microsecond per call


class TimingError(ValueError):
    """Reported call times that cannot be true (more time than the process existed)."""


@dataclass(frozen=True)
class Timing:
    """The per-call time used for scoring and how it was obtained."""

    seconds: float
    reported_median_s: float
    wall_bound_s: float
    calls: int
    wall_s: float
    source: str  # "driver" (median of reported times) or "wall" (the wall-clock bound was larger)


def baseline_timing(runs: list[tuple[list[int], float]]) -> tuple[Timing, float]:
    """Timing of the trusted baseline over its runs (reported ns, wall s), pooled, and the largest
    fixed overhead of its processes (start, imports, payload and result I/O)."""
    pooled = [ns for reported, _ in runs for ns in reported]
    median = statistics.median(pooled) / 1e9
    overhead = max(max(0.0, wall - sum(reported) / 1e9) for reported, wall in runs)
    wall = sum(w for _, w in runs)
    timing = Timing(
        max(median, FLOOR_S), median, sum(pooled) / 1e9 / len(pooled), len(pooled), wall, "driver"
    )
    return timing, overhead


def candidate_timing(reported_ns: list[int], wall_s: float, overhead_s: float) -> Timing:
    """Timing of the candidate: median of its reported call times, floored by the wall bound."""
    if any(not isinstance(ns, int) or isinstance(ns, bool) or ns < 0 for ns in reported_ns):
        raise TimingError("reported call times must be non-negative integers (ns)")
    total = sum(reported_ns) / 1e9
    if total > wall_s + CLOCK_TOLERANCE_S:
        raise TimingError(
            f"the calls reportedly took {total:.3f} s but the whole process lived {wall_s:.3f} s: the clock was tampered with"
        )
    median = statistics.median(reported_ns) / 1e9
    slack = SLACK_S + SLACK_FRACTION * (overhead_s + total)
    bound = max(0.0, wall_s - overhead_s - slack) / len(reported_ns)
    source = "wall" if bound > median else "driver"
    return Timing(max(median, bound, FLOOR_S), median, bound, len(reported_ns), wall_s, source)
