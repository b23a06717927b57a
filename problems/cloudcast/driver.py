"""Trusted driver of cloudcast, run INSIDE the candidate's sandboxed process (stdlib; networkx if the program uses it).

Rebuilds the region graph from the payload, calls search_algorithm(src, dsts, G, num_partitions),
and turns the returned topology into JSON: {"paths": {dst: {"p": [[u, v], ...] or None}}}.
G is a RegionGraph (a dict of dicts with the networkx DiGraph methods policies commonly use), or,
when the program imports networkx, a networkx.DiGraph built as the leaderboard's evaluator builds
it (evaluators/cloudcast/region_graph.py), so that leaderboard programs run unchanged; their
`from broadcast import BroadCastTopology` is served by evaluators/cloudcast/broadcast.py.
Edge attributes in the answer are dropped: the evaluator prices edges from its own copy of the
network. Everything returned is untrusted and re-validated by the evaluator.
"""

from evaluators.cloudcast.export import PEER_MODULES
from evaluators.cloudcast.region_graph import build_graph, build_networkx_graph
from evaluators.leaderboard import module_factories, program_imports, provide_modules


def before_import(payload):
    provide_modules(module_factories(PEER_MODULES))  # `from broadcast import BroadCastTopology`


def _edge(item):
    if isinstance(item, (list, tuple)) and len(item) >= 2:
        return [item[0], item[1]]
    return item  # left as is: the evaluator names what is wrong with it


def _paths(topology):
    paths = getattr(topology, "paths", None)
    if paths is None and isinstance(topology, dict):
        paths = topology.get("paths", topology)
    if not isinstance(paths, dict):
        raise TypeError("search_algorithm must return a topology with .paths = {dst: {partition: [edges]}}")
    out = {}
    for dst, per_partition in paths.items():
        if not isinstance(per_partition, dict):
            out[str(dst)] = None
            continue
        out[str(dst)] = {
            str(p): None if edges is None else [_edge(e) for e in edges] for p, edges in per_partition.items()
        }
    return out


def run(candidate, payload):
    search = getattr(candidate, "search_algorithm", None)
    if not callable(search):
        raise TypeError("the program must define search_algorithm(src, dsts, G, num_partitions)")
    config = payload["config"]
    if program_imports(candidate, "networkx"):
        graph = build_networkx_graph(payload["network"])
    else:
        graph = build_graph(payload["network"])
    topology = search(config["src"], list(config["dsts"]), graph, config["num_partitions"])
    return {"paths": _paths(topology)}
