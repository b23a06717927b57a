"""Repair corrupted network interface counters and say how confident each repair is.

run_repair(telemetry, topology) is called once per snapshot of a backbone network.
  telemetry: interface id -> {"interface_status": "up", "rx_rate": float, "tx_rate": float,
             "connected_to": peer interface id, "local_router": str, "remote_router": str}
             Interface A_to_B sends tx_rate towards router B; its peer B_to_A receives it, so
             B_to_A's rx_rate should match A_to_B's tx_rate (within ~2 % of noise).
  topology:  router id -> list of its interface ids.
Some counters are corrupted: dropped to 0, or scaled by 0.5-0.8 or 1.2-1.5, on single interfaces
or on every interface of a router; every value also carries +-2 % noise.
Return, for EVERY interface id: {"rx_rate": (original, repaired, confidence),
"tx_rate": (original, repaired, confidence), "interface_status": (original, repaired, confidence),
plus connected_to, local_router, remote_router}; confidences in [0, 1].

Starting point: passthrough, every value unchanged with confidence 0.5.
"""

# EVOLVE-BLOCK-START


def run_repair(telemetry, topology):
    result = {}
    for interface_id, data in telemetry.items():
        rx, tx, status = data["rx_rate"], data["tx_rate"], data["interface_status"]
        result[interface_id] = {
            "rx_rate": (rx, rx, 0.5),
            "tx_rate": (tx, tx, 0.5),
            "interface_status": (status, status, 0.5),
            "connected_to": data["connected_to"],
            "local_router": data["local_router"],
            "remote_router": data["remote_router"],
        }
    return result


# EVOLVE-BLOCK-END
