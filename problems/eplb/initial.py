"""eplb initial program: decide how many replicas each MoE expert gets and on which GPU slot
each replica lives, for every layer, from the load of the current window.

Starts as the DeepSeek EPLB hierarchical policy (numpy). Interface (fixed):
rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus) -> (phy2log, log2phy, logcnt)
with weight an int64 numpy array [layers, experts]; slots num_replicas // num_gpus per GPU, in order.
"""

import numpy as np


# EVOLVE-BLOCK-START
def _balanced_packing(weight, num_packs):
    """Greedy: heaviest item first, into the lightest pack that still has room.

    weight [rows, items] -> (pack index, rank inside the pack), both [rows, items].
    """
    rows, items = weight.shape
    per_pack = items // num_packs
    if per_pack == 1:
        index = np.broadcast_to(np.arange(items), (rows, items)).copy()
        return index, np.zeros((rows, items), dtype=np.int64)
    order = np.argsort(-weight, axis=1, kind="stable")
    pack_weight = np.zeros((rows, num_packs))
    pack_items = np.zeros((rows, num_packs), dtype=np.int64)
    pack_index = np.empty((rows, items), dtype=np.int64)
    rank = np.empty((rows, items), dtype=np.int64)
    row = np.arange(rows)
    for k in range(items):
        item = order[:, k]
        pack = np.where(pack_items < per_pack, pack_weight, np.inf).argmin(axis=1)
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
    phy2log = np.empty((rows, num_physical), dtype=np.int64)
    phy2log[:, :experts] = np.arange(experts)
    rank = np.zeros((rows, num_physical), dtype=np.int64)
    count = np.ones((rows, experts), dtype=np.int64)
    row = np.arange(rows)
    for slot in range(experts, num_physical):
        chosen = (weight / count).argmax(axis=1)
        phy2log[:, slot] = chosen
        rank[:, slot] = count[row, chosen]
        count[row, chosen] += 1
    return phy2log, rank, count


def _inverse(perm):
    inv = np.empty_like(perm)
    np.put_along_axis(inv, perm, np.broadcast_to(np.arange(perm.shape[1]), perm.shape), axis=1)
    return inv


def _hierarchical(weight, num_physical, num_groups, num_nodes, num_gpus):
    layers, experts = weight.shape
    group_size = experts // num_groups
    groups_per_node = num_groups // num_nodes
    phy_per_gpu = num_physical // num_gpus
    # 1. expert groups -> nodes; renumber experts so each node's experts are contiguous
    group_load = weight.reshape(layers, num_groups, group_size).sum(axis=2)
    group_node, group_rank = _balanced_packing(group_load, num_nodes)
    log2mlog = ((group_node * groups_per_node + group_rank) * group_size)[:, :, None] + np.arange(group_size)
    log2mlog = log2mlog.reshape(layers, experts)
    mlog2log = _inverse(log2mlog)
    # 2. replicate experts inside each node
    node_weight = np.take_along_axis(weight, mlog2log, axis=1).reshape(layers * num_nodes, -1)
    phy2mlog, phy_rank, mlog_count = _replicate_experts(node_weight, num_physical // num_nodes)
    # 3. replicas -> GPUs of the node
    replica_load = np.take_along_axis(node_weight / mlog_count, phy2mlog, axis=1)
    gpu, gpu_rank = _balanced_packing(replica_load, num_gpus // num_nodes)
    phy2pphy = gpu * phy_per_gpu + gpu_rank
    pphy2phy = _inverse(phy2pphy)
    pphy2mlog = np.take_along_axis(phy2mlog, pphy2phy, axis=1)
    node_offset = (np.arange(num_nodes) * (experts // num_nodes))[None, :, None]
    pphy2mlog = (pphy2mlog.reshape(layers, num_nodes, -1) + node_offset).reshape(layers, -1)
    pphy2log = np.take_along_axis(mlog2log, pphy2mlog, axis=1)
    pphy_rank = np.take_along_axis(phy_rank, pphy2phy, axis=1).reshape(layers, -1)
    logcnt = np.take_along_axis(mlog_count.reshape(layers, -1), log2mlog, axis=1)
    return pphy2log, pphy_rank, logcnt


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    """Place `num_replicas` physical experts for every layer of `weight` [layers, experts].

    Returns (phy2log [layers, num_replicas], log2phy [layers, experts, width] padded with -1,
    logcnt [layers, experts]).
    """
    weight = np.asarray(weight, dtype=np.float64)
    layers, experts = weight.shape
    if num_groups % num_nodes == 0:
        phy2log, rank, logcnt = _hierarchical(weight, num_replicas, num_groups, num_nodes, num_gpus)
    else:  # the reference falls back to one global group on one node
        phy2log, rank, logcnt = _hierarchical(weight, num_replicas, 1, 1, num_gpus)
    width = num_replicas - experts + 1
    log2phy = np.full((layers, experts * width), -1, dtype=np.int64)
    np.put_along_axis(log2phy, phy2log * width + rank, np.broadcast_to(np.arange(num_replicas), phy2log.shape), axis=1)
    return phy2log, log2phy.reshape(layers, experts, width), logcnt


# EVOLVE-BLOCK-END
