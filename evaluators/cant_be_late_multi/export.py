"""How an exported cant_be_late_multi strategy plugs into a multi-region spot job manager: the recipe
adrs export reads (adrs/export_bundle.py), and the leaderboard module names its programs import.

Constants only. USAGE is markdown in which $module names the exported module. PEER_MODULES maps
a leaderboard module name to (module here, {name there: name here}); inside candidate processes
the same imports are rewritten on the trusted side instead (evaluators/cant_be_late_multi/compat.py).
"""

HOST = "a SkyPilot-style multi-region managed spot job"

EXAMPLE = "evaluators.cant_be_late_multi.export_example"

PEER_MODULES = {
    "sky_spot.strategies.multi_strategy": (
        "evaluators.cant_be_late_multi.api",
        {"MultiRegionStrategy": "MultiRegionStrategy"},
    ),
    "sky_spot.strategies.strategy": ("evaluators.cant_be_late_multi.api", {"Strategy": "Strategy"}),
    "sky_spot.utils": ("evaluators.cant_be_late_multi.api", {"ClusterType": "ClusterType"}),
}

USAGE = """\
The module defines a `MultiRegionStrategy` subclass (base classes and views in the bundled
`evaluators/cant_be_late_multi/api.py`, with the Can't-Be-Late simulator's names). Every decision
interval (195 s when it was scored) the job manager refreshes `strategy.env` (current region,
spot availability and prices of every region) and calls
`strategy._step(last_cluster_type, has_spot)`; the strategy may call
`strategy.env.switch_region(i)` before answering `ClusterType.SPOT`, `ON_DEMAND` or `NONE`:

```python
import sys
sys.path.insert(0, "/path/to/this/folder")
import $module
from evaluators.cant_be_late_multi.candidate_sim import find_strategy_class, simulator_parser
from evaluators.cant_be_late_multi.model import Job

strategy = find_strategy_class($module)._from_args(simulator_parser(Job()))
# then strategy.reset(env, task) with an api.RegionEnv / api.JobTask kept up to date by your manager
```

`evaluators/cant_be_late_multi/candidate_sim.py` (bundled) is the complete loop adrs scored it
with; `${stem}_example.py` runs it on three regions. In SkyPilot this is the managed job's
recovery decision across `resources.any_of` regions: which region to relaunch in, and whether to
fall back to on-demand."""
