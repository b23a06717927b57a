"""How an exported telemetry_repair policy plugs into a network monitoring pipeline: the recipe adrs
export reads (adrs/export_bundle.py).

Constants only. USAGE is markdown in which $module names the exported module.
"""

HOST = "a network telemetry pipeline (counter validation before traffic engineering)"

EXAMPLE = "evaluators.telemetry_repair.export_example"

USAGE = """\
`$module.run_repair(telemetry, topology)` takes one snapshot of interface counters and returns,
for every interface, `(original, repaired, confidence)` triples for `rx_rate`, `tx_rate` and
`interface_status`, plus `connected_to`, `local_router` and `remote_router` unchanged:

```python
import sys
sys.path.insert(0, "/path/to/this/folder")
import $module

# telemetry: interface id -> {"interface_status": "up"/"down", "rx_rate": Mbps, "tx_rate": Mbps,
#            "connected_to": peer interface id, "local_router": id, "remote_router": id}
# topology:  router id -> [its interface ids]
repaired = $module.run_repair(telemetry, topology)
rx, rx_fixed, confidence = repaired["B_to_A"]["rx_rate"]
if confidence >= 0.8:
    use(rx_fixed)          # feed the repaired counter to traffic engineering
```

The policy was scored on snapshots of the Abilene backbone with counters dropped to 0 or scaled
by 0.5-0.8 / 1.2-1.5 (single interfaces or whole routers) and +-2 % noise."""
