"""Synthetic backbone snapshots shaped like the Abilene data, so the problem runs without the CSV.

Owns: `synthetic_snapshots(seed)`. Model (every random choice from numpy's default_rng(seed)):

- topology: 12 routers and 15 links wired at random (a connected simple graph) with Abilene's
  degree sequence in router order (1, 4, 2, 3, 3, 3, 3, 2, 2, 3, 2, 2: the ATLAM5 stub first). The
  order matters: the leaderboard's correlated bugs hit routers by position, so the same draws hit
  routers of the same degree as on Abilene, and the share of corrupted values matches;
- traffic: a gravity model, demand(s, d) = S_t * w_s * w_d * lognormal(0, 0.5) per snapshot, router
  weights w lognormal(0, 0.8) (the stub's weight x 0.01: a few Mbps, as ATLAM5), snapshot
  scale S_t lognormal(0, 0.35) (Abilene's per-snapshot totals vary from 0.65x to 4x the median);
  demands follow shortest paths under fixed random link weights (an IGP);
- measurement: an interface's tx is the load it sends; its rx is the load its peer sends, times
  1 + N(0, 0.0165) (the spread of egress/ingress mismatch between the two ends of an Abilene
  link); all loads are scaled so the median link load is 175 Mbps (Abilene's median);
- 40 snapshots, interfaces ordered by (local router, remote router) as the CSV's columns.

The perturbations (bugs and noise) are then the leaderboard's, from scenarios.py.

Must not: read the real data.
"""

from __future__ import annotations

import heapq

import numpy as np

from evaluators.telemetry_repair.network import Interface, Snapshot

DEGREES = (1, 4, 2, 3, 3, 3, 3, 2, 2, 3, 2, 2)  # Abilene, routers in alphabetical order
STUB = 0
SNAPSHOTS = 40
MEDIAN_LOAD_MBPS = 175.0  # Abilene: median of all link loads in evaluation_data.csv
MISMATCH_SD = 0.0165  # Abilene: sd of ingress/egress - 1 across the two ends of a link


def synthetic_snapshots(seed: int, count: int = SNAPSHOTS) -> list[Snapshot]:
    rng = np.random.default_rng(seed)
    names = [f"R{k:02d}" for k in range(len(DEGREES))]
    links = _topology(rng)
    cost = {link: float(rng.uniform(1.0, 3.0)) for link in links}
    paths = _shortest_paths(len(names), links, cost)
    weights = rng.lognormal(0.0, 0.8, len(names))
    weights[STUB] *= 0.01
    arcs = sorted({(a, b) for a, b in links} | {(b, a) for a, b in links})
    raw_loads = []
    for _ in range(count):
        scale = rng.lognormal(0.0, 0.35)
        load = dict.fromkeys(arcs, 0.0)
        for s in range(len(names)):
            for d in range(len(names)):
                if s == d:
                    continue
                demand = scale * weights[s] * weights[d] * rng.lognormal(0.0, 0.5)
                for hop in zip(paths[s][d], paths[s][d][1:], strict=False):
                    load[hop] += demand
        raw_loads.append(load)
    unit = MEDIAN_LOAD_MBPS / float(np.median([v for load in raw_loads for v in load.values()]))
    snapshots = []
    for t, load in enumerate(raw_loads):
        interfaces = []
        for a, b in arcs:  # interface a_to_b: sends load(a->b), receives load(b->a) measured at a
            tx = float(load[(a, b)] * unit)
            rx = float(load[(b, a)] * unit * (1.0 + rng.normal(0.0, MISMATCH_SD)))
            interfaces.append(Interface(f"{names[a]}_to_{names[b]}", names[a], names[b], rx, tx, rx, tx))
        snapshots.append(Snapshot(label=f"synthetic-{seed}-{t}", interfaces=tuple(interfaces)))
    return snapshots


def _topology(rng: np.random.Generator) -> list[tuple[int, int]]:
    """A connected simple graph with degree sequence DEGREES (configuration model, with retries)."""
    while True:
        stubs = [node for node, degree in enumerate(DEGREES) for _ in range(degree)]
        order = rng.permutation(len(stubs))
        pairs = [(stubs[order[i]], stubs[order[i + 1]]) for i in range(0, len(stubs), 2)]
        links = {(min(a, b), max(a, b)) for a, b in pairs}
        if len(links) == len(pairs) and all(a != b for a, b in links) and _connected(links):
            return sorted(links)


def _connected(links: set[tuple[int, int]]) -> bool:
    reached, frontier = {0}, [0]
    while frontier:
        node = frontier.pop()
        for a, b in links:
            for here, there in ((a, b), (b, a)):
                if here == node and there not in reached:
                    reached.add(there)
                    frontier.append(there)
    return len(reached) == len(DEGREES)


def _shortest_paths(n: int, links: list[tuple[int, int]], cost: dict) -> list[list[list[int]]]:
    """paths[s][d] = router sequence of the cheapest path (Dijkstra, lowest index wins ties)."""
    neighbours: dict[int, list[tuple[int, float]]] = {v: [] for v in range(n)}
    for (a, b), c in cost.items():
        neighbours[a].append((b, c))
        neighbours[b].append((a, c))
    paths = []
    for source in range(n):
        dist, parent = {source: 0.0}, {source: source}
        heap = [(0.0, source)]
        while heap:
            d, v = heapq.heappop(heap)
            if d > dist[v]:
                continue
            for w, c in sorted(neighbours[v]):
                if d + c < dist.get(w, float("inf")):
                    dist[w], parent[w] = d + c, v
                    heapq.heappush(heap, (d + c, w))
        row = []
        for target in range(n):
            path = [target]
            while path[-1] != source:
                path.append(parent[path[-1]])
            row.append(path[::-1])
        paths.append(row)
    return paths
