"""Runs an exported cant_be_late_multi strategy over three regions (written by adrs export as
<stem>_example.py).

A 48 h job with a 52 h deadline and 0.2 h restart overhead on seeded synthetic availability traces
of three regions with different spot prices. The bundled simulator
(evaluators/cant_be_late_multi/candidate_sim.py, the loop adrs scored the policy with) asks the
strategy every 195-second tick; the example prints where it ran and what it cost.
"""

import importlib
import random

from evaluators.cant_be_late_multi.candidate_sim import run_simulation
from evaluators.cant_be_late_multi.model import Job, Rules

POLICY_MODULE = "initial"
SPOT_PRICES = (0.92, 1.10, 0.97)  # $/h per region; on-demand 3.06 everywhere


def unavailable(ticks: int, rng: random.Random) -> str:
    """One character per tick: "1" spot unavailable, "0" available, in runs of 0.5 to 8 hours."""
    bits, up = [], rng.random() < 0.7
    while len(bits) < ticks:
        bits.extend(["0" if up else "1"] * rng.randint(9, 150))
        up = not up
    return "".join(bits[:ticks])


def main() -> None:
    policy = importlib.import_module(POLICY_MODULE)
    with open(policy.__file__) as f:
        code = compile(f.read(), policy.__file__, "exec")
    rng = random.Random(0)
    zones = [{"unavailable": unavailable(1000, rng), "spot_price": p, "on_demand_price": 3.06} for p in SPOT_PRICES]
    result = run_simulation(code, Job(), Rules(), {"key": "example", "seed": 0, "zones": zones})
    if result["error"]:
        raise SystemExit(f"the strategy failed: {result['error']}")
    types = result["types"]
    print(f"ticks {len(types)}: spot {types.count('S')}, on-demand {types.count('O')}, idle {types.count('N')}; "
          f"regions used {sorted(set(result['regions']))}; cost ${result['claimed']['cost']:.2f}")


if __name__ == "__main__":
    main()
