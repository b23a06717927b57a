"""The improvement signal of one island and the exploration intensity it implies (AdaEvolve's level 1).

Owns: `IslandSignal`, updated once per evaluation of the island's own children:

    delta = min(1, gain / progress)        gain over the island's best; progress = the run's best
                                            minus its initial score (the first gain counts 1)
    G    <- decay * G + (1 - decay) * delta^2
    I     = I_min + (I_max - I_min) / (1 + sqrt(G) / signal_scale)

so an island that keeps improving exploits (I near I_min) and one that has stalled explores (G
decays towards 0, I rises to I_max). AdaEvolve normalises the gain by |best|; on scores like
ours (prism about 60, gains of a few tenths) that leaves sqrt(G) near 0.01 and the intensity
pinned at I_max, so the gain is measured against the progress the run has made instead (the
same for every island, so gains compare across islands), and `signal_scale` sets where the
intensity turns. A better copy migrated in moves the island's best (later gains are measured
from it) and restarts its stall count, but leaves G alone: the island did not find it, and its
intensity says how productive the island itself is. (AdaEvolve raises G on migration; with the
run's best shared to every island as soon as it appears, that would make every island's intensity
the run's.)

Also `complete_score`, the one reading of a program's score that the adaptive search compares
(adaptive.py, population.py, sweep.py).

Must not: choose anything or touch the archive.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from adrs.archive.records import ProgramRecord, ProgramStatus


def complete_score(program: ProgramRecord) -> float | None:
    """The score the signals (and the stall sweep) compare: a complete evaluation's; None for a
    failure or a program a stage threshold stopped (no gain)."""
    if program.status != ProgramStatus.EVALUATED or not program.complete:
        return None
    return program.score


def normalized_gain(gain: float, progress: float) -> float:
    """A gain as a share of the run's progress so far, in [0, 1]; the first progress counts 1."""
    if gain <= 0:
        return 0.0
    if progress <= 0:
        return 1.0
    return min(1.0, gain / progress)


@dataclass
class IslandSignal:
    best: float | None = None  # the island's best complete score (own children and copies)
    g: float = 0.0  # the decayed mean of squared normalised gains
    evaluations: int = 0  # own children evaluated
    improvements: int = 0  # of which improved the island's best
    since_improvement: int = 0  # own evaluations since the island's best last improved (or it was seeded)

    def record(self, score: float | None, progress: float, decay: float) -> float:
        """One of the island's own children was evaluated (score None: failed or incomplete).

        Returns the normalised gain (0 when it did not beat the island's best)."""
        self.evaluations += 1
        delta = 0.0
        if score is not None and (self.best is None or score > self.best):
            delta = normalized_gain(score - self.best, progress) if self.best is not None else 1.0
            self.best = score
            self.improvements += 1
            self.since_improvement = 0
        else:
            self.since_improvement += 1
        self.g = decay * self.g + (1.0 - decay) * delta * delta
        return delta

    def receive(self, score: float | None) -> None:
        """A copy arrived (migration, seeding, the run's best shared): a better one moves the best."""
        if score is None or (self.best is not None and score <= self.best):
            return
        self.best = score
        self.since_improvement = 0

    def intensity(self, low: float, high: float, scale: float) -> float:
        """Share of parents drawn to explore: `high` when G is 0, towards `low` as G grows."""
        return low + (high - low) / (1.0 + math.sqrt(max(self.g, 0.0)) / scale)

    def to_state(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> IslandSignal:
        return cls(**data)
