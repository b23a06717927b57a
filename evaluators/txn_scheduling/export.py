"""How an exported txn_scheduling policy plugs into a transaction scheduler: the recipe adrs export
reads (adrs/export_bundle.py), and the leaderboard module names its programs import.

Constants only. USAGE is markdown in which $module names the exported module. PEER_MODULES maps
a leaderboard module name to (module here, {name there: name here}); the driver serves those
names from the stage's own data instead (problems/txn_scheduling/driver.py).
"""

HOST = "a database's transaction scheduler (batch ordering to minimise makespan)"

EXAMPLE = "evaluators.txn_scheduling.export_example"

PEER_MODULES = {
    "txn_simulator": (
        "evaluators.txn_scheduling.simulator",
        {"Workload": "LeaderboardWorkload", "BudgetExhausted": "BudgetExhausted"},
    ),
    "workloads": (
        "evaluators.txn_scheduling.sample_workloads",
        {"WORKLOAD_1": "WORKLOAD_1", "WORKLOAD_2": "WORKLOAD_2", "WORKLOAD_3": "WORKLOAD_3"},
    ),
}

USAGE = """\
`$module.get_best_schedule(workload, num_seqs)` returns `(makespan, schedule)`: an order of the
transaction ids `0 .. workload.num_txns - 1`. The policy searches with the workload's cost
function: `workload.get_opt_seq_cost(ids)` is the makespan of running those transactions in that
order under the lock rules (a write waits for every earlier lock on its key, a read for the latest
write). To schedule a batch of your own, wrap its transactions (op strings `r-<key>`, `w-<key>`,
`*`) in the bundled simulator, which uses exactly the model the policy was scored with:

```python
import json, sys
sys.path.insert(0, "/path/to/this/folder")
import $module
from evaluators.txn_scheduling.simulator import LeaderboardWorkload

batch = {"txn0": "r-1 w-2 *", "txn1": "w-1 r-3", ...}          # your transactions, in order
_, order = $module.get_best_schedule(LeaderboardWorkload(json.dumps(batch)), 10)
```

Under adrs the policy had a budget of cost-function calls per workload (50,000 for 100
transactions); the bundled workload has none, so a policy that stops at its budget behaves the
same, and one that searches until it is stopped runs until it finishes."""
