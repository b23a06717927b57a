"""Runs an exported eplb policy the way vLLM's EPLB calls it (written by adrs export as <stem>_example.py).

Random expert loads for 4 MoE layers of 64 experts go through `<stem>_vllm.rebalance_experts` as
CPU tensors, with vLLM's arguments for 288 physical slots on 32 GPUs in 4 nodes; the example checks
vLLM's shapes and dtypes and prints each layer's GPU balancedness (mean / max GPU load).
"""

import importlib

import numpy as np
import torch

POLICY_MODULE = "initial"
LAYERS, EXPERTS, REPLICAS, GROUPS, NODES, GPUS = 4, 64, 288, 8, 4, 32


def main() -> None:
    vllm = importlib.import_module(POLICY_MODULE + "_vllm")
    rng = np.random.default_rng(0)
    loads = torch.from_numpy(rng.multinomial(32_768, rng.dirichlet([0.3] * EXPERTS), size=LAYERS))
    phy2log, log2phy, logcnt = vllm.rebalance_experts(loads, REPLICAS, GROUPS, NODES, GPUS)
    width = REPLICAS - EXPERTS + 1
    assert phy2log.shape == (LAYERS, REPLICAS) and log2phy.shape == (LAYERS, EXPERTS, width)
    assert logcnt.shape == (LAYERS, EXPERTS)
    assert {phy2log.dtype, log2phy.dtype, logcnt.dtype} == {torch.int64}
    share = loads.double() / logcnt  # each replica serves an equal share of its expert's load
    slot_load = torch.gather(share, 1, phy2log)
    gpu_load = slot_load.view(LAYERS, GPUS, -1).sum(-1)
    balance = (gpu_load.mean(-1) / gpu_load.max(-1).values).tolist()
    print("GPU balancedness per layer:", " ".join(f"{b:.3f}" for b in balance))


if __name__ == "__main__":
    main()
