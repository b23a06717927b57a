"""vLLM drop-in for an exported eplb policy: `rebalance_experts` with vLLM's contract, torch in and out.

Written by `adrs export` as `<stem>_vllm.py` beside the exported policy `<stem>.py` (its
POLICY_MODULE line names it). vLLM's EPLB (`vllm/distributed/eplb/rebalance_algo.py`, and the
`rebalance_experts` class method of its policy classes) calls

    rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus)

with `weight` a [layers, num_logical_experts] tensor of expert loads (any device, integer or
float), and expects, on weight's device, three int64 tensors:
    phy2log [layers, num_replicas]: the logical expert each physical slot holds;
    log2phy [layers, num_logical_experts, num_replicas - num_logical_experts + 1]: each expert's
            slots first, padded with -1;
    logcnt  [layers, num_logical_experts]: the number of replicas of each expert.
This module hands the policy what it was evaluated with (a CPU tensor if it imports torch, else a
numpy array; integer loads as int64, float loads stay float), checks its answer with the evaluator's own rules
(evaluators/eplb/placement.py: every expert at least once, the three maps agreeing exactly) and
returns exactly vLLM's shapes and dtypes. A placement that breaks a rule raises ValueError rather
than reaching the model.
"""

from __future__ import annotations

import importlib

import numpy as np
import torch

from evaluators.eplb.placement import PlacementError, check_arrays
from evaluators.leaderboard import source_imports

POLICY_MODULE = "initial"

_policy = importlib.import_module(POLICY_MODULE)
_TAKES_TORCH = source_imports(_policy.__file__, "torch")


def rebalance_experts(
    weight: torch.Tensor, num_replicas: int, num_groups: int, num_nodes: int, num_gpus: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    layers, experts = weight.shape
    if num_replicas < experts:
        raise ValueError(f"num_replicas ({num_replicas}) must be at least the number of experts ({experts})")
    given = weight.detach().cpu()
    if not (given.is_floating_point() or given.is_complex()):
        given = given.to(torch.int64)  # integer loads as adrs passed them: int64
    if not _TAKES_TORCH:
        given = given.numpy()
    answer = _policy.rebalance_experts(given, num_replicas, num_groups, num_nodes, num_gpus)
    if not isinstance(answer, (tuple, list)) or len(answer) != 3:
        raise ValueError("the policy must return (phy2log, log2phy, logcnt)")
    phy2log, log2phy, logcnt = (
        _int64(a, name) for a, name in zip(answer, ("phy2log", "log2phy", "logcnt"), strict=True)
    )
    width = num_replicas - experts + 1  # vLLM's: an expert holds at most 1 + the redundant slots
    if phy2log.shape != (layers, num_replicas) or logcnt.shape != (layers, experts):
        raise ValueError(
            f"the policy returned phy2log {phy2log.shape} and logcnt {logcnt.shape}; "
            f"expected {(layers, num_replicas)} and {(layers, experts)}"
        )
    if (
        log2phy.ndim != 3
        or log2phy.shape[:2] != (layers, experts)
        or logcnt.min() < 1
        or logcnt.max() > min(width, log2phy.shape[2])
    ):
        raise ValueError(
            f"log2phy has shape {log2phy.shape} for logcnt in [{logcnt.min()}, {logcnt.max()}]; expected "
            f"({layers}, {experts}, X) holding each expert's first logcnt slots, every expert at least once"
        )
    if logcnt.sum(axis=1).tolist() != [num_replicas] * layers:
        raise ValueError(f"logcnt must sum to num_replicas ({num_replicas}) in every layer")
    longest = int(logcnt.max())
    used = np.arange(longest)[None, None, :] < logcnt[:, :, None]  # the entries vLLM reads
    listed = log2phy[:, :, :longest][used]
    try:
        check_arrays(phy2log, logcnt, listed.reshape(layers, num_replicas), experts, num_replicas)
    except PlacementError as exc:
        raise ValueError(f"the policy's placement is invalid: {exc}") from None
    table = np.full((layers, experts, width), -1, dtype=np.int64)
    table[:, :, :longest][used] = listed
    device = weight.device
    return tuple(torch.from_numpy(np.ascontiguousarray(a)).to(device) for a in (phy2log, table, logcnt))


def _int64(value, name: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.dtype.kind not in "iu":
        raise ValueError(f"{name} has dtype {array.dtype}; expected integers")
    return array.astype(np.int64)
