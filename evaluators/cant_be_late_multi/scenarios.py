"""What each stage simulates: the leaderboard's six scenarios, their trace windows, the audit twins.

Owns: the scenario table (region lists in the leaderboard's order; index 0 is where every run
starts), the trace indices of the quick / full / holdout stages, and the causality-audit twins: a
copy of a simulation whose availability after a cut tick is replaced by another window's, run in
a different candidate process. A policy that only looks at the past decides identically before
the cut in both; one that reads the future (the payload is in its process) is caught.

Must not: load or generate traces itself (a TraceSource does), or score.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from evaluators.cant_be_late_multi.model import Simulation, ZoneTrace


@dataclass(frozen=True)
class Scenario:
    name: str
    zones: tuple[str, ...]
    traces: int  # windows in the full stage (indices 0 .. traces-1)


SCENARIOS = (
    Scenario("2_zones_same_region", ("us-east-1a", "us-east-1c"), 8),
    Scenario("2_regions_east_west", ("us-east-2a", "us-west-2a"), 8),
    Scenario("3_regions_diverse", ("us-east-1a", "us-east-2b", "us-west-2c"), 6),
    Scenario("3_zones_same_region", ("us-east-1a", "us-east-1c", "us-east-1d"), 6),
    Scenario(
        "5_regions_high_diversity", ("us-east-1a", "us-east-1f", "us-west-2a", "us-west-2b", "us-east-2b"), 4
    ),
    Scenario(
        "all_9_regions",
        (
            "us-east-2a", "us-west-2c", "us-east-1d", "us-east-2b", "us-west-2a",
            "us-east-1f", "us-east-1a", "us-west-2b", "us-east-1c",
        ),
        2,
    ),
)
ZONES = tuple(sorted({z for s in SCENARIOS for z in s.zones}))

STAGES = ("quick", "full", "holdout")
HOLDOUT_FIRST_INDEX = 50  # real data: holdout windows 50.. (quick and full use 0..7)
AUDIT_DONOR_OFFSET = 25  # an audit twin's future comes from window index + 25
AUDIT_CUT_RANGE = (120, 820)  # ticks; a run lasts about 890 to 960 ticks
AUDITS_PER_STAGE = {"quick": 0, "full": 6, "holdout": 6}

# (zone, window index) pairs -> traces; the source decides real or synthetic (and which seed).
TraceLoader = Callable[[Iterable[tuple[str, int]]], dict[tuple[str, int], ZoneTrace]]


def stage_windows(stage: str, real_data: bool) -> list[tuple[Scenario, int]]:
    """(scenario, window index) pairs of a stage. Synthetic holdout uses other seeds, same indices."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")
    if stage == "quick":
        return [(s, 0) for s in SCENARIOS]
    first = HOLDOUT_FIRST_INDEX if (stage == "holdout" and real_data) else 0
    return [(s, first + i) for s in SCENARIOS for i in range(s.traces)]


def build_simulations(
    stage: str, real_data: bool, load: TraceLoader, audit_seed: int, window_count: int = 100
) -> tuple[list[Simulation], list[Simulation]]:
    """The stage's simulations and its audit twins (each twin names its original by label)."""
    windows = stage_windows(stage, real_data)
    rng = random.Random(f"cant_be_late_multi/{stage}/{audit_seed}")
    audited = _pick_audits(windows, AUDITS_PER_STAGE[stage], rng)
    donors = {w: (w[1] + AUDIT_DONOR_OFFSET) % window_count for w in audited}
    pairs = {(z, i) for s, i in windows for z in s.zones}
    pairs |= {(z, donors[w]) for w in audited for z in w[0].zones}
    traces = load(pairs)
    sims = [
        Simulation(scenario.name, index, tuple(traces[(z, index)] for z in scenario.zones),
                   seed=1000 * SCENARIOS.index(scenario) + index)
        for scenario, index in windows
    ]
    twins = []
    for scenario, index in audited:
        original = sims[windows.index((scenario, index))]
        cut = rng.randint(*AUDIT_CUT_RANGE)
        donor = donors[(scenario, index)]
        zones = tuple(
            replace(z, available=z.available[:cut] + traces[(z.zone, donor)].available[cut:]) for z in original.zones
        )
        twins.append(replace(original, zones=zones, audit_cut=cut))
    keys = [f"{k:06x}" for k in rng.sample(range(16**6), len(sims) + len(twins))]
    sims = [replace(sim, key=key) for sim, key in zip(sims, keys, strict=False)]
    twins = [replace(twin, key=key) for twin, key in zip(twins, keys[len(sims):], strict=True)]
    return sims, twins


def _pick_audits(windows: list[tuple[Scenario, int]], count: int, rng: random.Random) -> list[tuple[Scenario, int]]:
    """One audited window per scenario where possible, chosen by the evaluation seed."""
    if count <= 0:
        return []
    by_scenario: dict[str, list[tuple[Scenario, int]]] = {}
    for w in windows:
        by_scenario.setdefault(w[0].name, []).append(w)
    picked = [rng.choice(ws) for ws in by_scenario.values()]
    return picked[:count]
