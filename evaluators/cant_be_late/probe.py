"""The causality probe: catches policies whose decisions depend on availability they cannot know yet.

The policy runs in a process that necessarily holds the traces (the payload), so hiding the future
cannot be enforced there; it can be tested. For a sample of runs, a twin run is added whose trace
equals the original's up to a cut tick C and continues with another trace of the same env after
it. Every input a policy may legitimately see up to tick C is then identical (same availability,
same configuration, same random seed), so a causal, deterministic policy requests exactly the same
types at ticks 0..C in both runs. Twins go to a different candidate process than their originals,
in a shuffled order, so a program cannot pair them by comparing traces.

A difference means the policy reads the future (the payload file, the driver's frames), keeps
state across simulations (the scored windows overlap one long trace per env, so that is the future
too), or is not deterministic. Owns: choosing probes, building twins, checking prefixes.
Must not: score anything.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from evaluators.cant_be_late import rules
from evaluators.cant_be_late.workload import Workload

PROBE_SHARE = 20  # one probe per 20 scored runs (+5 % simulation time)
MIN_PROBES = 4
FIRST_CUT_TICK = 6


@dataclass(frozen=True)
class Probe:
    original: int  # index of the scored simulation in the workload
    cut_tick: int  # ticks 0..cut_tick see the same availability in both runs
    bits: str  # the twin's trace


def plan_probes(workload: Workload) -> list[Probe]:
    """A fixed sample of runs with their twins (deterministic per stage and workload)."""
    sims = workload.simulations
    rng = random.Random(f"cant_be_late-probe-{workload.stage}-{workload.source}")
    count = min(len(sims), max(MIN_PROBES, len(sims) // PROBE_SHARE))
    probes = []
    for index in sorted(rng.sample(range(len(sims)), count)):
        sim = sims[index]
        deadline_ticks = int(sim.deadline_hours * 3600 / rules.GAP_SECONDS)
        cut = rng.randint(FIRST_CUT_TICK, deadline_ticks * 3 // 4)
        bits = sim.trace.bits
        donors = [t.bits for t in workload.traces[sim.trace.env] if t.bits[cut + 1:] != bits[cut + 1:]]
        if donors:
            probes.append(Probe(index, cut, bits[:cut + 1] + rng.choice(donors)[cut + 1:len(bits)]))
    return probes


def same_prefix(original_requests: str, twin_requests: str, cut_tick: int) -> bool:
    """Whether both runs requested the same types at ticks 0..cut_tick (or ended alike before)."""
    return original_requests[:cut_tick + 1] == twin_requests[:cut_tick + 1]
