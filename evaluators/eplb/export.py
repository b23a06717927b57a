"""How an exported eplb policy plugs into vLLM: the recipe adrs export reads (adrs/export_bundle.py).

Constants only. USAGE is markdown in which $module names the exported module.
"""

HOST = "vLLM's expert-parallel load balancer (EPLB)"

EXAMPLE = "evaluators.eplb.export_example"

ADAPTERS = {"vllm": "evaluators.eplb.vllm_adapter"}

USAGE = """\
`$module.rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus)` is the policy
as evaluated: it takes what adrs gave it (an int64 numpy array, or a CPU torch tensor if the
program imports torch). `${module}_vllm.rebalance_experts` has vLLM's contract (the function in
`vllm/distributed/eplb/rebalance_algo.py`): a [layers, experts] load tensor in, three int64
tensors out on the same device, phy2log [layers, num_replicas], log2phy [layers, experts,
num_replicas - experts + 1] padded with -1, logcnt [layers, experts]; a placement that breaks a
rule (an expert without a replica, maps that disagree) raises ValueError.

Plug it in where vLLM imports its algorithm, before the engine starts:

```python
import sys
sys.path.insert(0, "/path/to/this/folder")
import ${module}_vllm
import vllm.distributed.eplb.rebalance_algo as algo
algo.rebalance_experts = ${module}_vllm.rebalance_experts
```

vLLM versions with policy classes (`vllm/distributed/eplb/policy/`): subclass the abstract policy
and call `${module}_vllm.rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_ranks)`
from its `rebalance_experts` class method (releases whose method returns only the physical-to-
logical map take the first of the three tensors). The policy was scored on 288 slots, 8 groups,
4 nodes, 32 GPUs; other sizes work if the policy does not assume them."""
