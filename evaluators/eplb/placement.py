"""Trusted validation of one rebalance_experts answer, as it came back from the candidate process.

Owns: the rules a placement must satisfy before it is scored. Loads are later derived from
`phy2log` alone (replica counts = occurrences), so no other output can make load vanish; the other
two outputs must agree with it exactly:
- phy2log [layers, slots]: every slot holds one logical expert id in [0, experts);
- every logical expert of every layer has at least one replica (no silent drop / zero-weighting),
  whether or not it is loaded in the current window;
- logcnt [layers, experts] equals the number of slots holding each expert (so it sums to slots);
- log2phy: the first logcnt entries of each expert list each of that expert's slots exactly once
  (checked as: per layer, the concatenated lists are a permutation of the slots, and each listed
  slot holds that expert); entries beyond logcnt are ignored (as vLLM does; conventionally -1).
GPU and node capacities hold by construction: slot s belongs to GPU s // (slots / gpus), so a
phy2log with exactly `slots` columns fills every GPU with exactly its share.

Must not: trust anything in the record, or score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from evaluators.eplb.codec import DecodeError, decode


class PlacementError(ValueError):
    """An answer that breaks a rule; the message says which and where."""


@dataclass(frozen=True)
class Placement:
    """A validated placement: which expert each slot holds, and each expert's replica count."""

    phy2log: np.ndarray  # int64 [layers, slots]
    counts: np.ndarray  # int64 [layers, experts], all >= 1


def check_record(record: Any, layers: int, experts: int, slots: int) -> Placement:
    """Decode and validate one call's record; raise PlacementError with a precise reason."""
    if not isinstance(record, dict):
        raise PlacementError("the record of a call is not an object")
    try:
        phy2log = decode(record.get("phy2log"), "<i2", (layers, slots), "phy2log")
        logcnt = decode(record.get("logcnt"), "<i2", (layers, experts), "logcnt")
        listed = decode(record.get("log2phy"), "<i2", (layers, slots), "log2phy (first logcnt entries)")
    except DecodeError as exc:
        raise PlacementError(str(exc)) from None
    return check_arrays(phy2log, logcnt, listed, experts, slots)


def check_arrays(phy2log: np.ndarray, logcnt: np.ndarray, listed: np.ndarray, experts: int, slots: int) -> Placement:
    """Validate decoded int64 arrays: phy2log [layers, slots], logcnt [layers, experts] and `listed`,
    each layer's first-logcnt log2phy entries expert after expert ([layers, slots])."""
    if phy2log.min() < 0 or phy2log.max() >= experts:
        layer, slot = np.argwhere((phy2log < 0) | (phy2log >= experts))[0]
        raise PlacementError(
            f"phy2log[{layer}, {slot}] = {phy2log[layer, slot]} is not a logical expert id in [0, {experts})"
        )
    counts = _occurrences(phy2log, experts)
    if (counts == 0).any():
        layer, expert = np.argwhere(counts == 0)[0]
        missing = int((counts == 0).sum())
        raise PlacementError(
            f"logical expert {expert} of layer {layer} has no replica ({missing} expert(s) dropped in all): "
            "every expert needs at least one slot, or its load would silently vanish"
        )
    if not np.array_equal(counts, logcnt):
        layer, expert = np.argwhere(counts != logcnt)[0]
        raise PlacementError(
            f"logcnt[{layer}, {expert}] = {logcnt[layer, expert]} but phy2log gives that expert "
            f"{counts[layer, expert]} slot(s); logcnt must count the replicas exactly (sum = {slots})"
        )
    _check_log2phy(listed, phy2log, counts, experts, slots)
    return Placement(phy2log, counts)


def _occurrences(phy2log: np.ndarray, experts: int) -> np.ndarray:
    layers = phy2log.shape[0]
    offsets = (np.arange(layers) * experts)[:, None]
    return np.bincount((phy2log + offsets).ravel(), minlength=layers * experts).reshape(layers, experts)


def _check_log2phy(listed: np.ndarray, phy2log: np.ndarray, counts: np.ndarray, experts: int, slots: int) -> None:
    layers = phy2log.shape[0]
    if listed.min() < 0 or listed.max() >= slots:
        layer = int(np.argwhere((listed < 0) | (listed >= slots))[0][0])
        raise PlacementError(f"log2phy of layer {layer} lists a slot id outside [0, {slots}) within logcnt")
    seen = np.sort(listed, axis=1)
    if not (seen == np.arange(slots)).all():
        layer = int(np.flatnonzero((seen != np.arange(slots)).any(axis=1))[0])
        raise PlacementError(f"log2phy of layer {layer} does not list every slot exactly once")
    owner = np.repeat(np.tile(np.arange(experts), layers), counts.ravel()).reshape(layers, slots)
    holder = np.take_along_axis(phy2log, listed, axis=1)
    if not np.array_equal(owner, holder):
        layer, k = np.argwhere(owner != holder)[0]
        raise PlacementError(
            f"log2phy of layer {layer} lists slot {listed[layer, k]} for expert {owner[layer, k]}, "
            f"but phy2log puts expert {holder[layer, k]} there"
        )
