"""Runs an exported telemetry_repair policy on a three-router snapshot (written by adrs export as
<stem>_example.py).

Routers A, B and C with links A-B and B-C; B_to_A's receive counter has dropped to 0. The example
checks that every interface comes back with (original, repaired, confidence) triples and prints
what the policy changed.
"""

import importlib

POLICY_MODULE = "initial"
LINKS = {("A", "B"): 840.0, ("B", "A"): 610.0, ("B", "C"): 95.5, ("C", "B"): 120.0}  # Mbps sent over each direction


def snapshot() -> tuple[dict, dict]:
    telemetry, topology = {}, {}
    for (local, remote), sent in LINKS.items():
        name = f"{local}_to_{remote}"
        telemetry[name] = {
            "interface_status": "up",
            "tx_rate": sent,
            "rx_rate": LINKS[(remote, local)],
            "connected_to": f"{remote}_to_{local}",
            "local_router": local,
            "remote_router": remote,
        }
        topology.setdefault(local, []).append(name)
    telemetry["B_to_A"]["rx_rate"] = 0.0  # a dropped counter: A_to_B still says 840 Mbps were sent
    return telemetry, topology


def main() -> None:
    policy = importlib.import_module(POLICY_MODULE)
    telemetry, topology = snapshot()
    repaired = policy.run_repair(telemetry, topology)
    assert set(repaired) == set(telemetry), "every interface must be returned"
    for name, fields in sorted(repaired.items()):
        for field in ("rx_rate", "tx_rate", "interface_status"):
            original, value, confidence = fields[field]
            assert 0.0 <= float(confidence) <= 1.0, f"{name}.{field}: confidence {confidence}"
            if value != original:
                print(f"{name}.{field}: {original} -> {value} (confidence {float(confidence):.2f})")
    print(f"{len(repaired)} interfaces checked")


if __name__ == "__main__":
    main()
