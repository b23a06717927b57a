"""DeepSeek EPLB (hierarchical policy, as ported to vLLM), written with torch: the trusted baseline
that programs taking torch tensors are timed against (problems/eplb/evaluator.py picks it).

The same algorithm, step for step, as problems/eplb/baselines/deepseek_eplb.py (the numpy port), and
the same placement on every input: the greedy loops run over items with all layers (rows) processed
at once. It exists so that a program handed torch tensors is compared with a baseline that pays
torch's per-operation cost on CPU too, as on the public evaluator (whose baseline is torch), rather
than with numpy's. It lives here, not in baselines/, because it is the evaluator's timing reference
for torch programs rather than a policy offered to users (and so counts in the problem's fingerprint).

Runs as a program in its own session (paired.py), like the numpy baseline. Must not: import adrs
or anything beyond torch; its answers are re-validated like any program's.
"""

import torch


def _balanced_packing(weight, num_packs):
    """Greedy: heaviest item first, into the lightest pack that still has room.

    weight [rows, items] -> (pack index, rank inside the pack), both [rows, items].
    """
    rows, items = weight.shape
    per_pack = items // num_packs
    if per_pack == 1:
        index = torch.arange(items).expand(rows, items).clone()
        return index, torch.zeros((rows, items), dtype=torch.int64)
    order = torch.argsort(-weight, dim=1, stable=True)
    pack_weight = torch.zeros((rows, num_packs), dtype=torch.float64)
    pack_items = torch.zeros((rows, num_packs), dtype=torch.int64)
    pack_index = torch.empty((rows, items), dtype=torch.int64)
    rank = torch.empty((rows, items), dtype=torch.int64)
    row = torch.arange(rows)
    full = torch.tensor(float("inf"), dtype=torch.float64)
    for k in range(items):
        item = order[:, k]
        pack = torch.where(pack_items < per_pack, pack_weight, full).argmin(dim=1)
        pack_index[row, item] = pack
        rank[row, item] = pack_items[row, pack]
        pack_weight[row, pack] += weight[row, item]
        pack_items[row, pack] += 1
    return pack_index, rank


def _replicate_experts(weight, num_physical):
    """Give each extra slot to the expert with the largest load per replica.

    weight [rows, experts] -> phy2log [rows, num_physical], replica rank, replica count.
    """
    rows, experts = weight.shape
    phy2log = torch.empty((rows, num_physical), dtype=torch.int64)
    phy2log[:, :experts] = torch.arange(experts)
    rank = torch.zeros((rows, num_physical), dtype=torch.int64)
    count = torch.ones((rows, experts), dtype=torch.int64)
    row = torch.arange(rows)
    for slot in range(experts, num_physical):
        chosen = (weight / count).argmax(dim=1)
        phy2log[:, slot] = chosen
        rank[:, slot] = count[row, chosen]
        count[row, chosen] += 1
    return phy2log, rank, count


def _inverse(perm):
    inv = torch.empty_like(perm)
    inv.scatter_(1, perm, torch.arange(perm.shape[1]).expand(perm.shape).contiguous())
    return inv


def _hierarchical(weight, num_physical, num_groups, num_nodes, num_gpus):
    layers, experts = weight.shape
    group_size = experts // num_groups
    groups_per_node = num_groups // num_nodes
    phy_per_gpu = num_physical // num_gpus
    # 1. expert groups -> nodes; renumber experts so each node's experts are contiguous
    group_load = weight.reshape(layers, num_groups, group_size).sum(dim=2)
    group_node, group_rank = _balanced_packing(group_load, num_nodes)
    log2mlog = ((group_node * groups_per_node + group_rank) * group_size)[:, :, None] + torch.arange(group_size)
    log2mlog = log2mlog.reshape(layers, experts)
    mlog2log = _inverse(log2mlog)
    # 2. replicate experts inside each node
    node_weight = torch.gather(weight, 1, mlog2log).reshape(layers * num_nodes, -1)
    phy2mlog, phy_rank, mlog_count = _replicate_experts(node_weight, num_physical // num_nodes)
    # 3. replicas -> GPUs of the node
    replica_load = torch.gather(node_weight / mlog_count, 1, phy2mlog)
    gpu, gpu_rank = _balanced_packing(replica_load, num_gpus // num_nodes)
    phy2pphy = gpu * phy_per_gpu + gpu_rank
    pphy2phy = _inverse(phy2pphy)
    pphy2mlog = torch.gather(phy2mlog, 1, pphy2phy)
    node_offset = (torch.arange(num_nodes) * (experts // num_nodes))[None, :, None]
    pphy2mlog = (pphy2mlog.reshape(layers, num_nodes, -1) + node_offset).reshape(layers, -1)
    pphy2log = torch.gather(mlog2log, 1, pphy2mlog)
    pphy_rank = torch.gather(phy_rank, 1, pphy2phy).reshape(layers, -1)
    logcnt = torch.gather(mlog_count.reshape(layers, -1), 1, log2mlog)
    return pphy2log, pphy_rank, logcnt


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    """Place `num_replicas` physical experts for every layer of `weight` [layers, experts] (a tensor).

    Returns (phy2log [layers, num_replicas], log2phy [layers, experts, width] padded with -1,
    logcnt [layers, experts]), int64 CPU tensors.
    """
    weight = torch.as_tensor(weight).detach().cpu().to(torch.float64)
    layers, experts = weight.shape
    if num_groups % num_nodes == 0:
        phy2log, rank, logcnt = _hierarchical(weight, num_replicas, num_groups, num_nodes, num_gpus)
    else:  # the reference falls back to one global group on one node
        phy2log, rank, logcnt = _hierarchical(weight, num_replicas, 1, 1, num_gpus)
    width = num_replicas - experts + 1
    log2phy = torch.full((layers, experts * width), -1, dtype=torch.int64)
    log2phy.scatter_(1, phy2log * width + rank, torch.arange(num_replicas).expand(layers, -1).contiguous())
    return phy2log, log2phy.reshape(layers, experts, width), logcnt
