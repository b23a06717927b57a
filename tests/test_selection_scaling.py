"""Selection keeps its indexes instead of sorting the island per proposal, and still draws the same.

`Elites.add` keeps each island's programs ranked (bisect on insert), the code hashes per island,
the per-instance bests and more, and the strategies read those (archive/select.py,
search/parents.py, steering.py, islands.py): O(log n) where they sorted the island two or three
times per proposal. Seeded runs must choose exactly the same parents and inspirations as before.
This module keeps the straightforward implementation that sorted and scanned (as it was before
the indexes) and compares, over a few hundred random programs (ties in score, incomplete and failed
programs, copies on other islands, programs added out of id order, a program added again with a
new score, per-instance scores), every strategy's choice and the rng's state after it.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from adrs.archive.elites import Elites, fitness_key
from adrs.archive.records import ProgramRecord, ProgramStatus
from adrs.archive.select import STRATEGIES, Selection, SelectionConfig, crowding_distances, select
from adrs.problem import load_problem
from adrs.search.config import AdaptiveConfig
from adrs.search.parents import BALANCED, EXPLOIT, EXPLORE, choose_parent
from adrs.steering import _best_allowed

TOML = """[problem]
name = "ranked"

[[stages]]
name = "full"
timeout_s = 30

[[features]]
name = "a"
bins = [0.25, 0.5, 0.75]

[[features]]
name = "b"
bins = [0.5]

[[objectives]]
name = "score"

