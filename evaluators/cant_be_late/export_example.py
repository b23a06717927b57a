"""Runs an exported cant_be_late strategy over a spot-availability trace (written by adrs export as
<stem>_example.py).

A 48 h job with a 52 h and a 70 h deadline, 0.05 h restart overhead, on a seeded synthetic trace
(spot up and down in runs of 30 minutes to 5 hours). The bundled simulator
(evaluators/cant_be_late/episode.py, the adrs evaluator's own loop, deadline guard included) asks
the strategy every 10-minute tick; the example prints whether the job finished in time, the spot
and on-demand hours and their cost.
"""

import importlib
import random

from evaluators.cant_be_late import rules
from evaluators.cant_be_late.episode import find_strategy_class, run_episode

POLICY_MODULE = "initial"


def trace(ticks: int, seed: int) -> str:
    """One character per 10-minute tick: "0" spot available, "1" not."""
    rng, bits, available = random.Random(seed), [], True
    while len(bits) < ticks:
        bits.extend(["0" if available else "1"] * rng.randint(3, 30))
        available = not available
    return "".join(bits[:ticks])


def main() -> None:
    strategy_cls = find_strategy_class(importlib.import_module(POLICY_MODULE))
    for deadline in rules.DEADLINES_HOURS:
        log = run_episode(strategy_cls, trace(460, seed=0), deadline, 0.05, rules.TASK_HOURS)
        hours = {code: log.actions.count(str(code)) * rules.GAP_SECONDS / 3600 for code in (rules.SPOT, rules.ON_DEMAND)}
        cost = sum(rules.PRICES[code] * h for code, h in hours.items())
        print(f"deadline {deadline:g} h: finished={log.finished} at {log.ticks / 6:.1f} h, "
              f"spot {hours[rules.SPOT]:.1f} h, on-demand {hours[rules.ON_DEMAND]:.1f} h, cost ${cost:.2f}")


if __name__ == "__main__":
    main()
