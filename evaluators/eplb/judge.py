"""Judging what came back from one eplb run (untrusted JSON): shape of the reply, completeness of
the sweeps, every placement validated and scored against the next window.

Owns: turning a reply into per-call balancedness and reported times, or a CandidateError
(invalid_output) whose message says which call broke which rule.
Must not: run processes, estimate time from the wall clock (timing.py) or compute the score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from adrs.problemkit import INVALID_OUTPUT, CandidateError
from evaluators.eplb.balance import balancedness
from evaluators.eplb.placement import PlacementError, check_record
from evaluators.eplb.stages import NUM_GPUS, NUM_REPLICAS, Workload


@dataclass(frozen=True)
class Judged:
    """Per sweep and pair: GPU balancedness, slot balancedness, and reported call time (ns)."""

    gpu_balance: np.ndarray  # [sweeps, pairs]
    slot_balance: np.ndarray  # [sweeps, pairs]
    reported_ns: list[int]

    @property
    def sweeps(self) -> int:
        return self.gpu_balance.shape[0]


def judge(workload: Workload, value: Any, wall_s: float) -> Judged:
    """Validate the whole reply; raise CandidateError(invalid_output, reason) on any breach."""
    if not isinstance(value, dict):
        raise _invalid("the driver's reply is not an object")
    if "invalid" in value:
        where = _where(workload, value.get("sweep"), value.get("call"))
        raise _invalid(f"{where}: {value['invalid']}")
    sweeps = value.get("sweeps")
    planned = len(workload.inputs)
    if not isinstance(sweeps, list) or not 1 <= len(sweeps) <= planned:
        raise _invalid(f"expected between 1 and {planned} sweeps of answers")
    if len(sweeps) < planned and wall_s < workload.budget_s:
        raise _invalid(
            f"only {len(sweeps)} of {planned} sweeps came back although the process ran {wall_s:.2f} s, "
            f"less than the {workload.budget_s:g} s budget after which the driver may stop"
        )
    layers, experts = workload.shape
    pairs = len(workload.pairs)
    gpu = np.empty((len(sweeps), pairs))
    slot = np.empty((len(sweeps), pairs))
    times: list[int] = []
    for s, records in enumerate(sweeps):
        if not isinstance(records, list) or len(records) != pairs:
            raise _invalid(
                f"sweep {s} holds {len(records) if isinstance(records, list) else 'no'} answers, expected {pairs}"
            )
        for k, record in enumerate(records):
            try:
                placement = check_record(record, layers, experts, NUM_REPLICAS)
            except PlacementError as exc:
                raise _invalid(f"{_where(workload, s, k)}: {exc}") from None
            gpu[s, k], slot[s, k] = balancedness(placement, workload.pairs[k].next_load, NUM_GPUS)
            times.append(record.get("ns"))
    return Judged(gpu, slot, times)


def _where(workload: Workload, sweep: Any, call: Any) -> str:
    if isinstance(call, int) and 0 <= call < len(workload.pairs):
        pair = workload.pairs[call]
        return f"trace {pair.trace}, window {pair.index} (input variant {sweep})"
    return f"call {call!r} of sweep {sweep!r}"


def _invalid(message: str) -> CandidateError:
    return CandidateError(INVALID_OUTPUT, message)
