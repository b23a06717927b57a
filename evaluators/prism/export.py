"""How an exported prism policy plugs into a serving controller: the recipe adrs export reads.

Constants only (see adrs/export_bundle.py). USAGE is markdown in which $module names the module.
"""

HOST = "a model-serving controller placing LLMs on GPUs (Prism-style placement)"

EXAMPLE = "evaluators.prism.export_example"

USAGE = """\
`$module.compute_model_placement(gpu_num, models)` returns `{gpu_id: [model, ...]}`, every model
object exactly once, at most 80 GB of `model_size` per GPU. A model is any object with
`model_name`, `model_size` (GB), `req_rate` (requests/s), `slo` and `cur_gpu_id` (the leaderboard's
`Model` dataclass, or a `SimpleNamespace`). Call it whenever the set of models or their rates
change, then migrate the models whose GPU changed:

```python
import sys
from types import SimpleNamespace
sys.path.insert(0, "/path/to/this/folder")
import $module

models = [SimpleNamespace(model_name=n, model_size=s, req_rate=r, slo=o, cur_gpu_id=g)
          for n, s, r, o, g in my_cluster_models()]
plan = $module.compute_model_placement(num_gpus, models)   # {gpu_id: [model, ...]}
```

The policy was scored on GPUs of 80 GB (its `GPU_MEM_SIZE`); for other GPUs, change that
constant and re-score with `adrs eval`."""
