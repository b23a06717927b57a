"""Island upkeep: seeding every island with the initial program, ring migration, and re-seeding
islands that stopped improving.

Owns: when and what to copy between islands. Copies are new `migration` rows pointing at their
original (the original stays where it is) and carry the original's proposal index, so they never
shift the numbering that seeds each proposal's random choices. Upkeep runs from the proposer,
between proposals, on the view that proposals are built from: in a deterministic run the same
copies happen at the same points whatever the number of evaluation slots.

The adaptive search (adrs/search/adaptive.py) passes the islands it keeps active (the ring then
runs over those), seeds the islands it spawns through `copy_into`, and stores `to_state()` with
its own, so a resumed run migrates exactly when an uninterrupted one would.

Must not: choose parents or evaluate anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adrs.archive.elites import Elites, fitness_key
from adrs.archive.store import Archive, ProgramRecord


@dataclass
class IslandKeeper:
    archive: Archive
    run_id: int
    islands: int
    migration_interval: int  # evaluations (in the view) between ring migrations
    stagnation: int | None  # an island whose best has not improved in this many of its evaluations is re-seeded
    migrations_done: int = 0
    _best_key: dict[int, tuple] = field(default_factory=dict)
    _since_improvement: dict[int, int] = field(default_factory=dict)
    _counted: int = 0  # arrivals of the view already counted for stagnation

    def maintain(
        self, view: Elites, also: Elites | None = None, active: list[int] | None = None
    ) -> list[ProgramRecord]:
        """Bring the islands up to date with the view; returns the copies made (already in `view`).

        `active`: the islands the ring migration runs over (default: 0 .. islands - 1)."""
        copies: list[ProgramRecord] = []
        copies += self._seed(view)
        copies += self._migrate(view, sorted(active) if active is not None else list(range(self.islands)))
        copies += self._reseed_stagnant(view)
        if also is not None and also is not view:
            for copy in copies:
                also.add(copy)
        return copies

    def copy_into(
        self, view: Elites, original: ProgramRecord, island: int, also: Elites | None = None
    ) -> ProgramRecord | None:
        """Copy `original` onto `island` unless it is there already; the copy, or None."""
        if self._has_copy(view, original, island):
            return None
        copy = self._copy(view, original, island)
        if also is not None and also is not view:
            also.add(copy)
        return copy

    def _copy(self, view: Elites, original: ProgramRecord, island: int) -> ProgramRecord:
        source = self.archive.program(original.original_id)
        copy = self.archive.add_migrant(source, island, source.proposal_index)
        view.add(copy)
        return copy

    def to_state(self) -> dict[str, Any]:
        """What a resumed run needs to migrate and re-seed as an uninterrupted one would."""
        return {
            "migrations_done": self.migrations_done,
            "best_key": {str(i): list(k) for i, k in self._best_key.items()},
            "since_improvement": {str(i): n for i, n in self._since_improvement.items()},
            "counted": self._counted,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.migrations_done = int(state.get("migrations_done", 0))
        self._best_key = {int(i): tuple(k) for i, k in state.get("best_key", {}).items()}
        self._since_improvement = {int(i): int(n) for i, n in state.get("since_improvement", {}).items()}
        self._counted = int(state.get("counted", 0))

    def _seed(self, view: Elites) -> list[ProgramRecord]:
        initial = view.initial()
        if initial is None or self.islands < 2:
            return []
        missing = [
            i for i in range(1, self.islands) if not view.island_size(i) and not self._has_copy(view, initial, i)
        ]
        return [self._copy(view, initial, island) for island in missing]

    @staticmethod
    def _has_copy(view: Elites, original: ProgramRecord, island: int) -> bool:
        return view.has_code(island, original.code_hash)

    def _migrate(self, view: Elites, ring: list[int]) -> list[ProgramRecord]:
        if len(ring) < 2 or self.migration_interval <= 0:
            return []
        due = view.evaluated_count() // self.migration_interval
        copies: list[ProgramRecord] = []
        while self.migrations_done < due:
            self.migrations_done += 1
            for position, island in enumerate(ring):
                best = view.best(island)
                target = ring[(position + 1) % len(ring)]
                if best is not None and not self._has_copy(view, best, target):
                    copies.append(self._copy(view, best, target))
        if copies:
            self.archive.add_event(self.run_id, "migration", {"moved": [[c.migrated_from, c.island] for c in copies]})
        return copies

    def _reseed_stagnant(self, view: Elites) -> list[ProgramRecord]:
        """Count each island's evaluations since its best improved; past the limit, copy the global best in."""
        if self.stagnation is None or self.islands < 2:
            return []
        new = view.arrivals[self._counted :]
        self._counted = len(view.arrivals)
        for program in new:
            island = program.island
            key = fitness_key(program)
            if island not in self._best_key or key > self._best_key[island]:
                self._best_key[island] = key
                self._since_improvement[island] = 0
            else:
                self._since_improvement[island] = self._since_improvement.get(island, 0) + 1
        copies = []
        best = view.best()
        for island in range(self.islands):
            if self._since_improvement.get(island, 0) >= self.stagnation and best is not None:
                self._since_improvement[island] = 0
                if not self._has_copy(view, best, island):
                    copies.append(self._copy(view, best, island))
                    self.archive.add_event(self.run_id, "reseed", {"island": island, "from": best.original_id})
        return copies
