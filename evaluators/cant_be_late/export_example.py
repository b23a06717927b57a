"""Runs an exported cant_be_late strategy over a spot-availability trace (written by adrs export as
<stem>_example.py).

A 48 h job with a 52 h and a 70 h deadline, 0.05 h restart overhead, on a seeded synthetic trace
(spot up and down in runs of 30 minutes to 5 hours). The bundled simulator
(evaluators/cant_be_late/episode.py: the Episode adrs scored the policy with, deadline guard
included) is fed the trace one 10-minute tick at a time, in this process (it is your own policy, so
no sandbox); the example prints whether the job finished in time, the spot and on-demand hours and
their cost.
"""

import importlib
import random

from evaluators.cant_be_late import rules
from evaluators.cant_be_late.episode import Episode, find_strategy_class

POLICY_MODULE = "initial"
OVERHEAD_HOURS = 0.05
TICKS_PER_HOUR = 3600 / rules.GAP_SECONDS


def trace(ticks: int, seed: int) -> str:
    """One character per 10-minute tick: "0" spot available, "1" not."""
    rng, bits, available = random.Random(seed), [], True
    while len(bits) < ticks:
        bits.extend(["0" if available else "1"] * rng.randint(3, 30))
        available = not available
    return "".join(bits[:ticks])


def run(strategy_cls: type, bits: str, deadline_hours: float) -> tuple[bool, int, str]:
    """(finished, ticks simulated, the type that ran at each tick as action codes "0"/"1"/"2")."""
    episode = Episode(strategy_cls, deadline_hours, OVERHEAD_HOURS, rules.TASK_HOURS)
    ran = []
    for tick, bit in enumerate(bits):
        answer = episode.advance(bit)  # two codes: what the policy asked for, what ran after the guards
        if answer == rules.DONE:
            return True, tick, "".join(ran)
        ran.append(answer[1])
    return False, len(bits), "".join(ran)


def main() -> None:
    strategy_cls = find_strategy_class(importlib.import_module(POLICY_MODULE))
    bits = trace(460, seed=0)
    for deadline in rules.DEADLINES_HOURS:
        finished, ticks, ran = run(strategy_cls, bits, deadline)
        hours = {code: ran.count(str(code)) / TICKS_PER_HOUR for code in (rules.SPOT, rules.ON_DEMAND)}
        cost = sum(rules.PRICES[code] * h for code, h in hours.items())
        print(
            f"deadline {deadline:g} h: finished={finished} at {ticks / TICKS_PER_HOUR:.1f} h, "
            f"spot {hours[rules.SPOT]:.1f} h, on-demand {hours[rules.ON_DEMAND]:.1f} h, cost ${cost:.2f}"
        )


if __name__ == "__main__":
    main()
