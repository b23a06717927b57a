"""The leaderboard's `broadcast` module for cloudcast programs: the BroadCastTopology they build.

Leaderboard programs write `from broadcast import BroadCastTopology`; the driver makes that name
importable in the candidate's process (evaluators.leaderboard.provide_modules). Same constructor
and methods as the leaderboard's class: paths[dst][str(partition)] is None or a list of edges
[u, v, G[u][v]]. Only the first two items of each edge are read back (the evaluator prices edges
from its own copy of the network).

Runs inside the candidate's process; nothing here is trusted. Must not import networkx (the
leaderboard's module does, for nothing): a program that does not use it should not pay for it.
"""

from __future__ import annotations

from typing import Any


class BroadCastTopology:
    """Routes of every partition to every destination: paths[dst][str(p)] = [[u, v, attrs], ...]."""

    def __init__(self, src: str, dsts: list[str], num_partitions: int = 4, paths: dict | None = None):
        self.src = src
        self.dsts = dsts
        self.num_partitions = num_partitions
        if paths is None:
            paths = {dst: {str(p): None for p in range(int(num_partitions))} for dst in dsts}
        self.paths: dict[str, dict[str, Any]] = paths

    def get_paths(self) -> dict:
        return self.paths

    def set_num_partitions(self, num_partitions: int) -> None:
        self.num_partitions = num_partitions

    def set_dst_partition_paths(self, dst: str, partition: int, paths: list) -> None:
        """Replace the edge list partition `partition` follows to `dst`."""
        self.paths[dst][str(partition)] = paths

    def append_dst_partition_path(self, dst: str, partition: int, path: list) -> None:
        """Append one edge [u, v, attrs] to the route partition `partition` follows to `dst`."""
        key = str(partition)
        if self.paths[dst][key] is None:
            self.paths[dst][key] = []
        self.paths[dst][key].append(path)
