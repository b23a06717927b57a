"""Which islands an adaptive run works on: their improvement signals, spawning and retirement.

Owns, for one run: each island's improvement signal (signal.py), the list of active islands, the
record of recent children that decides spawning, the island that found the run's best (never
retired), and the copies of a new best of the run into every active island (through the island
keeper). An island is spawned while island bests improve rarely (seeded with the run's best and
the best elite of another MAP-Elites cell), and retired when its best has not improved in
`retire_after` of its evaluations, never below `min_islands`. Its state is part of the adaptive
search's stored state (adaptive.py writes it, under the same keys as before this module existed,
so runs stored earlier resume unchanged).

Must not: choose parents or islands to propose on (the bandit and parents.py do), evaluate, or
write anything but its island_spawned and island_retired events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adrs.archive.elites import Elites
from adrs.archive.records import ProgramRecord
from adrs.archive.store import Archive
from adrs.islands import IslandKeeper
from adrs.search.config import AdaptiveConfig
from adrs.search.signal import IslandSignal, complete_score


@dataclass
class IslandPopulation:
    archive: Archive
    run_id: int
    config: AdaptiveConfig
    keeper: IslandKeeper
    signals: dict[int, IslandSignal] = field(default_factory=dict)
    active: list[int] = field(default_factory=list)
    recent: list[int] = field(default_factory=list)  # 1 per child that improved its island's best (spawn_window)
    last_spawn: int = 0  # the evaluation count at the last spawn
    shared_best: int | None = None  # the run's best program last copied to every active island
    # The island whose own child found the run's best (copies of it go to every island, so
    # holding the best says nothing; finding it does): never retired.
    best_island: int | None = None

    @classmethod
    def start(
        cls, archive: Archive, run_id: int, config: AdaptiveConfig, keeper: IslandKeeper, islands: int
    ) -> IslandPopulation:
        return cls(archive, run_id, config, keeper, {i: IslandSignal() for i in range(islands)}, list(range(islands)))

    def signal(self, island: int) -> IslandSignal:
        return self.signals.setdefault(island, IslandSignal())

    def received(self, copy: ProgramRecord) -> None:
        """A copy arrived on its island (migration, a shared best, a spawn's seed): not the island's own gain."""
        self.signal(copy.island).receive(complete_score(copy))

    def child_taken(self, improved: bool) -> None:
        self.recent = (self.recent + [1 if improved else 0])[-self.config.spawn_window :]

    def intensity(self, island: int) -> float:
        c = self.config
        return self.signal(island).intensity(c.intensity_min, c.intensity_max, c.signal_scale)

    def escalation(self, island: int) -> int:
        """How many more operators the offline mutator chains on this island: one per stall_window stalled."""
        return min(self.config.max_escalation, self.signal(island).since_improvement // self.config.stall_window)

    # the run's best on every island ---------------------------------------------------------------
    def share_best(self, view: Elites, also: Elites | None) -> bool:
        """Copy a new best of the run to every active island: each island's exploiting then works on it.

        Ring migration alone leaves the other islands polishing older bests for up to an interval;
        what stays island-specific is everything else an island explores from."""
        best = view.best()
        if best is None or not best.complete:
            return False
        original = best.original_id
        if original == self.shared_best:
            return False
        self.shared_best = original
        for island in self.active:
            copy = self.keeper.copy_into(view, best, island, also)
            if copy is not None:
                self.received(copy)
        return True

    # islands come and go --------------------------------------------------------------------------
    def spawn(self, view: Elites, also: Elites | None, evaluations: int) -> bool:
        """A new island while island bests improve rarely: seeded with the best and a different elite."""
        config = self.config
        if (
            len(self.active) >= config.max_islands
            or len(self.recent) < config.spawn_window
            or evaluations - self.last_spawn < config.spawn_cooldown
            or sum(self.recent) / len(self.recent) >= config.spawn_below
        ):
            return False
        best = view.best()
        if best is None:
            return False
        island = max(self.signals) + 1
        self.signals[island] = IslandSignal()
        self.active.append(island)
        self.last_spawn = evaluations
        seeds = [best, *self._stepping_stone(view, best)]
        for seed in seeds:
            copy = self.keeper.copy_into(view, seed, island, also)
            if copy is not None:
                self.received(copy)
        self.archive.add_event(
            self.run_id,
            "island_spawned",
            {
                "island": island,
                "at_evaluation": evaluations,
                "seeds": [s.original_id for s in seeds],
                "improvement_rate": sum(self.recent) / len(self.recent),
            },
        )
        return True

    @staticmethod
    def _stepping_stone(view: Elites, best: ProgramRecord) -> list[ProgramRecord]:
        """The best elite of another MAP-Elites cell than the best's: a different start for the new island."""
        cell = view.cell_of(best)
        others = [p for p in view.all_elites() if view.cell_of(p) != cell and p.complete and p.score is not None]
        if not others:
            return []
        return [max(others, key=lambda p: (p.score, -p.id))]

    def retire(self, evaluations: int) -> bool:
        """Retire an island whose best has not improved in retire_after of its evaluations.

        Never the island that found the run's best, nor below min_islands active islands."""
        for island in list(self.active):
            if len(self.active) <= self.config.min_islands:
                return False
            signal = self.signals[island]
            if signal.since_improvement >= self.config.retire_after and island != self.best_island:
                self.active.remove(island)
                self.archive.add_event(
                    self.run_id,
                    "island_retired",
                    {
                        "island": island,
                        "at_evaluation": evaluations,
                        "best": signal.best,
                        "evaluations": signal.evaluations,
                        "improvements": signal.improvements,
                    },
                )
                return True
        return False

    # state (keys of the adaptive search's stored state) -------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {
            "signals": {str(i): s.to_state() for i, s in sorted(self.signals.items())},
            "active": list(self.active),
            "best_island": self.best_island,
            "recent": list(self.recent),
            "last_spawn": self.last_spawn,
            "shared_best": self.shared_best,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.signals = {int(i): IslandSignal.from_state(s) for i, s in state["signals"].items()}
        self.active = [int(i) for i in state["active"]]
        self.best_island = state.get("best_island")
        self.recent, self.last_spawn = [int(v) for v in state["recent"]], int(state["last_spawn"])
        self.shared_best = state["shared_best"]
