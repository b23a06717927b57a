"""Clocks for the timing protocol: CUDA events on a GPU, perf counters on a CPU, cache flushing and
the "repeat until the median is stable" rule.

Runs inside the candidate's process (so every number it yields is a claim the trusted side checks,
see verify.py). On a GPU, `time_call` records a CUDA event before and after the call on the current
stream and synchronises, so asynchronous launches are counted until the work is done; the cache
flush (writing a buffer larger than L2) happens before the start event and is not timed. On a CPU
the same protocol uses time.perf_counter_ns around the call. The end event is recorded after a
device-wide synchronize, so work queued on side streams cannot escape the measurement.

Must not: decide whether a result is correct or whether a time is plausible.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

GPU_FLUSH_BYTES = 256 << 20  # larger than the L2 of any current GPU (H100: 50 MB, B200: 126 MB)


class Clock:
    """Times one call on a device; `flush()` evicts caches between repetitions (untimed)."""

    def __init__(self, device: torch.device, flush_bytes: int):
        self.device = device
        self.cuda = device.type == "cuda"
        if self.cuda:
            flush_bytes = max(flush_bytes, GPU_FLUSH_BYTES)
            self._start = torch.cuda.Event(enable_timing=True)
            self._end = torch.cuda.Event(enable_timing=True)
        self._flush_buffer = torch.empty(max(flush_bytes, 1), dtype=torch.int8, device=device)

    def flush(self) -> None:
        self._flush_buffer.fill_(1)  # a write touches every line, evicting the candidate's data
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def time_call(self, fn: Callable[..., Any], args: list[Any]) -> tuple[Any, float]:
        """(fn(*args), seconds). Compilation must already have happened in warm-up."""
        if self.cuda:
            self._start.record()
            out = fn(*args)
            # Synchronise the whole device before the end event, so work the kernel queued on
            # other streams is counted too (costs a few microseconds of sync latency per call).
            torch.cuda.synchronize(self.device)
            self._end.record()
            self._end.synchronize()
            return out, self._start.elapsed_time(self._end) * 1e-3
        start = time.perf_counter_ns()
        out = fn(*args)
        return out, (time.perf_counter_ns() - start) * 1e-9


@dataclass
class Series:
    """Repetition times (or per-repetition ratios) of one function on one case."""

    values: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        self.values.append(value)

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    def median_interval(self) -> tuple[float, float]:
        """A ~95% distribution-free confidence interval of the median (order statistics)."""
        ordered = sorted(self.values)
        n = len(ordered)
        if n == 0:
            return float("nan"), float("nan")
        half = 0.98 * math.sqrt(n)  # 1.96 * sqrt(n) / 2
        lo = max(0, math.floor(n / 2 - half))
        hi = min(n - 1, math.ceil(n / 2 + half) - 1)
        return ordered[lo], ordered[hi]

    def is_stable(self, rel: float, min_count: int) -> bool:
        """Whether the median is known to within +-rel (relative) with ~95% confidence."""
        if len(self.values) < max(min_count, 3):
            return False
        lo, hi = self.median_interval()
        med = self.median
        return med > 0 and (hi - lo) <= 2 * rel * med

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.values)
        return {
            "median": self.median,
            "min": ordered[0] if ordered else float("nan"),
            "count": len(ordered),
        }


def paired_ratios(numerator: list[float], denominator: list[float]) -> Series:
    """Per-repetition ratios numerator[i] / denominator[i]: slow drifts of machine load cancel."""
    return Series([a / b for a, b in zip(numerator, denominator, strict=False) if b > 0])
