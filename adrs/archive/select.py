"""Parent and inspiration selection over the derived elites, seeded by the run seed.

Owns: the strategies that choose which evaluated program to mutate next, and which programs to
show as inspirations (the island's top programs, elites of other cells, the Pareto front and
other islands). Strategies, chosen per run with `SelectionConfig.strategy`:

- `mixed` (default): rank-weighted from the island most of the time, a uniform MAP-Elites cell
  some of the time, the Pareto front now and then.
- `rank`: power law over the island's programs ranked by fitness.
- `weighted`: fitness-proportional (min-max within the island) with a penalty for parents that
  already have many children, so one lucky program does not absorb the whole budget.
- `tournament`: the best of k programs drawn uniformly from the island.
- `pareto`: a member of the run's Pareto front, weighted by crowding distance (sparse regions of
  the front are extended first).
- `instances`: a member of the per-instance front: programs that are best on at least one
  workload instance (as GEPA does), weighted by how many instances they win.
- `random`: always the initial program (the random-search baseline of the benchmark).
- `hill`: always the best program (greedy hill climbing, the other baseline).
- `adaptive`: chosen in a run by adrs/search/adaptive.py, which keeps per-island history (the
  island by a bandit, the parent by the island's exploration intensity); called here without
  that history, it draws as an island with no record of improving would.

Cost per proposal: the island's ranking is kept by `Elites.add` (bisect on insert, best first),
and rank weights depend only on the rank, so their running sums are cached by length: `rank`,
`tournament`, `hill`, `random` and the exploit and explore branches of `mixed` are O(log n) in
the island's size n. `weighted` is O(n) (its weights depend on every member's score and
children), `pareto` O(f log f) in the front's size f, `instances` O(instances + programs that win
one). Inspirations shuffle the MAP-Elites cells and the front: bounded by the grid, not by n.
Every strategy draws exactly what it drew when it sorted the island for each proposal
(tests/test_selection_scaling.py compares them with that implementation).

Must not: touch the archive or keep state of its own: every random choice comes from the `rng`
passed in, which the engine derives from the run seed and the proposal index. (The cached sums of
rank weights are a function of the rank alone.)
"""

from __future__ import annotations

import math
import random
from bisect import bisect
from collections.abc import Callable
from dataclasses import dataclass

from adrs.archive.elites import Elites, fitness_key, objective_value
from adrs.archive.records import ProgramRecord
from adrs.validation import SettingError, require

STRATEGIES = ("mixed", "rank", "weighted", "tournament", "pareto", "instances", "random", "hill", "adaptive")


@dataclass(frozen=True)
class SelectionConfig:
    strategy: str = "adaptive"  # since issue 20's v6 (docs/benchmarks.md "Adaptive search")
    exploit: float = 0.7  # mixed: share of parents drawn rank-weighted from the island
    explore: float = 0.2  # mixed: share drawn uniformly from the island's MAP-Elites cells; rest: Pareto front
    rank_power: float = 1.5  # rank: higher concentrates on the very best
    children_penalty: float = 0.5  # weighted: weight / (1 + penalty x children)
    tournament_size: int = 3
    top_inspirations: int = 2
    diverse_inspirations: int = 2

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise SettingError(
                f"--selection (strategy): unknown selection strategy {self.strategy!r}; "
                f"choose one of {', '.join(STRATEGIES)}"
            )
        for name in ("exploit", "explore"):
            require(f"selection.{name}", getattr(self, name), at_least=0, at_most=1)
        if self.exploit + self.explore > 1:
            raise SettingError(f"selection: exploit + explore must be at most 1, got {self.exploit} + {self.explore}")
        require("selection.rank_power", self.rank_power, at_least=0)
        require("selection.children_penalty", self.children_penalty, at_least=0)
        require("selection.tournament_size", self.tournament_size, whole=True, at_least=1)
        require("selection.top_inspirations", self.top_inspirations, whole=True, at_least=0)
        require("selection.diverse_inspirations", self.diverse_inspirations, whole=True, at_least=0)


