"""Network snapshots for telemetry repair: interfaces with true and measured rates, read from the CSV.

Owns: the `Snapshot` record (interfaces in construction order, each with its local and remote
router, the rates a router would report, and the ground truth) and its construction from one row
of the leaderboard's evaluation_data.csv: interface `A_to_B` has tx = `low_A_egress_to_B` and
rx = `low_A_ingress_from_B`, in the order the columns first name it. The measured value of a cell
is its `perturbed` entry when present, else its `ground_truth` (identical in the shipped file).

Must not: perturb anything (scenarios.py does) or score anything.
"""

from __future__ import annotations

import ast
import csv
from dataclasses import dataclass
from pathlib import Path

EGRESS, INGRESS = "_egress_to_", "_ingress_from_"


@dataclass(frozen=True)
class Interface:
    interface_id: str
    local_router: str
    remote_router: str
    rx_rate: float  # measured (before the scenario's perturbations)
    tx_rate: float
    true_rx: float
    true_tx: float

    @property
    def connected_to(self) -> str:
        return f"{self.remote_router}_to_{self.local_router}"


@dataclass(frozen=True)
class Snapshot:
    label: str
    interfaces: tuple[Interface, ...]

    def topology(self) -> dict[str, list[str]]:
        """Router -> its interface ids, routers in order of first appearance (as the original)."""
        routers: dict[str, list[str]] = {}
        for iface in self.interfaces:
            routers.setdefault(iface.local_router, []).append(iface.interface_id)
        return routers


def read_snapshots(path: str | Path) -> list[Snapshot]:
    """Every row of evaluation_data.csv as a Snapshot, labelled by the CSV's unnamed index column."""
    with open(path, newline="") as f:
        return [snapshot_from_row(row) for row in csv.DictReader(f)]


def snapshot_from_row(row: dict[str, str]) -> Snapshot:
    fields: dict[str, dict[str, float]] = {}
    for column, text in row.items():
        if not column.startswith("low_") or (EGRESS not in column and INGRESS not in column):
            continue
        cell = ast.literal_eval(text)
        truth = float(cell["ground_truth"])
        measured = float(cell["perturbed"]) if cell.get("perturbed") is not None else truth
        if EGRESS in column:
            local, remote = column[4:].split(EGRESS)
            side = "tx"
        else:
            local, remote = column[4:].split(INGRESS)
            side = "rx"
        entry = fields.setdefault(f"{local}_to_{remote}", {"local": local, "remote": remote})
        entry[side], entry[f"true_{side}"] = measured, truth
    interfaces = tuple(
        Interface(
            iid,
            f["local"],
            f["remote"],
            f.get("rx", 0.0),
            f.get("tx", 0.0),
            f.get("true_rx", f.get("rx", 0.0)),
            f.get("true_tx", f.get("tx", 0.0)),
        )
        for iid, f in fields.items()
    )
    return Snapshot(label=str(row.get("", row.get("timestamp", ""))), interfaces=interfaces)
