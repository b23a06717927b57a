"""Runs an exported cloudcast policy on a small region graph (written by adrs export as <stem>_example.py).

Six regions of three clouds with synthetic egress prices and throughputs; 3 partitions go from
aws:us-east-1 to three destinations. The example checks that every partition reaches every
destination over edges of the graph and prints the egress cost of the routes (each used edge paid
once per partition).
"""

import importlib
import random

from evaluators.cloudcast.region_graph import build_graph, build_networkx_graph
from evaluators.leaderboard import source_imports

POLICY_MODULE = "initial"
REGIONS = [
    "aws:us-east-1",
    "aws:eu-west-1",
    "gcp:us-central1-a",
    "gcp:europe-west1-b",
    "azure:eastus",
    "azure:westeurope",
]
SRC, DSTS, PARTITIONS, GB_PER_PARTITION = (
    "aws:us-east-1",
    ["gcp:europe-west1-b", "azure:eastus", "aws:eu-west-1"],
    3,
    100.0,
)


def main() -> None:
    policy = importlib.import_module(POLICY_MODULE)
    rng = random.Random(0)
    edges = [
        [
            u,
            v,
            round(0.02 if u.split(":")[0] == v.split(":")[0] else rng.uniform(0.05, 0.12), 4),
            round(rng.uniform(2, 12), 2),
        ]
        for u in REGIONS
        for v in REGIONS
        if u != v
    ]
    network = {"regions": REGIONS, "edges": edges}
    uses_networkx = source_imports(policy.__file__, "networkx")
    G = build_networkx_graph(network) if uses_networkx else build_graph(network)
    topology = policy.search_algorithm(SRC, list(DSTS), G, PARTITIONS)
    paths = topology.paths if hasattr(topology, "paths") else topology["paths"]
    price = {(u, v): cost for u, v, cost, _ in edges}
    used = set()
    for dst in DSTS:
        for p in range(PARTITIONS):
            hops = [(e[0], e[1]) for e in paths[dst][str(p)] or []]
            reached, frontier = {SRC}, True
            while frontier:  # follow the listed edges from the source, in any order
                frontier = [v for u, v in hops if u in reached and v not in reached]
                reached.update(frontier)
            assert dst in reached and all(h in price for h in hops), f"partition {p} does not reach {dst}"
            used.update((p, h) for h in hops)
    cost = sum(price[h] * GB_PER_PARTITION for _, h in used)
    print(f"{len(used)} edge-partition transfers, egress cost ${cost:.2f} for {PARTITIONS * GB_PER_PARTITION:.0f} GB")


if __name__ == "__main__":
    main()
