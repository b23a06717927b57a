"""Settings of the adaptive search (`--selection adaptive`): one frozen record stored with the run.

Owns: every knob of adrs/search/ with its default and the reason for it, and their validation
(a bad value fails at start with one line naming the field).

Must not: hold state; the controller (adaptive.py) keeps that in the archive.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AdaptiveConfig:
    # Per-island improvement signal G <- decay*G + (1-decay)*delta^2, per evaluation of the island
    # (delta = the island's gain as a share of the run's progress so far, capped at 1).
    decay: float = 0.9  # AdaEvolve's rho: about the last ten evaluations of an island count
    # The benchmark (docs/benchmarks.md, issue 20) found the single edit of the best that hill
    # climbing keeps trying to be what most often pays on our problems, stalled or not: so even a
    # stalled island exploits its best in most proposals, and explores in the rest.
    intensity_min: float = 0.05  # share of exploring parents on an island that keeps improving
    intensity_max: float = 0.3  # ... on an island that has stopped improving
    signal_scale: float = 0.1  # sqrt(G) at which the intensity is half-way between the two
    exploit_share: float = 0.85  # of the parents that do not explore: the island's best; rest fitness-weighted
    # Island scheduling: UCB over decayed rewards; a gain of `reward_unit` of the run's progress so
    # far earns a full reward of 1 (smaller gains pro rata), so rewards measure useful improvement.
    ucb_c: float = 0.5  # exploration constant of the bandit (rewards are in [0, 1])
    reward_unit: float = 0.05
    min_pulls: int = 2  # children every island gets before the bandit compares them
    # Islands come and go: spawn one while the run improves rarely, retire one that has long stopped.
    max_islands: int = 6
    spawn_window: int = 40  # evaluations over which the rate of island-best improvements is measured
    spawn_below: float = 0.03  # spawn when that rate is below this (about one improvement in 40)
    spawn_cooldown: int = 60  # evaluations between two spawns
    retire_after: int = 150  # an island without a better best in this many of its evaluations retires
    min_islands: int = 2  # never retire below this many active islands
    # Stagnation: evaluations without a new best of the island (offline: larger edits) or of the
    # run (LLM: a breakthrough call for new approaches).
    stall_window: int = 30
    max_escalation: int = 3  # larger edits grow by one level per stall_window, up to this
    escalated_share: float = 0.5  # of a stalled island's proposals, those that get the larger edits (rest: as usual)
    # Adaptive v3 (docs/benchmarks.md): exploitation must not be spent where it has stopped paying.
    momentum_patience: int = 3  # pushes of a gain that did not beat their parent before it gets no more momentum
    hill_share: float = 0.5  # of every island's proposals, single edits of the run's best (as hill climbing) ...
    neighbourhood: int = 100  # ... until this many of them have been proposed since it became the best (0: none)
    # ... and after that (v4) a share that decays, hill_share x neighbourhood / k at the k-th one, instead of none
    neighbourhood_decay: bool = True
    # Adaptive v5 (adrs/search/sweep.py; offline runs only): once the run's best has not improved in
    # `sweep_after` evaluations, `sweep_share` of the proposals walk a list instead of drawing: every
    # single edit of the best, then pairs of the `sweep_pairs` least harmful edits that changed its
    # score, then the same from a neutral neighbour. 0 turns it off (v4's draws exactly).
    sweep_share: float = 0.5
    sweep_after: int = 60  # two stall windows: sampling (v4) gets its go at a new best first
    sweep_pairs: int = 10
    # Adaptive v6: the sweep tries the target's pairs of edits of two nested decisions (a test and
    # a test under it, neighbours.py `control_pairs`) before its single edits. False: v5's order.
    sweep_control: bool = True
    # Guards (adrs/mutate/offline/guards.py; offline runs only): of the sweep's proposals, this share
    # inserts a guard (`if A < 1.0 * B: return R`, a new decision) into the sweep's target, where
    # one has a place, instead of taking its next listed edit. cant_be_late's 42.73 plateau has no
    # single edit or coupled pair that gains and 2.3 % of its guards that do; with v6's control
    # pairs 0.5 took every run of five off it (docs/benchmarks.md, "v6"). 0: no guards (v5, v6 alone).
    guard_share: float = 0.5
    breakthroughs: int = 3  # approaches one breakthrough call asks for; 0 = no breakthrough calls
    paradigm_uses: int = 4  # proposals that cite each approach before it counts as tried
    # A selection strategy written by the model (EvoX's idea; adrs/search/written.py): off unless
    # asked for (`--evolve-selection`). A stalled LLM run asks its model for a parent-selection
    # function once per `stall_window`; it runs in the sandbox like a candidate, never here, every
    # `strategy_epoch` proposals, and chooses the parents while it is in use; it is rolled back when
    # it fails (an error, `strategy_timeout_s`, an answer that is not weights of the programs it was
    # given) or when the run's best has not improved in `strategy_trial` evaluations under it.
    written_strategy: bool = False
    strategy_epoch: int = 10
    strategy_trial: int = 40
    strategy_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        unit = {
            "decay": self.decay,
            "intensity_min": self.intensity_min,
            "intensity_max": self.intensity_max,
            "exploit_share": self.exploit_share,
            "spawn_below": self.spawn_below,
            "escalated_share": self.escalated_share,
            "hill_share": self.hill_share,
            "sweep_share": self.sweep_share,
            "guard_share": self.guard_share,
        }
        for name, value in unit.items():
            if not (isinstance(value, int | float) and math.isfinite(value) and 0.0 <= value <= 1.0):
                raise ValueError(f"adaptive.{name} must be a number in [0, 1], got {value!r}")
        if self.intensity_min > self.intensity_max:
            raise ValueError(
                f"adaptive.intensity_min ({self.intensity_min}) must not exceed "
                f"adaptive.intensity_max ({self.intensity_max})"
            )
        for name in ("signal_scale", "ucb_c", "reward_unit", "strategy_timeout_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"adaptive.{name} must be a positive number, got {value!r}")
        counts = {
            "min_pulls": 0,
            "max_islands": 1,
            "spawn_window": 1,
            "spawn_cooldown": 0,
            "retire_after": 1,
            "min_islands": 1,
            "stall_window": 1,
            "max_escalation": 0,
            "breakthroughs": 0,
            "paradigm_uses": 1,
            "momentum_patience": 1,
            "neighbourhood": 0,
            "sweep_after": 1,
            "sweep_pairs": 2,
            "strategy_epoch": 1,
            "strategy_trial": 1,
        }
        for name, least in counts.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"adaptive.{name} must be an integer >= {least}, got {value!r}")
        for name in ("neighbourhood_decay", "sweep_control", "written_strategy"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"adaptive.{name} must be true or false, got {getattr(self, name)!r}")
        if self.min_islands > self.max_islands:
            raise ValueError(
                f"adaptive.min_islands ({self.min_islands}) must not exceed adaptive.max_islands ({self.max_islands})"
            )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AdaptiveConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown adaptive settings {unknown}; known: {sorted(known)}")
        return cls(**data)
