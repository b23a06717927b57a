"""Trusted driver of eplb, run INSIDE the candidate's sandboxed process (numpy; torch if the program uses it).

Serves an interactive session (adrs.problemkit.SessionGroup): `start` checks the program and keeps
the call's fixed arguments; each message then carries ONE input, and `handle` calls
rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus) on it and returns a
compact record (base64 int16) of phy2log, logcnt and the first logcnt entries of log2phy per
expert. The evaluator sends the inputs in time order (a window's variants before the next window)
and times every call from its own side, so this file holds no clock and the process never holds
an input, or the window that scores it, before it is asked.

`weight` is an int64 numpy array, or an int64 CPU torch tensor when the program imports torch (as
the leaderboard's evaluator and vLLM pass it: leaderboard programs run unchanged). Importing torch
is part of importing such a program, before the session's first call: never policy time.

Everything this file produces is untrusted once the candidate shares the process: the evaluator
re-validates every record. The checks here exist only to give precise feedback early.
"""

import base64

import numpy as np

from evaluators.leaderboard import program_imports

INT16_MAX = 32767


class _Invalid(Exception):
    pass


def _decode(text, shape):
    return np.frombuffer(base64.b64decode(text), dtype="<i4").reshape(shape).astype(np.int64)


def _encode(array):
    return base64.b64encode(np.ascontiguousarray(array, dtype="<i2").tobytes()).decode("ascii")


def _as_int_array(value, name, ndim, check_range=True):
    if hasattr(value, "detach"):  # a torch tensor, possibly on a GPU
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value)
    except Exception as exc:
        raise _Invalid(f"{name} is not array-like: {exc}") from None
    if array.ndim != ndim:
        raise _Invalid(f"{name} has {array.ndim} dimension(s), expected {ndim} (shape {array.shape})")
    if not check_range:  # the caller checks the part that matters (log2phy is mostly padding)
        if array.dtype.kind not in "iuf":
            raise _Invalid(f"{name} has dtype {array.dtype}, expected integers")
        return array
    if array.dtype.kind == "f":
        if not np.isfinite(array).all() or not (array == np.round(array)).all():
            raise _Invalid(f"{name} holds non-integer values")
    elif array.dtype.kind not in "iu":
        raise _Invalid(f"{name} has dtype {array.dtype}, expected integers")
    if array.size and (array.min() < -1 or array.max() > INT16_MAX):
        raise _Invalid(f"{name} holds values outside [-1, {INT16_MAX}]")
    return array.astype(np.int64)


def _record(answer, layers, experts, slots):
    if not isinstance(answer, (tuple, list)) or len(answer) != 3:
        raise _Invalid("rebalance_experts must return a tuple (phy2log, log2phy, logcnt)")
    phy2log = _as_int_array(answer[0], "phy2log", 2)
    log2phy = _as_int_array(answer[1], "log2phy", 3, check_range=False)
    logcnt = _as_int_array(answer[2], "logcnt", 2)
    if phy2log.shape != (layers, slots):
        raise _Invalid(f"phy2log has shape {phy2log.shape}, expected {(layers, slots)}")
    if logcnt.shape != (layers, experts):
        raise _Invalid(f"logcnt has shape {logcnt.shape}, expected {(layers, experts)}")
    if log2phy.shape[:2] != (layers, experts):
        raise _Invalid(f"log2phy has shape {log2phy.shape}, expected ({layers}, {experts}, X)")
    if logcnt.min() < 0 or logcnt.max() > log2phy.shape[2]:
        raise _Invalid(f"logcnt must lie in [0, {log2phy.shape[2]}] (the width of log2phy)")
    sums = logcnt.sum(axis=1)
    if (sums != slots).any():
        layer = int(np.flatnonzero(sums != slots)[0])
        raise _Invalid(f"logcnt of layer {layer} sums to {sums[layer]}, expected {slots}")
    # Only the first max(logcnt) columns can be in use: keeps the work per call small.
    width = int(logcnt.max())
    # Entries beyond logcnt (conventionally -1) are ignored, as by vLLM.
    head = _as_int_array(log2phy[:, :, :width], "log2phy", 3)
    used = np.arange(width)[None, None, :] < logcnt[:, :, None]
    return {
        "phy2log": _encode(phy2log),
        "logcnt": _encode(logcnt),
        "log2phy": _encode(head[used].reshape(layers, slots)),
    }


_CALL = {}  # set by start(): the input's shape, how to hand it over, the fixed arguments of every call


def _torch_input():
    import torch  # a plain import: the sandbox view then shows torch wherever it is installed

    return torch.from_numpy


def _fixed_answer(layers, experts, slots):
    """A valid placement that costs nothing to compute: slot s holds expert s mod experts."""
    phy2log = np.broadcast_to(np.arange(slots) % experts, (layers, slots))
    logcnt = np.broadcast_to(np.bincount(np.arange(slots) % experts, minlength=experts), (layers, experts))
    width = int(logcnt.max())
    log2phy = np.full((experts, width), -1, dtype=np.int64)
    for slot in range(slots):
        expert = slot % experts
        log2phy[expert, slot // experts] = slot
    return phy2log, np.broadcast_to(log2phy, (layers, experts, width)), logcnt


def start(candidate, payload):
    if not callable(getattr(candidate, "rebalance_experts", None)):
        raise TypeError(
            "the program must define rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus)"
        )
    layers, experts = payload["shape"]
    slots = payload["num_replicas"]
    _CALL.update(
        layers=layers,
        experts=experts,
        slots=slots,
        args=(slots, payload["num_groups"], payload["num_nodes"], payload["num_gpus"]),
        as_input=_torch_input() if program_imports(candidate, "torch") else None,
        fixed=_fixed_answer(layers, experts, slots),
    )


def handle(candidate, message):
    layers, experts, slots = _CALL["layers"], _CALL["experts"], _CALL["slots"]
    weight = _decode(message["weight"], (layers, experts))
    if _CALL["as_input"] is not None:
        weight = _CALL["as_input"](weight)  # zero-copy
    # A null call: all of a call's work but the policy. The evaluator sends these to the trusted
    # baseline's process only, to measure what every call costs besides the policy.
    answer = _CALL["fixed"] if message.get("null") else candidate.rebalance_experts(weight, *_CALL["args"])
    try:
        return _record(answer, layers, experts, slots)
    except _Invalid as exc:
        return {"invalid": str(exc)}
