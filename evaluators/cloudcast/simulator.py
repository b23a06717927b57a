"""The cloudcast transfer model (the leaderboard's BCSimulator semantics), on validated routes.

Owns: cost and time of a broadcast. Edge attributes come from the trusted Network, never from
the candidate. Per configuration:
1. used edges, in first-use order (destinations, partitions 0..P-1, listed edges), each with the
   set of partitions that cross it (paid once however many destinations share it);
2. node limits in first-use order: if the flows into a node exceed its provider's ingress limit
   x VMs, each incoming edge's flow becomes min(flow, limit / in-degree); then the same for egress
   (sums taken before that node's adjustment; one pass, order-dependent, as in the original);
3. time of a destination = max over its listed edges of |partitions(e)| x (vol / P) x 8 / flow(e);
   T = max over destinations;
4. cost = sum over used edges of |partitions(e)| x (vol / P) x cost(e)
   + (#nodes touched) x VMs x 0.54 $/h / 3600 x round(T, 2).
Must not: validate routes (routes.py does) or score.
"""

from __future__ import annotations

from dataclasses import dataclass

from evaluators.cloudcast.network import EGRESS_PER_VM, INGRESS_PER_VM, Config, Network, provider

INSTANCE_DOLLARS_PER_HOUR = 0.54  # m5.8xlarge spot, as in the leaderboard

Routes = dict[str, list[list[tuple[str, str]]]]  # routes[dst][p] = edges listed for partition p


@dataclass(frozen=True)
class Outcome:
    cost: float
    egress_cost: float
    instance_cost: float
    transfer_time_s: float
    edges_used: int
    regions_used: int


def simulate(network: Network, config: Config, routes: Routes) -> Outcome:
    partitions: dict[tuple[str, str], set[int]] = {}
    for dst in config.destinations:
        for p in range(config.num_partitions):
            for edge in routes[dst][p]:
                partitions.setdefault(edge, set()).add(p)
    flow = {edge: network.edges[edge].throughput for edge in partitions}
    nodes: dict[str, None] = {}
    incoming: dict[str, list[tuple[str, str]]] = {}
    outgoing: dict[str, list[tuple[str, str]]] = {}
    for u, v in partitions:
        nodes.setdefault(u)
        nodes.setdefault(v)
        outgoing.setdefault(u, []).append((u, v))
        incoming.setdefault(v, []).append((u, v))
    for node in nodes:
        ins, outs = incoming.get(node, []), outgoing.get(node, [])
        in_sum, out_sum = sum(flow[e] for e in ins), sum(flow[e] for e in outs)
        ingress = INGRESS_PER_VM[provider(node)] * config.num_vms
        egress = EGRESS_PER_VM[provider(node)] * config.num_vms
        if in_sum > ingress:
            for e in ins:
                flow[e] = min(flow[e], ingress / len(ins))
        if out_sum > egress:
            for e in outs:
                flow[e] = min(flow[e], egress / len(outs))
    share = config.data_vol / config.num_partitions
    times = [
        max(
            (len(partitions[e]) * share * 8 / flow[e] for p in range(config.num_partitions) for e in routes[dst][p]),
            default=0.0,
        )
        for dst in config.destinations
    ]
    transfer = max(times)
    egress_cost = sum(len(ps) * share * network.edges[e].cost for e, ps in partitions.items())
    instance = len(nodes) * config.num_vms * (INSTANCE_DOLLARS_PER_HOUR / 3600) * round(transfer, 2)
    return Outcome(egress_cost + instance, egress_cost, instance, transfer, len(partitions), len(nodes))
