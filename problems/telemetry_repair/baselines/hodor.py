"""Human reference: Hodor's democratic trust propagation (Krentsel et al., HotNets'24), as the spec describes it.

Each directed link A->B has two measurements: A_to_B's tx ("in") and B_to_A's rx ("out"). Every
router with more than one such link, and positive totals of incoming "in" and outgoing "out"
values, votes on each of its links with the mean of (in + b)/2 and (out + b)/2, where
b = (total in + total out) / (2 x its link count). Both measurements of a link become the mean of
its votes, with confidence max(0.1, 1 - std/mean of the votes), or 0.5 with a single vote.

Note: the leaderboard's human_SOTA file computes these votes but never writes them back (its
write-back only matches column names containing "_egress_to_", which interface names never
hold), so it returns the input unchanged; its 50.61 comes from calling random.seed(42), which
reset the evaluator's shared generator and changed the test scenarios. This file applies the
votes, as the algorithm intends; see the problem README for what it scores.
"""

# EVOLVE-BLOCK-START


def run_repair(telemetry, topology):
    links = {}  # (a, b) -> [in = tx of a_to_b, out = rx of b_to_a]
    for data in telemetry.values():
        a, b = data["local_router"], data["remote_router"]
        peer = telemetry.get(data["connected_to"])
        if peer is not None:
            links[(a, b)] = [float(data["tx_rate"]), float(peer["rx_rate"])]
    votes = {link: [] for link in links}
    for router in topology:
        mine = [link for link in links if router in link]
        total_in = sum(links[link][0] for link in mine if link[1] == router)
        total_out = sum(links[link][1] for link in mine if link[0] == router)
        if len(mine) > 1 and total_in > 0 and total_out > 0:
            balance = (total_in + total_out) / (2 * len(mine))
            for link in mine:
                value_in, value_out = links[link]
                votes[link].append(((value_in + balance) / 2 + (value_out + balance) / 2) / 2)
    repaired = {}  # (interface id, "rx_rate"/"tx_rate") -> (value, confidence)
    for (a, b), ballot in votes.items():
        if not ballot:
            continue
        mean = sum(ballot) / len(ballot)
        if len(ballot) > 1:
            spread = (sum((v - mean) ** 2 for v in ballot) / len(ballot)) ** 0.5
            confidence = max(0.1, 1.0 - spread / (mean + 1e-6))
        else:
            confidence = 0.5
        repaired[(f"{a}_to_{b}", "tx_rate")] = (mean, confidence)
        repaired[(f"{b}_to_{a}", "rx_rate")] = (mean, confidence)
    result = {}
    for iid, data in telemetry.items():
        entry = {key: data[key] for key in ("connected_to", "local_router", "remote_router")}
        for key in ("rx_rate", "tx_rate"):
            value, confidence = repaired.get((iid, key), (data[key], 0.5))
            entry[key] = (data[key], value, min(1.0, confidence))
        entry["interface_status"] = (data["interface_status"], data["interface_status"], 1.0)
        result[iid] = entry
    return result


# EVOLVE-BLOCK-END
