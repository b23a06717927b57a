"""Derived views of the archive: MAP-Elites cells per island, the Pareto front, island bests.

Owns: an in-memory index rebuilt from the stored programs (so nothing here is the only copy of
anything; `load_elites` builds it for a stored run) and updated incrementally as evaluations
land. Feature cells use the problem's fixed bin edges; nothing is rescaled, so an elite is only
ever replaced by a better program in its cell. The run's best is the highest score, except for a
problem that declares noise: there it is the latest best claim (`champion`), which a program
earns only by beating the previous one by more than the noise (adrs/noise.py).

Must not: write to the archive or make random choices (that is select.py's job).
"""

from __future__ import annotations

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
        self.programs[program.id] = program
        key = (program.island, self.cell_of(program))
        incumbent = self.grid.get(key)
        if incumbent is None or fitness_key(program) > fitness_key(self.programs[incumbent]):
            self.grid[key] = program.id
        if program.complete and program.migrated_from is None:
            self._update_front(program)
            if instances:
                self.instance_scores[program.id] = dict(instances)

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
        return self.child_counts.get(program.migrated_from or program.id, 0)

    def initial(self) -> ProgramRecord | None:
        return next((p for p in self.programs.values() if p.mutator == "initial"), None)

    def instance_front(self) -> dict[int, int]:
        """Programs best (ties included) on at least one instance -> how many instances they win."""
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

    def best(self, island: int | None = None) -> ProgramRecord | None:
        """The run's best (the claimed one where a claim exists), or an island's highest-scoring program."""
        if island is None and self.champion is not None and self.champion.program_id in self.programs:
            return self.programs[self.champion.program_id]
        pool = [p for p in self.programs.values() if island is None or p.island == island]
        return max(pool, key=lambda p: (fitness_key(p), -p.id)) if pool else None

    def island_members(self, island: int) -> list[ProgramRecord]:
        return [p for p in self.programs.values() if p.island == island]

    def island_elites(self, island: int) -> list[ProgramRecord]:
        return [self.programs[pid] for (isl, _), pid in sorted(self.grid.items()) if isl == island]

    def all_elites(self) -> list[ProgramRecord]:
        return [self.programs[pid] for _, pid in sorted(self.grid.items())]

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
