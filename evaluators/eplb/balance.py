"""Balancedness of a validated placement under a window's load (the leaderboard's metric).

Owns: the load simulation. Each expert's load in the scored window is split evenly over its
replicas (counts from phy2log); a GPU's load is the sum over its slots. Balancedness =
(sum over layers of mean GPU load) / (sum over layers of max GPU load), a ratio of sums.

Must not: validate (placement.py does) or time anything.
"""

from __future__ import annotations

import numpy as np

from evaluators.eplb.placement import Placement


def slot_loads(placement: Placement, load: np.ndarray) -> np.ndarray:
    """[layers, slots] load carried by each slot when `load` [layers, experts] arrives."""
    per_replica = load.astype(np.float64) / placement.counts
    return np.take_along_axis(per_replica, placement.phy2log, axis=1)


def balancedness(placement: Placement, load: np.ndarray, gpus: int) -> tuple[float, float]:
    """(GPU-level balancedness, slot-level balancedness); 1.0 when the window carries no load."""
    slots = slot_loads(placement, load)
    layers, count = slots.shape
    gpu = slots.reshape(layers, gpus, count // gpus).sum(axis=2)
    return _ratio(gpu), _ratio(slots)


def _ratio(loads: np.ndarray) -> float:
    peak = loads.max(axis=1).sum()
    return float(loads.mean(axis=1).sum() / peak) if peak > 0 else 1.0
