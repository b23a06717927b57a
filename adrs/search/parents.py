"""Parents on one island by the island's exploration intensity (AdaEvolve's sampling modes).

Owns: the three ways a parent is drawn, given the intensity I of the island and the proposal's rng:

- explore (probability I): a uniform MAP-Elites cell of the island (structurally different
  programs get the same chance as the best), or a uniform member when there is one cell;
- exploit (probability (1 - I) x exploit_share): the island's best, as hill climbing would;
- balanced (the rest): rank-weighted over the island (weight 1 / rank).

The island's ranking is `Elites.ranked` (kept on insert) and the running sums of 1 / rank are
cached (archive/select.py's `choose_by_rank`): a draw is O(log n), with the same result as
`rng.choices` over the sorted island.

Must not: keep state or touch the archive; every random choice comes from the rng passed in.
"""

from __future__ import annotations

import random

from adrs.archive.elites import Elites, fitness_key
from adrs.archive.records import ProgramRecord
from adrs.archive.select import choose_by_rank

EXPLORE, EXPLOIT, BALANCED = "explore", "exploit", "balanced"


def ranked(pool: list[ProgramRecord]) -> list[ProgramRecord]:
    return sorted(pool, key=lambda p: (fitness_key(p), -p.id), reverse=True)


def choose_parent(
    elites: Elites, island: int, intensity: float, exploit_share: float, rng: random.Random
) -> tuple[ProgramRecord, str] | None:
    """A parent on `island` and the mode that chose it; None when the island has no evaluated member."""
    members = elites.ranked(island)  # best first, as ranked(); the index itself: read only
    if not members:
        return None
    roll = rng.random()
    if roll < intensity:
        cells = elites.island_elites(island)
        pool = cells if len(cells) > 1 else members
        return rng.choice(pool), EXPLORE
    if roll < intensity + (1.0 - intensity) * exploit_share:
        return members[0], EXPLOIT
    return choose_by_rank(members, "inverse", lambda rank: 1.0 / (rank + 1), rng), BALANCED
