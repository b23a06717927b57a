"""Judging what came back from eplb calls (untrusted JSON): every placement validated and scored
against the next window.

Owns: turning one call's reply into GPU and slot balancedness, or a CandidateError
(invalid_output) whose message says which call broke which rule; and `Judged`, the balancedness
of every call of one program, pair by pair, with the averages the score uses.
Must not: run processes, measure time (paired.py, timing.py) or compute the score.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from adrs.problemkit import INVALID_OUTPUT, CandidateError
from evaluators.eplb.balance import balancedness
from evaluators.eplb.placement import PlacementError, check_record
from evaluators.eplb.stages import NUM_GPUS, NUM_REPLICAS, Workload


@dataclass
class Judged:
    """GPU and slot balancedness of every call, per pair in call order (variant 0 first)."""

    gpu: list[list[float]] = field(default_factory=list)
    slot: list[list[float]] = field(default_factory=list)

    @property
    def calls(self) -> int:
        return sum(len(calls) for calls in self.gpu)

    def balance(self, pairs: list[int] | None = None) -> float:
        """Mean over pairs of the mean over the pair's calls (every pair weighs the same)."""
        chosen = range(len(self.gpu)) if pairs is None else pairs
        return float(np.mean([np.mean(self.gpu[k]) for k in chosen]))

    def exact(self) -> float:
        """Mean over pairs of the unperturbed input's balancedness (the leaderboard's number)."""
        return float(np.mean([calls[0] for calls in self.gpu]))

    def slot_balance(self) -> float:
        return float(np.mean([np.mean(calls) for calls in self.slot]))

    def pair_means(self) -> np.ndarray:
        return np.array([np.mean(calls) for calls in self.gpu])


def judge_call(workload: Workload, pair: int, sweep: int, value: Any) -> tuple[float, float]:
    """Validate one call's reply; its (GPU, slot) balancedness on the next window, or
    CandidateError(invalid_output, reason)."""
    if not isinstance(value, dict):
        raise _invalid(f"{where(workload, pair, sweep)}: the driver's reply is not an object")
    if "invalid" in value:
        raise _invalid(f"{where(workload, pair, sweep)}: {value['invalid']}")
    layers, experts = workload.shape
    try:
        placement = check_record(value, layers, experts, NUM_REPLICAS)
    except PlacementError as exc:
        raise _invalid(f"{where(workload, pair, sweep)}: {exc}") from None
    gpu, slot = balancedness(placement, workload.pairs[pair].next_load, NUM_GPUS)
    return float(gpu), float(slot)


def where(workload: Workload, pair: int, sweep: int) -> str:
    """Names a call in messages: trace, window and input variant."""
    if 0 <= pair < len(workload.pairs):
        scored = workload.pairs[pair]
        return f"trace {scored.trace}, window {scored.index} (input variant {sweep})"
    return f"call {pair!r} of sweep {sweep!r}"


def _invalid(message: str) -> CandidateError:
    return CandidateError(INVALID_OUTPUT, message)
