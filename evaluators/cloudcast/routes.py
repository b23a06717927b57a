"""Trusted validation of a cloudcast answer (untrusted JSON from the candidate process).

Owns: the rules routes must satisfy before they are simulated:
- every destination of the configuration has an entry, and nothing else does;
- every partition 0..P-1 of every destination has a list of edges (None / missing = not routed);
- every edge is [u, v] with u != v and (u, v) an edge of the trusted network; attributes the
  candidate may attach are ignored (cost and throughput come from the network);
- delivery: for every partition, every destination is reachable from the source in the union of
  the edges listed for that partition (across destinations: relays may be shared). Omitting
  partitions or listing disconnected hops is the known reward hack; it is rejected.
Must not: simulate or score.
"""

from __future__ import annotations

from typing import Any

from evaluators.cloudcast.network import Config, Network
from evaluators.cloudcast.simulator import Routes

MAX_EDGES = 200_000  # per configuration; far above any sensible broadcast


class RouteError(ValueError):
    """Routes that break a rule; the message names the destination, partition and edge."""


def check_routes(reply: Any, network: Network, config: Config) -> Routes:
    if not isinstance(reply, dict) or not isinstance(reply.get("paths"), dict):
        raise RouteError("search_algorithm must return a topology whose .paths maps destination -> partition -> edges")
    paths = reply["paths"]
    unknown = sorted(set(paths) - set(config.destinations))
    if unknown:
        raise RouteError(f"paths names regions that are not destinations of {config.name}: {unknown[:3]}")
    routes: Routes = {}
    total = 0
    for dst in config.destinations:
        per_partition = paths.get(dst)
        if not isinstance(per_partition, dict):
            raise RouteError(f"destination {dst} has no routes")
        routes[dst] = []
        for p in range(config.num_partitions):
            listed = per_partition.get(str(p))
            if not isinstance(listed, list):
                raise RouteError(f"partition {p} of destination {dst} has no route (got {type(listed).__name__})")
            total += len(listed)
            if total > MAX_EDGES:
                raise RouteError(f"more than {MAX_EDGES} edges listed")
            routes[dst].append([_edge(item, network, dst, p) for item in listed])
    _check_delivery(routes, config)
    return routes


def _edge(item: Any, network: Network, dst: str, p: int) -> tuple[str, str]:
    if not isinstance(item, list) or len(item) < 2 or not all(isinstance(x, str) for x in item[:2]):
        raise RouteError(f"partition {p} of {dst}: an edge must be [u, v, ...] with region names, got {item!r:.80}")
    edge = (item[0], item[1])
    if edge not in network.edges:
        raise RouteError(f"partition {p} of {dst}: {edge[0]} -> {edge[1]} is not an edge of the network")
    return edge


def _check_delivery(routes: Routes, config: Config) -> None:
    for p in range(config.num_partitions):
        successors: dict[str, list[str]] = {}
        for dst in config.destinations:
            for u, v in routes[dst][p]:
                successors.setdefault(u, []).append(v)
        reached = {config.source}
        frontier = [config.source]
        while frontier:
            node = frontier.pop()
            for nxt in successors.get(node, ()):
                if nxt not in reached:
                    reached.add(nxt)
                    frontier.append(nxt)
        missing = [d for d in config.destinations if d not in reached]
        if missing:
            raise RouteError(
                f"partition {p} never reaches {missing[0]} ({len(missing)} destination(s) in all) from "
                f"{config.source}: every partition must reach every destination (omitting partitions is not allowed)"
            )
