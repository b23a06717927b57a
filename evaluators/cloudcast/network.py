"""The cloudcast region network and broadcast configurations: real profiles (Skyplane CSVs) or a
seeded synthetic stand-in with the same structure.

Owns: regions (in first-appearance order), directed edges with cost ($/GB) and throughput (Gbps,
already multiplied by the VMs per region), edge order (CSV row order: candidates iterate it and
the leaderboard's Dijkstra breaks ties by it), and the Config record.
Must not: run candidates, simulate transfers or score.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

NUM_VMS = 2
PROVIDERS = ("aws", "gcp", "azure")
INGRESS_PER_VM = {"aws": 10.0, "gcp": 16.0, "azure": 16.0}  # Gbps, the leaderboard's defaults
EGRESS_PER_VM = {"aws": 5.0, "gcp": 7.0, "azure": 16.0}


@dataclass(frozen=True)
class Edge:
    cost: float  # $/GB
    throughput: float  # Gbps for NUM_VMS VMs


@dataclass(frozen=True)
class Network:
    regions: tuple[str, ...]
    edges: dict[tuple[str, str], Edge]  # insertion order = CSV row order

    def payload(self) -> dict:
        """JSON form for the driver: regions in order and [u, v, cost, throughput] rows in order."""
        return {
            "regions": list(self.regions),
            "edges": [[u, v, e.cost, e.throughput] for (u, v), e in self.edges.items()],
        }


@dataclass(frozen=True)
class Config:
    name: str
    source: str
    destinations: tuple[str, ...]
    data_vol: float = 300.0  # GB
    num_partitions: int = 10
    num_vms: int = NUM_VMS

    def payload(self) -> dict:
        return {
            "name": self.name,
            "src": self.source,
            "dsts": list(self.destinations),
            "num_partitions": self.num_partitions,
        }


def provider(region: str) -> str:
    return region.split(":", 1)[0]


def load_network(profiles: Path, num_vms: int = NUM_VMS) -> Network:
    """Build the network from profiles/cost.csv and profiles/throughput.csv (leaderboard rules)."""
    costs: dict[tuple[str, str], float] = {}
    with open(profiles / "cost.csv", newline="") as f:
        for row in csv.DictReader(f):
            costs[(row["src"], row["dest"])] = float(row["cost"])
    regions: dict[str, None] = {}
    edges: dict[tuple[str, str], Edge] = {}
    with open(profiles / "throughput.csv", newline="") as f:
        for row in csv.DictReader(f):
            u, v = row["src_region"], row["dst_region"]
            regions.setdefault(u)
            regions.setdefault(v)
            if u == v:
                continue
            if (u, v) not in costs:
                raise ValueError(f"{profiles}/cost.csv has no cost for {u} -> {v}")
            edges[(u, v)] = Edge(costs[(u, v)], num_vms * float(row["throughput_sent"]) / 1e9)
    return Network(tuple(regions), edges)


def load_config(path: Path) -> Config:
    data = json.loads(Path(path).read_text())
    return Config(
        name=Path(path).stem,
        source=data["source_node"],
        destinations=tuple(data["dest_nodes"]),
        data_vol=float(data["data_vol"]),
        num_partitions=int(data["num_partitions"]),
    )
