"""Runs an exported cant_be_late_multi strategy over three regions (written by adrs export as
<stem>_example.py).

A 48 h job with a 52 h deadline and 0.2 h restart overhead on seeded synthetic availability traces
of three regions with different spot prices. The bundled simulator
(evaluators/cant_be_late_multi/candidate_sim.py: the Run adrs scored the policy with) is fed the
traces one 195-second tick at a time, in this process (it is your own policy, so no sandbox); the
example prints where it ran and what it cost.
"""

import importlib
import random

from evaluators.cant_be_late_multi.candidate_sim import Run, compile_candidate
from evaluators.cant_be_late_multi.model import NONE, ON_DEMAND, SPOT, Job, Rules

POLICY_MODULE = "initial"
SPOT_PRICES = (0.92, 1.10, 0.97)  # $/h per region
ON_DEMAND_PRICE = 3.06  # $/h everywhere
TICKS = 1000


def unavailable(ticks: int, rng: random.Random) -> str:
    """One character per tick: "1" spot unavailable, "0" available, in runs of 0.5 to 8 hours."""
    bits, up = [], rng.random() < 0.7
    while len(bits) < ticks:
        bits.extend(["0" if up else "1"] * rng.randint(9, 150))
        up = not up
    return "".join(bits[:ticks])


def main() -> None:
    code = compile_candidate(importlib.import_module(POLICY_MODULE))
    rng = random.Random(0)
    zones = [unavailable(TICKS, rng) for _ in SPOT_PRICES]
    run = Run(code, Job(), Rules(), [[spot, ON_DEMAND_PRICE] for spot in SPOT_PRICES])
    for tick in range(TICKS):
        run.tick("".join(zone[tick] for zone in zones))  # this tick's bit of every region, and no later one
        if run.machine.finished:
            break
    else:
        raise SystemExit(f"the job is unfinished after {TICKS} ticks")
    machine = run.machine
    ran = [kind for kind, _ in machine.history]  # what ran in each tick, as billed
    regions = sorted({zone for kind, zone in machine.history if kind != NONE})
    print(
        f"finished at {machine.finish_s / 3600:.1f} h: ticks on spot {ran.count(SPOT)}, "
        f"on-demand {ran.count(ON_DEMAND)}, idle {ran.count(NONE)}; regions used {regions}; cost ${machine.cost():.2f}"
    )


if __name__ == "__main__":
    main()
