"""Parent and inspiration selection over the derived elites, seeded by the run seed.

Owns: the choice of which evaluated program to mutate next (exploitation of the island's best
cells, exploration of random elites, occasional Pareto-front sampling) and which programs to show
as inspirations (the island's top programs plus elites from other cells and islands).

Must not: touch the archive or keep state of its own: every random choice comes from the `rng`
passed in, which the engine derives from the run seed and the proposal index.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from adrs.archive.elites import Elites, fitness_key
from adrs.archive.store import ProgramRecord


@dataclass(frozen=True)
class SelectionConfig:
    exploit: float = 0.7  # share of parents drawn rank-weighted from the island's programs
    explore: float = 0.2  # share drawn uniformly from the island's MAP-Elites cells
    # the rest is drawn from the Pareto front of the whole run
    rank_power: float = 1.5  # higher: exploitation concentrates on the very best
    top_inspirations: int = 2
    diverse_inspirations: int = 2


@dataclass(frozen=True)
class Selection:
    parent: ProgramRecord
    inspirations: list[ProgramRecord]
    how: str  # exploit | explore | pareto | fallback


def _rank_weighted(pool: list[ProgramRecord], rng: random.Random, power: float) -> ProgramRecord:
    ranked = sorted(pool, key=lambda p: (fitness_key(p), -p.id), reverse=True)
    weights = [1.0 / (rank + 1) ** power for rank in range(len(ranked))]
    return rng.choices(ranked, weights=weights, k=1)[0]


def select(elites: Elites, island: int, rng: random.Random, config: SelectionConfig | None = None) -> Selection | None:
    """Pick a parent on `island` and inspirations; None when nothing has been evaluated yet."""
    config = config or SelectionConfig()
    members = sorted(elites.island_members(island), key=lambda p: p.id)
    if not members:
        best = elites.best()
        if best is None:
            return None
        return Selection(best, _inspirations(elites, best, island, rng, config), "fallback")
    roll = rng.random()
    cells = elites.island_elites(island)
    front = elites.pareto_front()
    if roll < config.exploit:
        parent, how = _rank_weighted(members, rng, config.rank_power), "exploit"
    elif roll < config.exploit + config.explore and cells:
        parent, how = rng.choice(cells), "explore"
    elif front:
        parent, how = rng.choice(front), "pareto"
    else:
        parent, how = _rank_weighted(members, rng, config.rank_power), "exploit"
    return Selection(parent, _inspirations(elites, parent, island, rng, config), how)


def _inspirations(
    elites: Elites, parent: ProgramRecord, island: int, rng: random.Random, config: SelectionConfig
) -> list[ProgramRecord]:
    chosen: list[ProgramRecord] = []
    seen = {parent.code_hash}
    top = sorted(elites.island_members(island), key=lambda p: (fitness_key(p), -p.id), reverse=True)
    for program in top:
        if len(chosen) >= config.top_inspirations:
            break
        if program.code_hash not in seen:
            chosen.append(program)
            seen.add(program.code_hash)
    others = [p for p in elites.all_elites() if p.code_hash not in seen]
    rng.shuffle(others)
    for program in others[: config.diverse_inspirations]:
        chosen.append(program)
        seen.add(program.code_hash)
    return chosen