@dataclass(frozen=True)
class Selection:
    parent: ProgramRecord
    inspirations: list[ProgramRecord]
    how: str  # the strategy (and, for mixed, the branch) that chose the parent


# Running sums of rank weights, by weight rule: entry k is the sum of the weights of ranks 0..k,
# added left to right as itertools.accumulate (inside random.choices) adds them.
_CUMULATIVE: dict[object, list[float]] = {}


def _cumulative(rule: object, weight: Callable[[int], float], n: int) -> list[float]:
    """At least n running sums of `weight(rank)` (the cache is shared: read only the first n)."""
    sums = _CUMULATIVE.setdefault(rule, [])
    while len(sums) < n:
        w = weight(len(sums))
        sums.append(sums[-1] + w if sums else w)
    return sums


def choose_by_rank(ranked: list[ProgramRecord], rule: object, weight: Callable[[int], float], rng: random.Random):
    """`rng.choices(ranked, weights=[weight(r) for r in range(len(ranked))], k=1)[0]`, in O(log n).

    The same arithmetic as random.choices (CPython 3.11-3.13): one rng.random() scaled by the total
    of the running sums, bisected with hi = n - 1; so the same seed draws the same program."""
    n = len(ranked)
    sums = _cumulative(rule, weight, n)
    total = sums[n - 1] + 0.0
    if not (total > 0.0 and math.isfinite(total)):  # as random.choices does (not reached by power weights)
        return rng.choices(ranked, weights=[weight(r) for r in range(n)], k=1)[0]
    return ranked[bisect(sums, rng.random() * total, 0, n - 1)]


def _rank(ranked: list[ProgramRecord], elites: Elites, rng: random.Random, config: SelectionConfig) -> ProgramRecord:
    power = config.rank_power  # the cache's rule names its type too: 2 and 2.0 round differently at large ranks
    return choose_by_rank(ranked, ("power", type(power), power), lambda rank: 1.0 / (rank + 1) ** power, rng)


def _weighted(
    ranked: list[ProgramRecord], elites: Elites, rng: random.Random, config: SelectionConfig
) -> ProgramRecord:
    scores = [p.score if p.score is not None else 0.0 for p in ranked]
    low, high = min(scores), max(scores)
    span = high - low or 1.0
    weights = [
        (0.05 + (s - low) / span) * (2.0 if p.complete else 1.0) / (1.0 + config.children_penalty * elites.children(p))
        for s, p in zip(scores, ranked, strict=True)
    ]
    return rng.choices(ranked, weights=weights, k=1)[0]


def _tournament(
    ranked: list[ProgramRecord], elites: Elites, rng: random.Random, config: SelectionConfig
) -> ProgramRecord:
    entrants = [ranked[rng.randrange(len(ranked))] for _ in range(min(config.tournament_size, len(ranked)))]
    return max(entrants, key=lambda p: (fitness_key(p), -p.id))


def crowding_distances(front: list[ProgramRecord], elites: Elites) -> list[float]:
    """NSGA-II crowding distance of each front member in objective space (inf at the extremes)."""
    n = len(front)
    distance = [0.0] * n
    for objective in elites.problem.objectives:
        values = [objective_value(p, objective) or 0.0 for p in front]
        order = sorted(range(n), key=lambda i: values[i])
        span = values[order[-1]] - values[order[0]]
        distance[order[0]] = distance[order[-1]] = math.inf
        if span <= 0:
            continue
        for k in range(1, n - 1):
            distance[order[k]] += (values[order[k + 1]] - values[order[k - 1]]) / span
    return distance


