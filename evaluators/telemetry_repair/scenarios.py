"""Test scenarios for telemetry repair: the leaderboard's perturbation model, reproduced draw for draw.

Owns: `Scenario` (what the policy is shown, and the ground truth it is not) and `make_scenarios`.
With `random.Random(42)`, `rng.sample(snapshots, 30)` and then, per snapshot on the same
generator: a bug type; for each interface ±2 % noise on rx then tx, and for `dropped` (20 %:
rx = tx = 0) or `scaled` (20 %: rx and tx each times a factor in [0.5, 0.8] or [1.2, 1.5], both
uniforms drawn before the choice); then for each router a draw, and with probability 0.2 under the
correlated bugs all its interfaces revert to their unnoised values and are zeroed or scaled.
Status is never perturbed. This is the original's sequence exactly: same rows, same values.

Must not: run the policy or score anything. The generator is explicit, never the global `random`,
so nothing a policy does can change the scenarios (the original shared the global generator: a
policy calling random.seed(42) rewrote every later scenario).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from evaluators.telemetry_repair.network import Snapshot

BUG_TYPES = ("dropped", "scaled", "correlated_dropped", "correlated_scaled")
NOISE = (0.98, 1.02)
BUG_SHARE = 0.20  # per interface for dropped/scaled, per router for the correlated bugs


@dataclass(frozen=True)
class Scenario:
    label: str
    bug: str
    telemetry: dict[str, dict]  # interface id -> what the policy sees
    topology: dict[str, list[str]]  # router -> interface ids
    truth: dict[str, dict]  # interface id -> {"rx_rate", "tx_rate", "interface_status"}


def make_scenarios(snapshots: list[Snapshot], count: int, seed: int) -> list[Scenario]:
    """`count` scenarios from `snapshots`, all random choices from one random.Random(seed)."""
    rng = random.Random(seed)
    chosen = rng.sample(snapshots, min(count, len(snapshots)))
    return [perturb(snapshot, rng) for snapshot in chosen]


def perturb(snapshot: Snapshot, rng: random.Random) -> Scenario:
    """One scenario: the draws of the original's apply_test_perturbations, in its order."""
    topology = snapshot.topology()
    clean = {i.interface_id: _telemetry(i, i.rx_rate, i.tx_rate) for i in snapshot.interfaces}
    truth = {
        i.interface_id: {"rx_rate": i.true_rx, "tx_rate": i.true_tx, "interface_status": "up"}
        for i in snapshot.interfaces
    }
    bug = rng.choice(BUG_TYPES)
    seen: dict[str, dict] = {}
    for iid, values in clean.items():
        shown = dict(values)
        shown["rx_rate"] *= rng.uniform(*NOISE)
        shown["tx_rate"] *= rng.uniform(*NOISE)
        if bug == "dropped":
            if rng.random() < BUG_SHARE:
                shown["rx_rate"] = 0.0
                shown["tx_rate"] = 0.0
        elif bug == "scaled" and rng.random() < BUG_SHARE:
            shown["rx_rate"] *= _scale_factor(rng)
            shown["tx_rate"] *= _scale_factor(rng)
        seen[iid] = shown
    for interface_ids in topology.values():
        if rng.random() < 1 - BUG_SHARE:
            continue
        for iid in interface_ids:
            if bug == "correlated_dropped":
                seen[iid] = dict(clean[iid], rx_rate=0.0, tx_rate=0.0)
            elif bug == "correlated_scaled":
                rx = clean[iid]["rx_rate"] * _scale_factor(rng)
                seen[iid] = dict(clean[iid], rx_rate=rx, tx_rate=clean[iid]["tx_rate"] * _scale_factor(rng))
    return Scenario(label=snapshot.label, bug=bug, telemetry=seen, topology=topology, truth=truth)


def _scale_factor(rng: random.Random) -> float:
    low, high = rng.uniform(0.5, 0.8), rng.uniform(1.2, 1.5)
    return rng.choice([low, high])


def _telemetry(iface, rx: float, tx: float) -> dict:
    return {
        "interface_status": "up",
        "rx_rate": float(rx),
        "tx_rate": float(tx),
        "connected_to": iface.connected_to,
        "local_router": iface.local_router,
        "remote_router": iface.remote_router,
    }
