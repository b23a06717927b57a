"""cloudcast initial program: broadcast `num_partitions` equal partitions of a dataset from `src`
to every region in `dsts` over the cloud region graph G, as cheaply as possible.

Starts as the leaderboard baseline (cheapest-cost path per destination). Interface (fixed):
search_algorithm(src, dsts, G, num_partitions) -> BroadCastTopology, where G[u][v] is
{"cost": $/GB, "throughput": Gbps} for every ordered pair of the 71 regions, and
topology.paths[dst][str(p)] lists the edges [u, v, G[u][v]] that partition p crosses for dst.
An edge carrying partition p is paid once however many destinations share it; every partition
must reach every destination.
"""

import heapq
import itertools


class BroadCastTopology:
    def __init__(self, src, dsts, num_partitions):
        self.src = src
        self.dsts = dsts
        self.num_partitions = int(num_partitions)
        self.paths = {dst: {str(i): None for i in range(self.num_partitions)} for dst in dsts}

    def append_dst_partition_path(self, dst, partition, path):
        partition = str(partition)
        if self.paths[dst][partition] is None:
            self.paths[dst][partition] = []
        self.paths[dst][partition].append(path)

    def set_num_partitions(self, num_partitions):
        self.num_partitions = num_partitions


# EVOLVE-BLOCK-START
def _cheapest_path(G, src, dst):
    done, seen, paths = {}, {src: 0.0}, {src: [src]}
    counter = itertools.count()
    fringe = [(0.0, next(counter), src)]
    while fringe:
        dist, _, node = heapq.heappop(fringe)
        if node in done:
            continue
        done[node] = dist
        if node == dst:
            return paths[node]
        for nxt, attrs in G[node].items():
            if nxt == src or nxt in done:
                continue
            candidate = dist + attrs["cost"]
            if nxt not in seen or candidate < seen[nxt]:
                seen[nxt] = candidate
                heapq.heappush(fringe, (candidate, next(counter), nxt))
                paths[nxt] = paths[node] + [nxt]
    raise ValueError(f"{dst} unreachable from {src}")


def search_algorithm(src, dsts, G, num_partitions):
    topology = BroadCastTopology(src, dsts, num_partitions)
    for dst in dsts:
        path = _cheapest_path(G, src, dst)
        for u, v in zip(path, path[1:], strict=False):
            for p in range(num_partitions):
                topology.append_dst_partition_path(dst, p, [u, v, G[u][v]])
    return topology


# EVOLVE-BLOCK-END
