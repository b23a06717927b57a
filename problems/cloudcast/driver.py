"""Trusted driver of cloudcast, run INSIDE the candidate's sandboxed process (standalone: stdlib).

Rebuilds the region graph from the payload as a RegionGraph (a dict of dicts with the networkx
DiGraph methods policies commonly use), calls search_algorithm(src, dsts, G, num_partitions),
and turns the returned topology into JSON: {"paths": {dst: {"p": [[u, v], ...] or None}}}.
Edge attributes in the answer are dropped: the evaluator prices edges from its own copy of the
network. Everything returned is untrusted and re-validated by the evaluator.
"""


class RegionGraph(dict):
    """G[u][v] -> {"cost": $/GB, "throughput": Gbps}. A plain dict of dicts, so
    networkx.DiGraph(G) converts it where networkx is installed (networkx is not required)."""

    @property
    def nodes(self):
        return list(self)

    def edges(self, data=False):
        if data:
            return [(u, v, attrs) for u, nbrs in self.items() for v, attrs in nbrs.items()]
        return [(u, v) for u, nbrs in self.items() for v in nbrs]

    def successors(self, u):
        return iter(self[u])

    neighbors = successors

    def predecessors(self, v):
        return iter([u for u, nbrs in self.items() if v in nbrs])

    def has_edge(self, u, v):
        return u in self and v in self[u]

    def has_node(self, u):
        return u in self

    def in_edges(self, v, data=False):
        return [(u, v, nbrs[v]) if data else (u, v) for u, nbrs in self.items() if v in nbrs]

    def out_edges(self, u, data=False):
        return [(u, v, attrs) if data else (u, v) for v, attrs in self[u].items()]

    def remove_edge(self, u, v):
        del self[u][v]

    def remove_edges_from(self, edges):
        for edge in list(edges):
            self[edge[0]].pop(edge[1], None)

    def number_of_nodes(self):
        return len(self)

    def number_of_edges(self):
        return sum(len(nbrs) for nbrs in self.values())

    def copy(self):
        return RegionGraph({u: {v: dict(a) for v, a in nbrs.items()} for u, nbrs in self.items()})


def build_graph(network):
    graph = RegionGraph({region: {} for region in network["regions"]})
    for u, v, cost, throughput in network["edges"]:
        graph[u][v] = {"cost": cost, "throughput": throughput}
    return graph


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
    graph = build_graph(payload["network"])
    topology = search(config["src"], list(config["dsts"]), graph, config["num_partitions"])
    return {"paths": _paths(topology)}
