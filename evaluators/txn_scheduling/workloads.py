"""Workload sets of txn_scheduling: the real three (from the user's data folder) or seeded synthetic ones.

Owns: the `NamedWorkload`/`WorkloadSet` records, reading and checking the real workloads.json
(shared/data/txn_scheduling), building a synthetic set from a seed, and the quick-stage subset
(every second transaction). Identity makespans and lower bounds (the score's anchors) are derived
here, on the trusted side.
Must not: run candidates or score them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from evaluators.txn_scheduling.generator import generate_set
from evaluators.txn_scheduling.simulator import ParsedWorkload, makespan, parse_workload

REAL_FILE = "workloads.json"
REAL_KEYS = ("WORKLOAD_1", "WORKLOAD_2", "WORKLOAD_3")
SHORT_NAMES = ("W1", "W2", "W3")  # W1 ~ hot keys, W2 ~ warehouses, W3 ~ two key groups


@dataclass(frozen=True)
class NamedWorkload:
    """One workload: transaction i is ops[i]."""

    name: str
    ops: tuple[str, ...]
    parsed: ParsedWorkload = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "parsed", parse_workload(self.ops))

    @property
    def num_txns(self) -> int:
        return len(self.ops)

    def identity_makespan(self) -> int:
        return makespan(self.parsed, range(self.num_txns))

    def lower_bound(self) -> int:
        return self.parsed.lower_bound()


@dataclass(frozen=True)
class WorkloadSet:
    """Workloads scheduled by ONE candidate process, in order, sharing its random generator."""

    name: str
    workloads: tuple[NamedWorkload, ...]


def load_real_set(folder: Path) -> WorkloadSet:
    """The leaderboard's three workloads from `folder`/workloads.json, checked."""
    path = Path(folder) / REAL_FILE
    data = json.loads(path.read_text())
    table = data.get("workloads") if isinstance(data, dict) else None
    if not isinstance(table, dict):
        raise ValueError(f"{path}: expected an object with a 'workloads' table")
    workloads = []
    for key, short in zip(REAL_KEYS, SHORT_NAMES, strict=True):
        entries = table.get(key)
        if not isinstance(entries, list) or not all(
            isinstance(e, dict) and isinstance(e.get("ops"), str) for e in entries
        ):
            raise ValueError(f"{path}: workloads.{key} must be a list of {{'id', 'ops'}} objects")
        workloads.append(NamedWorkload(short, tuple(e["ops"] for e in entries)))
    return WorkloadSet("real", tuple(workloads))


def synthetic_set(seed: int, prefix: str = "") -> WorkloadSet:
    """The three synthetic workloads of `seed` (see generator.py), named W1..W3 after their real twins."""
    workloads = tuple(
        NamedWorkload(f"{prefix}{short}", tuple(ops))
        for short, (_, ops) in zip(SHORT_NAMES, generate_set(seed), strict=True)
    )
    return WorkloadSet(f"synthetic seed {seed}", workloads)


def every_other(workload_set: WorkloadSet) -> WorkloadSet:
    """Transactions 0, 2, 4, ... of each workload, renumbered: half the size, the same mix."""
    halves = tuple(NamedWorkload(w.name, w.ops[::2]) for w in workload_set.workloads)
    return WorkloadSet(f"{workload_set.name}, every second transaction", halves)
