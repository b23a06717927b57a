"""Seeded synthetic spot-availability traces, the default workload when no real data is given.

Each trace alternates runs of available and unavailable ticks whose lengths follow the per-env
mixtures of geometric laws fitted to the real traces (synthetic_params.json, written once by
fit_synthetic.py). The first state follows the env's availability; a burn-in is generated and
dropped so a trace starts in the middle of a run, as a window of a longer trace does.

Every trace depends only on (SYNTHETIC_SEED, split, env, index): the workload is fixed by the
problem, independent of evaluate()'s `seed`, so scores compare across runs.

Must not: read real data, or draw from any unseeded random source.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np

from evaluators.cant_be_late.real_traces import Trace

PARAMS = Path(__file__).with_name("synthetic_params.json")
SYNTHETIC_SEED = 20240416  # fixed: the default workload of the problem
TRACE_TICKS = 554  # as the real traces (92.3 h), longer than the largest deadline
BURN_IN_TICKS = 1000  # several times the longest fitted mean run
SPLITS = {"scored": 0, "holdout": 1}  # quick/full draw from "scored"; the holdout stage never does


@cache
def fitted_params() -> dict:
    return json.loads(PARAMS.read_text())["envs"]


def _runs(rng: np.random.Generator, law: dict, count: int) -> np.ndarray:
    component = rng.choice(len(law["weights"]), size=count, p=law["weights"])
    return rng.geometric(1.0 / np.asarray(law["mean_ticks"])[component])


def synthetic_bits(env: str, split: str, index: int, ticks: int = TRACE_TICKS) -> str:
    """One trace as a string: "1" = spot NOT available during that tick."""
    params = fitted_params()[env]
    env_index = sorted(fitted_params()).index(env)
    rng = np.random.default_rng([SYNTHETIC_SEED, SPLITS[split], env_index, index])
    values: list[np.ndarray] = []
    total = 0
    unavailable = rng.random() >= params["availability"]
    while total < BURN_IN_TICKS + ticks:
        # draw runs in batches; both laws advance in lockstep so the sequence is reproducible
        available_runs = _runs(rng, params["available_runs"], 64)
        unavailable_runs = _runs(rng, params["unavailable_runs"], 64)
        for available, blocked in zip(available_runs, unavailable_runs, strict=True):
            first, second = (blocked, available) if unavailable else (available, blocked)
            values.append(np.full(first, unavailable, dtype=np.int8))
            values.append(np.full(second, not unavailable, dtype=np.int8))
            total += first + second
    series = np.concatenate(values)[BURN_IN_TICKS : BURN_IN_TICKS + ticks]
    return (series + ord("0")).astype(np.uint8).tobytes().decode()


def synthetic_traces(envs: tuple[str, ...], split: str, count: int) -> dict[str, list[Trace]]:
    """`count` traces per env of the given split, named synthetic-<split>-<index>."""
    return {
        env: [Trace(env, f"synthetic-{split}-{index}", synthetic_bits(env, split, index)) for index in range(count)]
        for env in envs
    }
