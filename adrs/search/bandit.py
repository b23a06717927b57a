"""Which island gets the next proposal: UCB over decayed rewards (AdaEvolve's level 2).

Owns: `IslandBandit`. Each island is an arm. When one of its children is evaluated the arm gets
reward r = min(1, gain / (reward_unit x progress)) (0 without a gain over the island's best;
`progress` as in signal.py, so rewards compare across islands and over the run), and

    R <- decay * R + r        V <- decay * V + 1        (per evaluation of that island)

so R / V is the recent reward per recent evaluation and an old breakthrough fades. Copies that
migrate in earn nothing: the island did not find them. The arm played next maximises

    R / V + c * sqrt(ln N / n)      n = the arm's children so far (stored or in flight), N = all arms'

after every active arm has had `min_pulls` children (the least-pulled first, lowest island on
ties). Counting children in flight keeps a wide LLM window from sending every call to one island
before any result is back.

Must not: read the archive or make random choices: the same history gives the same island.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Arm:
    reward: float = 0.0  # R: decayed sum of rewards
    weight: float = 0.0  # V: decayed count of evaluations
    pulls: int = 0  # children stored on the island (committed proposals)

    @property
    def mean(self) -> float:
        return self.reward / self.weight if self.weight > 0 else 0.0


@dataclass
class IslandBandit:
    c: float
    decay: float
    min_pulls: int
    arms: dict[int, Arm] = field(default_factory=dict)

    def arm(self, island: int) -> Arm:
        return self.arms.setdefault(island, Arm())

    def reward(self, island: int, value: float) -> None:
        arm = self.arm(island)
        arm.reward = self.decay * arm.reward + value
        arm.weight = self.decay * arm.weight + 1.0

    def pulled(self, island: int) -> None:
        self.arm(island).pulls += 1

    def choose(self, active: list[int], in_flight: dict[int, int] | None = None) -> int:
        """The island for the next proposal among `active` (non-empty)."""
        in_flight = in_flight or {}
        pulls = {i: self.arm(i).pulls + in_flight.get(i, 0) for i in active}
        fewest = min(active, key=lambda i: (pulls[i], i))
        if pulls[fewest] < self.min_pulls:
            return fewest
        total = sum(pulls.values())
        log_total = math.log(max(total, 2))
        return max(active, key=lambda i: (self.arm(i).mean + self.c * math.sqrt(log_total / pulls[i]), -i))

    def scores(self, active: list[int]) -> dict[int, float]:
        """Each active island's recent reward per evaluation (for status lines and tests)."""
        return {i: self.arm(i).mean for i in active}

    def to_state(self) -> dict[str, Any]:
        return {str(i): [a.reward, a.weight, a.pulls] for i, a in sorted(self.arms.items())}

    def load_state(self, data: dict[str, Any]) -> None:
        self.arms = {int(i): Arm(float(v[0]), float(v[1]), int(v[2])) for i, v in data.items()}
