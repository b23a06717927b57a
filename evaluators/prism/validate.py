"""Validation of the untrusted per-case records that come back from the candidate process.

The driver (problems/prism/driver.py) runs inside the candidate's process, so every record is
untrusted JSON: this module checks its shape, the GPU ids (ints in range(gpu_num), each once),
that every model is placed exactly once, and that no GPU holds more than 80 GB by the ORIGINAL
sizes. Must not score anything, and must not repair a placement: a bad one is reported with a
reason that names what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evaluators.prism.cases import PrismCase
from evaluators.prism.kvpr import GPU_MEMORY_GB

MAX_MESSAGE_CHARS = 400


class PlacementError(ValueError):
    """A placement that breaks the rules; the message says why (it becomes a feedback line)."""


@dataclass(frozen=True)
class CaseOutcome:
    """What one case came to: a validated placement, a raised error, or an invalid placement."""

    kind: str  # "placed", "raised" or "invalid"
    groups: tuple[tuple[int, ...], ...] = ()  # model indices per GPU id 0 ... gpu_num-1 (placed)
    message: str = ""  # the exception text (raised) or the rule broken (invalid)


def read_case_record(raw: Any, case: PrismCase) -> CaseOutcome:
    """Turn one untrusted driver record into a trusted outcome; never raises for bad input."""
    if not isinstance(raw, dict):
        return CaseOutcome("invalid", message="malformed result record from the candidate process")
    status = raw.get("status")
    if status == "raised":
        return CaseOutcome("raised", message=_text(raw.get("error"), keep_tail=True))
    if status == "invalid":
        return CaseOutcome("invalid", message=_text(raw.get("reason")))
    if status != "placed":
        return CaseOutcome("invalid", message=f"malformed result record (status {_text(status)!r})")
    try:
        groups = parse_placement(raw.get("placement"), case)
    except PlacementError as exc:
        return CaseOutcome("invalid", message=str(exc))
    return CaseOutcome("placed", groups=groups)


def parse_placement(raw: Any, case: PrismCase) -> tuple[tuple[int, ...], ...]:
    """Check a placement given as [[gpu_id, [model indices]], ...]; return indices per GPU id."""
    if not isinstance(raw, list):
        raise PlacementError("the placement is not a list of [gpu_id, model indices] pairs")
    n_models = len(case.models)
    groups: list[list[int] | None] = [None] * case.gpu_num
    for entry in raw:
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], list)):
            raise PlacementError("a placement entry is not a [gpu_id, list of model indices] pair")
        gpu_id, members = entry
        if not _is_int(gpu_id) or not 0 <= gpu_id < case.gpu_num:
            raise PlacementError(
                f"GPU id {_text(gpu_id)!r} is not an int in range({case.gpu_num}); this case has {case.gpu_num} GPUs"
            )
        if groups[gpu_id] is not None:
            raise PlacementError(f"GPU id {gpu_id} appears twice")
        for member in members:
            if not _is_int(member) or not 0 <= member < n_models:
                raise PlacementError(f"model index {_text(member)!r} is not one of the {n_models} input models")
        groups[gpu_id] = list(members)
    placed = [i for group in groups if group is not None for i in group]
    _check_each_model_once(placed, n_models)
    for gpu_id, group in enumerate(groups):
        used = sum(case.models[i].size_gb for i in group or ())
        if used > GPU_MEMORY_GB:
            raise PlacementError(f"GPU {gpu_id} exceeds memory: {used} GB > {GPU_MEMORY_GB} GB")
    return tuple(tuple(group or ()) for group in groups)


def _check_each_model_once(placed: list[int], n_models: int) -> None:
    seen: set[int] = set()
    for index in placed:
        if index in seen:
            raise PlacementError(f"model_{index} is placed more than once")
        seen.add(index)
    missing = [i for i in range(n_models) if i not in seen]
    if missing:
        names = ", ".join(f"model_{i}" for i in missing[:5])
        raise PlacementError(f"not all models placed: {len(seen)}/{n_models} (missing {names})")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value: Any, keep_tail: bool = False) -> str:
    """Bounded text for feedback; a traceback keeps its tail, where the exception message is."""
    text = value if isinstance(value, str) else repr(value)
    return text[-MAX_MESSAGE_CHARS:] if keep_tail else text[:MAX_MESSAGE_CHARS]