[[objectives]]
name = "gap"
direction = "min"
"""


# The straightforward implementation (what the code did before the indexes) ----------------------
class NaiveElites(Elites):
    """Elites whose queries scan and sort `programs` on every call, as they used to."""

    def initial(self):
        return next((p for p in self.programs.values() if p.mutator == "initial"), None)

    def instance_front(self):
        best: dict[str, float] = {}
        for scores in self.instance_scores.values():
            for name, value in scores.items():
                best[name] = max(value, best.get(name, float("-inf")))
        wins: dict[int, int] = {}
        for pid, scores in self.instance_scores.items():
            won = sum(1 for name, value in scores.items() if value >= best[name])
            if won:
                wins[pid] = won
        return wins

    def best(self, island=None):
        if island is None and self.champion is not None and self.champion.program_id in self.programs:
            return self.programs[self.champion.program_id]
        pool = [p for p in self.programs.values() if island is None or p.island == island]
        return max(pool, key=lambda p: (fitness_key(p), -p.id)) if pool else None

    def island_members(self, island):
        return [p for p in self.programs.values() if p.island == island]

    def island_elites(self, island):
        return [self.programs[pid] for (isl, _), pid in sorted(self.grid.items()) if isl == island]

    def all_elites(self):
        return [self.programs[pid] for _, pid in sorted(self.grid.items())]


def _ref_ranked(pool):
    return sorted(pool, key=lambda p: (fitness_key(p), -p.id), reverse=True)


def _ref_rank(pool, elites, rng, config):
    ranked = _ref_ranked(pool)
    weights = [1.0 / (rank + 1) ** config.rank_power for rank in range(len(ranked))]
    return rng.choices(ranked, weights=weights, k=1)[0]


def _ref_weighted(pool, elites, rng, config):
    ranked = _ref_ranked(pool)
    scores = [p.score if p.score is not None else 0.0 for p in ranked]
    low, high = min(scores), max(scores)
    span = high - low or 1.0
    weights = [
        (0.05 + (s - low) / span) * (2.0 if p.complete else 1.0) / (1.0 + config.children_penalty * elites.children(p))
        for s, p in zip(scores, ranked, strict=True)
    ]
    return rng.choices(ranked, weights=weights, k=1)[0]


def _ref_tournament(pool, elites, rng, config):
    ranked = _ref_ranked(pool)
    entrants = [ranked[rng.randrange(len(ranked))] for _ in range(min(config.tournament_size, len(ranked)))]
    return max(entrants, key=lambda p: (fitness_key(p), -p.id))


def _ref_pareto(pool, elites, rng, config):
    front = sorted(elites.pareto_front(), key=lambda p: p.id)
    if not front:
        return _ref_rank(pool, elites, rng, config)
    distances = crowding_distances(front, elites)
    finite = [d for d in distances if d != float("inf")]
    cap = 2.0 * max(finite, default=1.0) or 1.0
    weights = [min(d, cap) + 1e-6 for d in distances]
    return rng.choices(front, weights=weights, k=1)[0]


def _ref_instances(pool, elites, rng, config):
    wins = elites.instance_front()
    if not wins:
        return _ref_rank(pool, elites, rng, config)
    ids = sorted(wins)
    return elites.programs[rng.choices(ids, weights=[wins[i] for i in ids], k=1)[0]]


_REF_BY_NAME = {
    "rank": _ref_rank,
    "weighted": _ref_weighted,
    "tournament": _ref_tournament,
    "pareto": _ref_pareto,
    "instances": _ref_instances,
}


def ref_choose_parent(elites, island, intensity, exploit_share, rng):
    members = _ref_ranked(elites.island_members(island))
    if not members:
        return None
    roll = rng.random()
    if roll < intensity:
        cells = elites.island_elites(island)
        pool = cells if len(cells) > 1 else members
        return rng.choice(pool), EXPLORE
    if roll < intensity + (1.0 - intensity) * exploit_share:
        return members[0], EXPLOIT
    weights = [1.0 / (rank + 1) for rank in range(len(members))]
    return rng.choices(members, weights=weights, k=1)[0], BALANCED


def ref_inspirations(elites, parent, island, rng, config):
    chosen = []
    seen = {parent.code_hash}
    for program in _ref_ranked(elites.island_members(island)):
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


def ref_mixed(members, elites, island, rng, config):
    roll = rng.random()
    cells = elites.island_elites(island)
    if roll < config.exploit:
        return _ref_rank(members, elites, rng, config), "mixed:exploit"
    if roll < config.exploit + config.explore and cells:
        return rng.choice(cells), "mixed:explore"
    if elites.front:
        return _ref_pareto(members, elites, rng, config), "mixed:pareto"
    return _ref_rank(members, elites, rng, config), "mixed:exploit"


def ref_select(elites, island, rng, config):
    if config.strategy == "random":
        initial = elites.initial()
        return None if initial is None else Selection(initial, [], "random")
    if config.strategy == "hill":
        best = elites.best()
        return None if best is None else Selection(best, ref_inspirations(elites, best, island, rng, config), "hill")
    members = sorted(elites.island_members(island), key=lambda p: p.id)
    if not members:
        best = elites.best()
        if best is None:
            return None
        return Selection(best, ref_inspirations(elites, best, island, rng, config), "fallback")
    if config.strategy == "mixed":
        parent, how = ref_mixed(members, elites, island, rng, config)
    elif config.strategy == "adaptive":
        defaults = AdaptiveConfig()
        picked = ref_choose_parent(elites, island, defaults.intensity_max, defaults.exploit_share, rng)
        parent, mode = picked or (members[0], "")
        how = f"adaptive:{mode}"
    else:
        parent, how = _REF_BY_NAME[config.strategy](members, elites, rng, config), config.strategy
    return Selection(parent, ref_inspirations(elites, parent, island, rng, config), how)


def ref_best_allowed(elites, island, allowed):
    for pool in (elites.island_members(island), list(elites.programs.values())):
        candidates = [p for p in pool if allowed(p)]
        if candidates:
            return max(candidates, key=lambda p: (fitness_key(p), -p.id))
    return None


# Random programs ---------------------------------------------------------------------------------
def _record(pid: int, rng: random.Random, originals: list[ProgramRecord], islands: int) -> ProgramRecord:
    copy_of = rng.choice(originals) if originals and rng.random() < 0.08 else None
    failed = rng.random() < 0.07
    score = None if failed else rng.choice([None] * 1 + [float(rng.randrange(12)) / 2 for _ in range(20)])
    code = copy_of.code if copy_of else "def f(x):\n" + "".join(f"    x += {rng.randrange(9)}\n" for _ in range(3))
    return ProgramRecord(
        id=pid,
        run_id=1,
        proposal_index=copy_of.proposal_index if copy_of else pid,
        code=code,
        code_hash=copy_of.code_hash if copy_of else f"h{hash(code) & 0xFFFF:x}",
        parent_id=rng.choice(originals).id if originals and pid > 1 else None,
        inspiration_ids=[],
        island=(copy_of.island + 1) % islands if copy_of else rng.randrange(islands),
        generation=0,
        mutator="initial" if pid == 1 else "offline",
        description="",
        diff="",
        status=ProgramStatus.FAILED if failed else ProgramStatus.EVALUATED,
        migrated_from=copy_of.id if copy_of else None,
        score=score,
        complete=not failed and rng.random() < 0.8,
        stage_reached="full",
        error_kind="evaluator" if failed else None,
        metrics={} if failed else {"score": score or 0.0, "gap": float(rng.randrange(6))},
        features={"a": rng.random(), "b": rng.random()},
        created_at=None,  # type: ignore[arg-type]
        evaluated_at=None,
    )


def _instances(rng: random.Random) -> dict[str, float] | None:
    if rng.random() < 0.3:
        return None
    return {f"i{k}": float(rng.randrange(5)) for k in rng.sample(range(5), rng.randrange(1, 5))}


def _programs(seed: int, count: int, islands: int) -> list[tuple[ProgramRecord, dict[str, float] | None]]:
    """`count` programs, in an order of arrival that is not the order of ids, and a few added again."""
    rng = random.Random(seed)
    out: list[tuple[ProgramRecord, dict[str, float] | None]] = []
    originals: list[ProgramRecord] = []
    ids = list(range(1, count + 1))
    for k in range(0, len(ids) - 4, 5):  # evaluations land out of order within a few slots
        window = ids[k + 1 : k + 5]
        rng.shuffle(window)
        ids[k + 1 : k + 5] = window
    for pid in ids:
        program = _record(pid, rng, originals, islands)
        if program.migrated_from is None and program.status == ProgramStatus.EVALUATED:
            originals.append(program)
        out.append((program, _instances(rng)))
        if out and rng.random() < 0.02:  # the same program again, with another score (a re-read record)
            again, _ = rng.choice(out)
            if again.score is not None:
                moved = again.__class__(**{**again.__dict__, "score": again.score + rng.choice([-1.0, 0.0, 2.0])})
                out.append((moved, _instances(rng)))
    return out


@pytest.fixture
def problem(tmp_path: Path):
    folder = tmp_path / "ranked"
    folder.mkdir()
    (folder / "problem.toml").write_text(TOML)
    (folder / "initial.py").write_text("def f(x):\n    return x\n")
    (folder / "evaluator.py").write_text("def evaluate(program_path, *, stage, workdir, seed):\n    return {}\n")
    return load_problem(folder)


CONFIGS = [SelectionConfig(strategy=strategy) for strategy in STRATEGIES] + [
    SelectionConfig(strategy="rank", rank_power=2),  # an int power: its own cached sums
    SelectionConfig(strategy="rank", rank_power=0.0),  # uniform weights
    SelectionConfig(strategy="mixed", exploit=0.3, explore=0.3, rank_power=3.0, top_inspirations=4),
    SelectionConfig(strategy="tournament", tournament_size=7),
    SelectionConfig(strategy="weighted", children_penalty=2.0, diverse_inspirations=5),
]


def _same(a: Selection | None, b: Selection | None) -> None:
    assert (a is None) == (b is None)
    if a is not None and b is not None:
        assert (a.parent.id, a.how) == (b.parent.id, b.how)
        assert [p.id for p in a.inspirations] == [p.id for p in b.inspirations]


@pytest.mark.parametrize("seed", [0, 1])
def test_every_strategy_draws_what_the_sorting_implementation_drew(problem, seed):
    islands = 3
    elites, naive = Elites(problem, islands), NaiveElites(problem, islands)
    arrivals = _programs(seed, 300, islands)
    for step, (program, instances) in enumerate(arrivals):
        elites.add(program, instances)
        naive.add(program, instances)
        if step > 40 and step % 9:
            continue  # every arrival at first, then every ninth: a few thousand draws in all
        for c, config in enumerate(CONFIGS):
            for island in range(islands + 1):  # the last island has no members: the fallback
                new_rng, old_rng = (random.Random(f"{seed}:{step}:{c}:{island}") for _ in range(2))
                _same(select(elites, island, new_rng, config), ref_select(naive, island, old_rng, config))
                assert new_rng.getstate() == old_rng.getstate(), (step, config, island)  # same draws, as many
    assert len(elites.programs) > 200 and elites.front and elites.instance_scores


@pytest.mark.parametrize("seed", [2, 3])
def test_indexes_answer_as_the_scans_did(problem, seed):
    islands = 3
    elites, naive = Elites(problem, islands), NaiveElites(problem, islands)
    rng = random.Random(seed)
    for step, (program, instances) in enumerate(_programs(seed, 250, islands)):
        elites.add(program, instances)
        naive.add(program, instances)
        assert elites.best() is naive.best()
        assert elites.initial() is naive.initial()
        assert list(elites.instance_front().items()) == list(naive.instance_front().items())
        assert elites.original_count() == sum(1 for p in naive.programs.values() if p.migrated_from is None)
        assert elites.all_elites() == naive.all_elites()
        for island in range(islands + 1):
            assert elites.best(island) is naive.best(island)
            assert elites.island_members(island) == naive.island_members(island)
            assert elites.ranked(island) == _ref_ranked(naive.island_members(island))
            assert elites.island_size(island) == len(naive.island_members(island))
            assert elites.island_elites(island) == naive.island_elites(island)
            for other, _ in rng.sample(_programs(seed + 10, 20, islands), 3) + [(program, None)]:
                expected = any(p.code_hash == other.code_hash for p in naive.island_members(island))
                assert elites.has_code(island, other.code_hash) == expected
            for intensity in (0.0, 0.3, 1.0):
                new_rng, old_rng = (random.Random(f"{step}:{island}:{intensity}") for _ in range(2))
                new = choose_parent(elites, island, intensity, 0.6, new_rng)
                old = ref_choose_parent(naive, island, intensity, 0.6, old_rng)
                assert (new and (new[0].id, new[1])) == (old and (old[0].id, old[1]))
                assert new_rng.getstate() == old_rng.getstate()
            banned = {p.id for p in naive.programs.values() if rng.random() < 0.6}

            def allowed(p: ProgramRecord, banned=banned) -> bool:
                return (p.migrated_from or p.id) not in banned

            assert _best_allowed(elites, island, allowed) is ref_best_allowed(naive, island, allowed)
