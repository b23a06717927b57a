"""The leaderboard's baseline, trusted and in-process: per destination, all partitions along the
cheapest-cost path (Dijkstra on `cost`, ties broken like networkx.dijkstra_path: first path found
wins, heap ties in push order, successors in edge-insertion order). Its total on the real data is
the $1045.86 the leaderboard reports; the evaluator uses it to anchor scores of other workloads.

Must not: run candidates or score.
"""

from __future__ import annotations

import heapq
import itertools

from evaluators.cloudcast.network import Config, Network
from evaluators.cloudcast.simulator import Routes


def cheapest_path(network: Network, source: str, target: str) -> list[str]:
    successors: dict[str, list[tuple[str, float]]] = {}
    for (u, v), edge in network.edges.items():
        if v != source:  # the leaderboard deletes edges entering the source first
            successors.setdefault(u, []).append((v, edge.cost))
    done: dict[str, float] = {}
    seen: dict[str, float] = {source: 0.0}
    paths = {source: [source]}
    counter = itertools.count()
    fringe: list[tuple[float, int, str]] = [(0.0, next(counter), source)]
    while fringe:
        dist, _, node = heapq.heappop(fringe)
        if node in done:
            continue
        done[node] = dist
        if node == target:
            return paths[node]
        for nxt, cost in successors.get(node, ()):
            candidate = dist + cost
            if nxt not in done and (nxt not in seen or candidate < seen[nxt]):
                seen[nxt] = candidate
                heapq.heappush(fringe, (candidate, next(counter), nxt))
                paths[nxt] = paths[node] + [nxt]
    raise ValueError(f"{target} is unreachable from {source}")


def dijkstra_routes(network: Network, config: Config) -> Routes:
    routes: Routes = {}
    for dst in config.destinations:
        path = cheapest_path(network, config.source, dst)
        edges = list(zip(path, path[1:], strict=False))
        routes[dst] = [list(edges) for _ in range(config.num_partitions)]
    return routes
