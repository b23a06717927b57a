"""Which scenarios each stage of the telemetry-repair problem scores, real or synthetic.

Owns: the fixed seeds. The leaderboard's set is 30 scenarios drawn with random.Random(42) from
the 40 snapshots; quick is its first 10 (the same draws), full all 30. Holdout uses what the
leaderboard never shows:

- real (`data_dir` given): the 10 snapshots seed 42 does not sample, perturbed from seed 4242;
- synthetic (default): quick/full from the network of seed 1 (scenario seed 42), holdout 30
  scenarios from another network (seed 2, scenario seed 4242).

Must not: run candidates or score anything.
"""

from __future__ import annotations

import os
import random

from adrs.problemkit import find_data
from evaluators.telemetry_repair.network import read_snapshots
from evaluators.telemetry_repair.scenarios import Scenario, make_scenarios
from evaluators.telemetry_repair.synth import synthetic_snapshots

PROBLEM_SUBDIR = "telemetry_repair"
DATA_FILE = "evaluation_data.csv"
SCENARIO_SEED, SCENARIOS, QUICK = 42, 30, 10
HOLDOUT_SEED = 4242
SYNTHETIC_NETWORK, SYNTHETIC_HOLDOUT_NETWORK = 1, 2
STAGES = ("quick", "full", "holdout")


def stage_scenarios(stage: str, data_dir: str | os.PathLike | None = None) -> tuple[list[Scenario], str]:
    """The scenarios of `stage` and where they came from ("real" or "synthetic")."""
    if stage not in STAGES:
        raise ValueError(f"telemetry_repair has no stage {stage!r}; stages: {list(STAGES)}")
    folder = find_data(data_dir, PROBLEM_SUBDIR, DATA_FILE)
    if folder is not None:
        snapshots = read_snapshots(folder / DATA_FILE)
        if stage == "holdout":
            shown = {id(s) for s in random.Random(SCENARIO_SEED).sample(snapshots, SCENARIOS)}
            unseen = [s for s in snapshots if id(s) not in shown]
            return make_scenarios(unseen, len(unseen), HOLDOUT_SEED), "real"
        scenarios = make_scenarios(snapshots, SCENARIOS, SCENARIO_SEED)
    else:
        if stage == "holdout":
            return make_scenarios(synthetic_snapshots(SYNTHETIC_HOLDOUT_NETWORK), SCENARIOS, HOLDOUT_SEED), "synthetic"
        scenarios = make_scenarios(synthetic_snapshots(SYNTHETIC_NETWORK), SCENARIOS, SCENARIO_SEED)
    source = "real" if folder is not None else "synthetic"
    return (scenarios[:QUICK] if stage == "quick" else scenarios), source
