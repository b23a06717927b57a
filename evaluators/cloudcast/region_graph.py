"""The region graph a cloudcast policy receives: G[u][v] = {"cost": $/GB, "throughput": Gbps}.

Owns: `RegionGraph`, a dict of dicts with the networkx DiGraph methods policies commonly use
(standard library only), `build_graph` from the driver's JSON network ({"regions": [...],
"edges": [[u, v, cost, throughput], ...]} in the profiles' row order), and `build_networkx_graph`,
the networkx.DiGraph the leaderboard's evaluator builds (edges added in row order, so nodes come in
first-appearance order, as its make_nx_graph gives them) for programs that import networkx.
Exported policies take the same graphs in their host (bundled by adrs export).

Runs inside the candidate's process (and in an export's host): nothing here is trusted.
Must not: import networkx at module level.
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


def build_networkx_graph(network):
    import networkx as nx

    graph = nx.DiGraph()
    for u, v, cost, throughput in network["edges"]:  # add_edge order = the leaderboard's node order
        graph.add_edge(u, v, cost=cost, throughput=throughput)
    graph.add_nodes_from(network["regions"])  # regions without edges, if any, last
    return graph
