"""The cloudcast workload of each stage: the network and the configurations, real or synthetic.

- quick:   intra_azure + inter_agz (one intra-, one inter-provider configuration);
- full:    the leaderboard's five configurations;
- holdout: five random configurations (source + 6 destinations, seed HOLDOUT_SEED) on the same
           network, never shown during evolution.
Real data (`data_dir` holding profiles/cost.csv, profiles/throughput.csv, config/*.json) or, by
default, the seeded synthetic stand-in (evaluators.cloudcast.synthetic).
Must not: run candidates or score.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from evaluators.cloudcast.network import Config, Network, load_config, load_network
from evaluators.cloudcast.synthetic import random_configs, synthetic_configs, synthetic_network

LEADERBOARD_CONFIGS = ("intra_aws", "intra_azure", "intra_gcp", "inter_agz", "inter_gaz2")
QUICK_CONFIGS = ("intra_azure", "inter_agz")
HOLDOUT_SEED = 77_031
HOLDOUT_COUNT = 5
STAGES = ("quick", "full", "holdout")


@dataclass(frozen=True)
class Workload:
    network: Network
    configs: tuple[Config, ...]
    real: bool
    leaderboard: bool  # exactly the leaderboard's five real configurations: its anchors apply


def build(stage: str, data: Path | None) -> Workload:
    if stage not in STAGES:
        raise ValueError(f"cloudcast has no stage {stage!r}; stages: {list(STAGES)}")
    if data is not None:
        network = load_network(data / "profiles")
        named = {n: load_config(data / "config" / f"{n}.json") for n in LEADERBOARD_CONFIGS}
    else:
        network, _ = synthetic_network()
        named = {c.name: c for c in synthetic_configs(network)}
    if stage == "holdout":
        configs = random_configs(network, HOLDOUT_COUNT, HOLDOUT_SEED)
    else:
        names = QUICK_CONFIGS if stage == "quick" else LEADERBOARD_CONFIGS
        configs = [named[n] for n in names]
    return Workload(network, tuple(configs), data is not None, data is not None and stage == "full")
