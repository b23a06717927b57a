"""How an exported cloudcast policy plugs into a multi-cloud transfer planner: the recipe adrs
export reads (adrs/export_bundle.py), and the leaderboard module names its driver provides.

Constants only. USAGE is markdown in which $module names the exported module. PEER_MODULES maps
a module name the leaderboard's programs import to (module here, {name: name there}).
"""

HOST = "a multi-cloud broadcast planner (Skyplane-style overlay transfers)"

EXAMPLE = "evaluators.cloudcast.export_example"

PEER_MODULES = {
    "broadcast": ("evaluators.cloudcast.broadcast", {"BroadCastTopology": "BroadCastTopology"}),
}

USAGE = """\
`$module.search_algorithm(src, dsts, G, num_partitions)` returns a topology whose
`paths[dst][str(p)]` lists the edges `[u, v, G[u][v]]` partition p follows from `src` to `dst`.
`G[u][v]` is `{"cost": $/GB, "throughput": Gbps}` for every ordered pair of regions
(`provider:region`, e.g. `aws:us-east-1`). Build G with the bundled
`evaluators/cloudcast/region_graph.py` (a dict of dicts with the networkx DiGraph methods the
policy may call) or, if the policy imports networkx, as a `networkx.DiGraph` with those edge
attributes:

```python
import sys
sys.path.insert(0, "/path/to/this/folder")
import $module
from evaluators.cloudcast.region_graph import build_graph

G = build_graph({"regions": regions, "edges": [[u, v, cost, gbps] for u, v, cost, gbps in links]})
topology = $module.search_algorithm("aws:us-east-1", ["gcp:europe-west1-b", "azure:eastus"], G, 10)
for dst, per_partition in topology.paths.items():
    for partition, edges in per_partition.items():
        plan_transfer(partition, [(u, v) for u, v, *_ in edges])   # your transfer engine
```

An edge carrying a partition is paid once however many destinations share it; every partition
must reach every destination (the evaluator rejected any topology that did not)."""
