"""Derived views of the archive: MAP-Elites cells per island, the Pareto front, island bests.

Owns: an in-memory index rebuilt from the stored programs (so nothing here is the only copy of
anything; `load_elites` builds it for a stored run) and updated incrementally as evaluations
land. Feature cells use the problem's fixed bin edges; nothing is rescaled, so an elite is only
ever replaced by a better program in its cell. The run's best is the highest score, except for a
problem that declares noise: there it is the latest best claim (`champion`), which a program
earns only by beating the previous one by more than the noise (adrs/noise.py).

What the proposer asks for before every proposal is kept by `add` rather than recomputed from
every program: the run's and each island's programs ranked best first (a bisect on insert: log n
comparisons and one list move), the code hashes per island, the count of originals, the initial
program, the per-instance bests, the sorted MAP-Elites keys. So `best`, `ranked`, `has_code`,
`initial` and `instance_front` do not grow with the run (`island_members` still copies a list).

Must not: write to the archive or make random choices (that is select.py's job).
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from adrs.archive.records import BestClaim, ProgramRecord, ProgramStatus, RunRecord
from adrs.problem import Feature, Objective, Problem

if TYPE_CHECKING:
    from adrs.archive.store import Archive

# Used when a problem declares no features: program size keeps some structural diversity.
DEFAULT_FEATURES = (Feature("code_lines", (20.0, 40.0, 80.0, 160.0)),)

Cell = tuple[int, ...]


def fitness_key(program: ProgramRecord) -> tuple[bool, float]:
    """Programs that passed every stage rank above those stopped early; then by score."""
    return (program.complete, program.score if program.score is not None else float("-inf"))


def rank_key(program: ProgramRecord) -> tuple[bool, float, int]:
    """Ascending order of this key is best first: `fitness_key` descending, then the lower id (the order
    `sorted(pool, key=lambda p: (fitness_key(p), -p.id), reverse=True)` gives, with no ties left)."""
    return (not program.complete, -program.score if program.score is not None else math.inf, program.id)


def objective_value(program: ProgramRecord, objective: Objective) -> float | None:
    if objective.name == "score":
        return program.score
    return program.metrics.get(objective.name)


def dominates(a: ProgramRecord, b: ProgramRecord, objectives: tuple[Objective, ...]) -> bool:
    better_somewhere = False
    for objective in objectives:
        va, vb = objective_value(a, objective), objective_value(b, objective)
        if va is None or vb is None:
            return False
        if objective.better(vb, va):
            return False
        if objective.better(va, vb):
            better_somewhere = True
    return better_somewhere


@dataclass
class Elites:
    """The searchable state of one run, derived from its evaluated programs."""

    problem: Problem
    islands: int
    programs: dict[int, ProgramRecord] = field(default_factory=dict)  # every successful evaluation
    grid: dict[tuple[int, Cell], int] = field(default_factory=dict)  # (island, cell) -> program id
    front: list[int] = field(default_factory=list)  # Pareto-optimal program ids (complete programs only)
    instance_scores: dict[int, dict[str, float]] = field(default_factory=dict)  # per-instance scores, if any
    child_counts: dict[int, int] = field(default_factory=dict)  # evaluated children per parent
    arrivals: list[ProgramRecord] = field(default_factory=list)  # every evaluated non-copy, in arrival order
    failures: int = 0
    last_seen_id: int = 0
    champion: BestClaim | None = None  # the run's latest best claim (problems that declare noise)
    # Indexes over `programs`, kept by `add` (read them through the queries below; never modify them).
    _ranked: list[ProgramRecord] = field(default_factory=list, init=False, repr=False, compare=False)
    _island_ranked: dict[int, list[ProgramRecord]] = field(default_factory=dict, init=False, repr=False, compare=False)
    _island_programs: dict[int, dict[int, ProgramRecord]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )  # island -> id -> program, in the order of `programs`
    _island_hashes: dict[int, Counter[str]] = field(default_factory=dict, init=False, repr=False, compare=False)
    _originals: int = field(default=0, init=False, repr=False, compare=False)  # programs that are not copies
    _initial_id: int | None = field(default=None, init=False, repr=False, compare=False)
    _initial_known: bool = field(default=True, init=False, repr=False, compare=False)  # _initial_id is up to date
    _grid_keys: list[tuple[int, Cell]] | None = field(default=None, init=False, repr=False, compare=False)  # sorted
    _island_grid_keys: dict[int, list[tuple[int, Cell]]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _instance_best: dict[str, float] = field(default_factory=dict, init=False, repr=False, compare=False)
    _instance_holders: dict[str, list[int]] = field(default_factory=dict, init=False, repr=False, compare=False)
    _instance_order: dict[int, int] = field(default_factory=dict, init=False, repr=False, compare=False)
    _instances_known: bool = field(default=True, init=False, repr=False, compare=False)

    @property
    def features(self) -> tuple[Feature, ...]:
        return self.problem.features or DEFAULT_FEATURES

    def cell_of(self, program: ProgramRecord) -> Cell:
        values = dict(program.features)
        values.setdefault("code_lines", float(program.code.count("\n") + 1))
        return tuple(f.cell(values[f.name]) if f.name in values else -1 for f in self.features)

    def add(self, program: ProgramRecord, instances: dict[str, float] | None = None) -> None:
        self.last_seen_id = max(self.last_seen_id, program.id)
        if program.migrated_from is None:
            self.arrivals.append(program)
            if program.parent_id is not None:
                self.child_counts[program.parent_id] = self.child_counts.get(program.parent_id, 0) + 1
        if program.status != ProgramStatus.EVALUATED or program.score is None:
            if program.migrated_from is None:
                self.failures += 1
            return
        self._index(program)
        key = (program.island, self.cell_of(program))
        incumbent = self.grid.get(key)
        if incumbent is None:
            self._grid_keys = None
            self._island_grid_keys.pop(program.island, None)
        if incumbent is None or fitness_key(program) > fitness_key(self.programs[incumbent]):
            self.grid[key] = program.id
        if program.complete and program.migrated_from is None:
            self._update_front(program)
            if instances:
                self._add_instances(program.id, instances)

    def _index(self, program: ProgramRecord) -> None:
        """Store `program` in `programs` and in the indexes kept over it (a program added again replaces itself)."""
        old = self.programs.get(program.id)
        if old is not None:
            self._unindex(old)
            self._initial_known = False  # its place in `programs` stays that of the first add
        elif self._initial_known and self._initial_id is None and program.mutator == "initial":
            self._initial_id = program.id
        self.programs[program.id] = program
        insort(self._ranked, program, key=rank_key)
        insort(self._island_ranked.setdefault(program.island, []), program, key=rank_key)
        members = self._island_programs.setdefault(program.island, {})
        members[program.id] = program  # added again: keeps its place, as in `programs`
        if old is not None and old.island != program.island:
            # Moved between islands: its place among the new island's members is its place in `programs`.
            del self._island_programs[old.island][program.id]
            self._island_programs[program.island] = {
                pid: p for pid, p in self.programs.items() if p.island == program.island
            }
        self._island_hashes.setdefault(program.island, Counter())[program.code_hash] += 1
        if program.migrated_from is None:
            self._originals += 1

    def _unindex(self, program: ProgramRecord) -> None:
        for ranked in (self._ranked, self._island_ranked[program.island]):
            del ranked[bisect_left(ranked, rank_key(program), key=rank_key)]
        hashes = self._island_hashes[program.island]
        hashes[program.code_hash] -= 1
        if hashes[program.code_hash] <= 0:
            del hashes[program.code_hash]
        if program.migrated_from is None:
            self._originals -= 1

    def _add_instances(self, pid: int, instances: dict[str, float]) -> None:
        if pid in self.instance_scores:
            self._instances_known = False  # replaced: the bests are recomputed when next asked for
        self.instance_scores[pid] = dict(instances)
        self._instance_order.setdefault(pid, len(self._instance_order))
        if self._instances_known:
            self._note_instances(pid, instances)

    def _note_instances(self, pid: int, instances: dict[str, float]) -> None:
        """Per instance: the best value so far and the programs that reach it (ties included)."""
        for name, value in instances.items():
            if name not in self._instance_best or value > self._instance_best[name]:
                self._instance_best[name], self._instance_holders[name] = value, [pid]
            elif value >= self._instance_best[name]:
                self._instance_holders[name].append(pid)

    def _update_front(self, program: ProgramRecord) -> None:
        objectives = self.problem.objectives
        members = [self.programs[i] for i in self.front]
        if any(dominates(m, program, objectives) for m in members):
            return
        if any(_same_point(m, program, objectives) for m in members):
            return  # keep the earlier of two programs with identical objective values
        self.front = [m.id for m in members if not dominates(program, m, objectives)] + [program.id]

    # queries ----------------------------------------------------------------------------------
    def evaluated_count(self) -> int:
        """Evaluations behind this view (failures included, copies excluded)."""
        return len(self.arrivals)

    def children(self, program: ProgramRecord) -> int:
        return self.child_counts.get(program.original_id, 0)

    def initial(self) -> ProgramRecord | None:
        """The first program in `programs` whose mutator is "initial"."""
        if not self._initial_known:
            self._initial_id = next((p.id for p in self.programs.values() if p.mutator == "initial"), None)
            self._initial_known = True
        return None if self._initial_id is None else self.programs[self._initial_id]

    def original_count(self) -> int:
        """Programs in `programs` that are not copies (migrants)."""
        return self._originals

    def instance_front(self) -> dict[int, int]:
        """Programs best (ties included) on at least one instance -> how many instances they win
        (in the order the programs were added)."""
        if not self._instances_known:
            self._instance_best, self._instance_holders = {}, {}
            self._instances_known = True
            for pid, scores in self.instance_scores.items():
                self._note_instances(pid, scores)
        won: Counter[int] = Counter()
        for holders in self._instance_holders.values():
            won.update(holders)
        return {pid: won[pid] for pid in sorted(won, key=self._instance_order.__getitem__)}

    def best(self, island: int | None = None) -> ProgramRecord | None:
        """The run's best (the claimed one where a claim exists), or an island's highest-scoring program."""
        if island is None and self.champion is not None and self.champion.program_id in self.programs:
            return self.programs[self.champion.program_id]
        ranked = self.ranked(island)
        return ranked[0] if ranked else None

    def ranked(self, island: int | None = None) -> list[ProgramRecord]:
        """The island's programs (None: the run's), best first: by `fitness_key`, then the lower id.
        The list is the index itself, kept up to date by `add`: read it, do not modify or keep it."""
        return self._ranked if island is None else self._island_ranked.get(island, [])

    def island_size(self, island: int) -> int:
        return len(self._island_ranked.get(island, ()))

    def has_code(self, island: int, code_hash: str) -> bool:
        """Whether a program on `island` has this normalised code hash."""
        return self._island_hashes.get(island, Counter())[code_hash] > 0

    def island_members(self, island: int) -> list[ProgramRecord]:
        """The island's programs in the order of `programs` (a copy: O(island size))."""
        return list(self._island_programs.get(island, {}).values())

    def _sorted_grid_keys(self, island: int | None) -> list[tuple[int, Cell]]:
        if self._grid_keys is None:
            self._grid_keys = sorted(self.grid)
            self._island_grid_keys = {}
        if island is None:
            return self._grid_keys
        keys = self._island_grid_keys.get(island)
        if keys is None:
            keys = self._island_grid_keys[island] = [k for k in self._grid_keys if k[0] == island]
        return keys

    def island_elites(self, island: int) -> list[ProgramRecord]:
        return [self.programs[self.grid[key]] for key in self._sorted_grid_keys(island)]

    def all_elites(self) -> list[ProgramRecord]:
        return [self.programs[self.grid[key]] for key in self._sorted_grid_keys(None)]

    def pareto_front(self) -> list[ProgramRecord]:
        return [self.programs[i] for i in self.front]

    def coverage(self) -> dict[int, int]:
        """Occupied cells per island."""
        counts: dict[int, int] = {i: 0 for i in range(self.islands)}
        for island, _ in self.grid:
            counts[island] = counts.get(island, 0) + 1
        return counts


def _same_point(a: ProgramRecord, b: ProgramRecord, objectives: tuple[Objective, ...]) -> bool:
    return all(objective_value(a, o) == objective_value(b, o) for o in objectives)


def load_elites(archive: Archive, run: RunRecord, problem: Problem) -> Elites:
    """The elites of a stored run, from every program evaluated so far (read-only views, report, export)."""
    elites = Elites(problem, int(run.config.get("islands", 1)))
    for program in archive.programs(run.id):
        if program.status != ProgramStatus.PENDING:
            elites.add(program)
    # As the engine's referee: claims name the best only while the problem declares noise.
    elites.champion = archive.best_claim(run.id) if problem.noise.noisy else None
    return elites
