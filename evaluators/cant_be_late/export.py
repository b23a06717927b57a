"""How an exported cant_be_late strategy plugs into a spot-instance job manager: the recipe adrs
export reads (adrs/export_bundle.py), and the leaderboard module names its programs import.

Constants only. USAGE is markdown in which $module names the exported module. PEER_MODULES maps
a leaderboard module name to (module here, {name there: name here}); inside candidate processes
the driver installs the same names (evaluators/cant_be_late/compat.py).
"""

HOST = "a SkyPilot-style managed spot job (the Can't-Be-Late strategy interface)"

EXAMPLE = "evaluators.cant_be_late.export_example"

PEER_MODULES = {
    "sky_spot.strategies.strategy": ("evaluators.cant_be_late.strategy", {"Strategy": "Strategy"}),
    "sky_spot.utils": ("evaluators.cant_be_late.strategy", {"ClusterType": "ClusterType"}),
}

USAGE = """\
The module defines a `Strategy` subclass (the bundled `evaluators/cant_be_late/strategy.py` is the
base class, with the Can't-Be-Late simulator's names). Every decision interval (10 minutes when it
was scored) the job manager sets the environment view and asks
`strategy._step(last_cluster_type, has_spot)` what to run next: `ClusterType.SPOT`,
`ClusterType.ON_DEMAND` or `ClusterType.NONE` (wait). Build it once per job:

```python
import argparse, sys
sys.path.insert(0, "/path/to/this/folder")
import $module
from evaluators.cant_be_late.episode import build_parser, find_strategy_class
from evaluators.cant_be_late.strategy import EnvView, Task

strategy = find_strategy_class($module)._from_args(build_parser(deadline_hours=52, overhead_hours=0.05, \
duration_hours=48))
env = EnvView(gap_seconds=600)
strategy.reset(env, Task(48))
# each tick: credit the work done to strategy.task_done_time, set env.tick and env.cluster_type
# (what runs now, after any preemption), then
choice = strategy._step(last_cluster_type, has_spot)   # launch / keep / terminate accordingly
```

`evaluators/cant_be_late/episode.py` (bundled) is the complete loop adrs scored it with, including
the simulator's deadline guard (on-demand is forced when the deadline gets tight, whatever the
strategy says); `${stem}_example.py` runs it on a trace. In SkyPilot the same decision maps to
the managed job's recovery strategy: relaunch on spot, fail over to on-demand, or wait."""
