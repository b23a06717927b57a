"""What each stage simulates: the leaderboard's six scenarios and their trace windows.

Owns: the scenario table (region lists in the leaderboard's order; index 0 is where every run
starts) and the trace indices of the quick / full / holdout stages. (No causality-audit twins any
more: availability reaches the candidate one tick at a time, feed.py, so it has no future to read.)

Must not: load or generate traces itself (a TraceSource does), or score.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass

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
    Scenario("5_regions_high_diversity", ("us-east-1a", "us-east-1f", "us-west-2a", "us-west-2b", "us-east-2b"), 4),
    Scenario(
        "all_9_regions",
        (
            "us-east-2a",
            "us-west-2c",
            "us-east-1d",
            "us-east-2b",
            "us-west-2a",
            "us-east-1f",
            "us-east-1a",
            "us-west-2b",
            "us-east-1c",
        ),
        2,
    ),
)
ZONES = tuple(sorted({z for s in SCENARIOS for z in s.zones}))

STAGES = ("quick", "full", "holdout")
HOLDOUT_FIRST_INDEX = 50  # real data: holdout windows 50.. (quick and full use 0..7)

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


def build_simulations(stage: str, real_data: bool, load: TraceLoader, key_seed: int) -> list[Simulation]:
    """The stage's simulations, each with an opaque key drawn from `key_seed`."""
    windows = stage_windows(stage, real_data)
    traces = load({(z, i) for s, i in windows for z in s.zones})
    rng = random.Random(f"cant_be_late_multi/{stage}/{key_seed}")
    keys = [f"{k:06x}" for k in rng.sample(range(16**6), len(windows))]
    return [
        Simulation(scenario.name, index, tuple(traces[(z, index)] for z in scenario.zones), key=key)
        for (scenario, index), key in zip(windows, keys, strict=True)
    ]