def _pareto(ranked: list[ProgramRecord], elites: Elites, rng: random.Random, config: SelectionConfig) -> ProgramRecord:
    front = sorted(elites.pareto_front(), key=lambda p: p.id)
    if not front:
        return _rank(ranked, elites, rng, config)
    distances = crowding_distances(front, elites)
    finite = [d for d in distances if math.isfinite(d)]
    cap = 2.0 * max(finite, default=1.0) or 1.0  # extremes count double the widest gap, not infinitely
    weights = [min(d, cap) + 1e-6 for d in distances]
    return rng.choices(front, weights=weights, k=1)[0]


def _instances(
    ranked: list[ProgramRecord], elites: Elites, rng: random.Random, config: SelectionConfig
) -> ProgramRecord:
    wins = elites.instance_front()
    if not wins:
        return _rank(ranked, elites, rng, config)
    ids = sorted(wins)
    return elites.programs[rng.choices(ids, weights=[wins[i] for i in ids], k=1)[0]]


_BY_NAME: dict[str, Callable[[list[ProgramRecord], Elites, random.Random, SelectionConfig], ProgramRecord]] = {
    "rank": _rank,
    "weighted": _weighted,
    "tournament": _tournament,
    "pareto": _pareto,
    "instances": _instances,
}


def select(elites: Elites, island: int, rng: random.Random, config: SelectionConfig | None = None) -> Selection | None:
    """Pick a parent on `island` and inspirations; None when nothing has been evaluated yet."""
    config = config or SelectionConfig()
    if config.strategy == "random":
        initial = elites.initial()
        return None if initial is None else Selection(initial, [], "random")
    if config.strategy == "hill":
        best = elites.best()
        return None if best is None else Selection(best, inspirations(elites, best, island, rng, config), "hill")
    ranked = elites.ranked(island)  # the index itself: read only
    if not ranked:
        best = elites.best()
        if best is None:
            return None
        return Selection(best, inspirations(elites, best, island, rng, config), "fallback")
    if config.strategy == "mixed":
        parent, how = _mixed(ranked, elites, island, rng, config)
    elif config.strategy == "adaptive":
        from adrs.search.config import AdaptiveConfig  # adrs.search builds on this module
        from adrs.search.parents import choose_parent

        defaults = AdaptiveConfig()
        picked = choose_parent(elites, island, defaults.intensity_max, defaults.exploit_share, rng)
        parent, mode = picked or (min(ranked, key=lambda p: p.id), "")  # not reached: the island has members
        how = f"adaptive:{mode}"
    else:
        parent, how = _BY_NAME[config.strategy](ranked, elites, rng, config), config.strategy
    return Selection(parent, inspirations(elites, parent, island, rng, config), how)


def _mixed(
    ranked: list[ProgramRecord], elites: Elites, island: int, rng: random.Random, config: SelectionConfig
) -> tuple[ProgramRecord, str]:
    roll = rng.random()
    if roll < config.exploit:
        return _rank(ranked, elites, rng, config), "mixed:exploit"
    cells = elites.island_elites(island)
    if roll < config.exploit + config.explore and cells:
        return rng.choice(cells), "mixed:explore"
    if elites.front:
        return _pareto(ranked, elites, rng, config), "mixed:pareto"
    return _rank(ranked, elites, rng, config), "mixed:exploit"


def inspirations(
    elites: Elites, parent: ProgramRecord, island: int, rng: random.Random, config: SelectionConfig
) -> list[ProgramRecord]:
    """The island's best programs, then a shuffled mix of other cells, the front and other islands."""
    chosen: list[ProgramRecord] = []
    seen = {parent.code_hash}
    for program in elites.ranked(island):
        if len(chosen) >= config.top_inspirations:
            break
        if program.code_hash not in seen:
            chosen.append(program)
            seen.add(program.code_hash)
    others = elites.all_elites() + elites.pareto_front()
    rng.shuffle(others)
    for program in others:
        if len(chosen) >= config.top_inspirations + config.diverse_inspirations:
            break
        if program.code_hash not in seen:
            chosen.append(program)
            seen.add(program.code_hash)
    return chosen
