"""What a report shows, extracted from one run of an archive into plain dataclasses.

Owns: reading the archive through `Archive`'s methods (programs, evaluations per stage, failed
stages, LLM call costs, events) and deriving the series the figures and tables need: the
evaluation timeline with best-so-far, wall-clock time and dollars spent, outcomes (complete,
stopped at a threshold, failure kinds), failures grouped by cause, stage durations, the Pareto
points, the MAP-Elites cells per island, the lineage of the best program, the top programs
with their diffs, and a steered run's steering log (hints with their time, pins, bans, pauses).
The lineage (lineage.py) and the failures grouped by cause (failures.py) have their own modules,
shared with the live view (adrs/serve).
`score_uncertainty` is the one place that reads a score's uncertainty.

Must not: draw, write HTML, evaluate anything or write to the archive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from adrs.archive.elites import DEFAULT_FEATURES, Cell, Elites, fitness_key, objective_value
from adrs.archive.location import display_location
from adrs.archive.records import ProgramStatus, SteeringEntry
from adrs.archive.store import Archive, ProgramRecord, RunRecord
from adrs.problem import Feature, Objective, Problem
from adrs.program import unified_diff
from adrs.report.failures import FailureCause, failure_causes
from adrs.report.lineage import LineageStep, lineage_of
from adrs.search.paradigms import Breakthrough, breakthroughs
from adrs.search.written import strategy_events

COMPLETE = "complete"
TOP_PROGRAMS = 10


@dataclass(frozen=True)
class EvaluationPoint:
    """One program's cascade, numbered in the order evaluations landed (migrant copies excluded)."""

    index: int  # 1-based
    program_id: int
    score: float | None  # the last stage reached; comparable across programs only when complete
    complete: bool
    outcome: str  # "complete", "below threshold at <stage>", or a failure kind
    dollars: float  # LLM dollars spent by the time this evaluation landed
    duration_s: float  # all stages of the cascade
    elapsed_s: float = 0.0  # wall-clock seconds from the run's creation to this evaluation landing
    uncertainty: float | None = None  # standard error of the score, where the records carry one


@dataclass(frozen=True)
class StageTime:
    stage: str
    duration_s: float
    ok: bool


@dataclass(frozen=True)
class Point:
    """A program (or baseline) in objective space, with its descriptor values for single-objective plots."""

    label: str
    objectives: dict[str, float]
    descriptors: dict[str, float]


def axis_label(name: str, direction: str | None) -> str:
    if direction is None:
        return name
    return f"{name} ({'higher' if direction == 'max' else 'lower'} is better)"


@dataclass(frozen=True)
class ParetoAxes:
    """What a Pareto plot puts on its axes: the first two objectives against each other, or, for one
    objective, it against the first descriptor (the report's figure and `adrs serve`'s page)."""

    x: str
    y: str
    x_is_descriptor: bool
    x_label: str
    y_label: str

    @classmethod
    def of(cls, objectives: tuple[Objective, ...], descriptor_names: tuple[str, ...]) -> ParetoAxes:
        if len(objectives) >= 2:
            first, second = objectives[0], objectives[1]
            return cls(
                first.name,
                second.name,
                False,
                axis_label(first.name, first.direction),
                axis_label(second.name, second.direction),
            )
        only = objectives[0]
        name = descriptor_names[0]
        return cls(name, only.name, True, f"{name} (descriptor)", axis_label(only.name, only.direction))

    def coords(self, objectives: dict[str, float], descriptors: dict[str, float]) -> tuple[float | None, float | None]:
        return (descriptors if self.x_is_descriptor else objectives).get(self.x), objectives.get(self.y)


@dataclass(frozen=True)
class IslandGrid:
    island: int
    features: tuple[Feature, ...]
    elite_scores: dict[Cell, float]  # occupied cells only

    @property
    def capacity(self) -> int:
        total = 1
        for feature in self.features:
            total *= feature.cells
        return total


@dataclass(frozen=True)
class ProgramView:
    """A program as the top-programs table and the diff blocks show it."""

    id: int
    score: float | None
    complete: bool
    island: int
    generation: int
    mutator: str
    description: str
    parent_id: int | None
    holdout_score: float | None
    diff_to_parent: str
    diff_to_initial: str


@dataclass(frozen=True)
class BaselineScore:
    name: str
    score: float | None  # on the last evolution stage
    objectives: dict[str, float]
    descriptors: dict[str, float]
    error: str = ""
    holdout: float | None = None  # on the (last) holdout stage, when the problem has one


@dataclass
class RunData:
    label: str
    archive: str
    run: RunRecord
    problem: Problem
    timeline: list[EvaluationPoint]
    stage_times: list[StageTime]
    llm_calls: int
    dollars: float
    complete_points: list[Point]
    front: list[Point]
    grids: list[IslandGrid]
    lineage: list[LineageStep]
    top: list[ProgramView]
    diffs: dict[int, ProgramView]  # every program whose diff the page embeds (top and lineage)
    best_id: int | None
    best_score: float | None
    initial_score: float | None
    holdout_score: float | None
    pending: int
    stop_reasons: list[str]
    failure_causes: list[FailureCause] = field(default_factory=list)
    baselines: list[BaselineScore] = field(default_factory=list)
    baseline_stage: str = ""
    baseline_note: str = ""  # why there are none, when there are none
    tag: str = ""  # "A", "B", ... when runs are compared
    breakthroughs: list[Breakthrough] = field(default_factory=list)  # an adaptive LLM run's calls for new approaches
    steering: list[SteeringEntry] = field(default_factory=list)  # a steered run's actions: hints, pins, bans, pauses
    strategies: list[dict] = field(default_factory=list)  # selection_strategy events (--evolve-selection)

    @property
    def objectives(self) -> tuple[Objective, ...]:
        return self.problem.objectives

    @property
    def descriptor_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in (self.problem.features or DEFAULT_FEATURES))

    @property
    def best_view(self) -> ProgramView | None:
        return None if self.best_id is None else self.diffs.get(self.best_id)

    @property
    def best_baseline(self) -> BaselineScore | None:
        """The baseline with the highest score on the scoring stage (the bar to beat)."""
        scored = [b for b in self.baselines if b.score is not None]
        return max(scored, key=lambda b: b.score or 0.0) if scored else None


def score_uncertainty(program: ProgramRecord) -> float | None:
    """The standard error of a program's score, or None when the records carry none.

    Hook for noise-aware verdicts (issue 16): once program records carry an uncertainty, this is the
    one place that reads it; the timeline, the curves' noise bands and the tables follow."""
    value = getattr(program, "score_uncertainty", None)
    return None if value is None else float(value)


def descriptors_of(values: dict[str, float], code: str | None = None) -> dict[str, float]:
    out = dict(values)
    if code is not None:
        out.setdefault("code_lines", float(code.count("\n") + 1))
    return out


def load_run_data(archive: Archive, run: RunRecord, problem: Problem, label: str) -> RunData:
    programs = archive.programs(run.id)
    by_id = {p.id: p for p in programs}
    elites = Elites(problem, int(run.config.get("islands", 1)))  # as load_elites, without reading the programs twice
    for program in programs:
        if program.status != ProgramStatus.PENDING:
            elites.add(program)
    holdout_stages = {s.name for s in problem.holdout_stages}
    stage_times, durations, holdout = _stage_times(archive, run.id, holdout_stages)
    timeline, calls, dollars = _timeline(archive, run, programs, durations)
    best = elites.best()
    best_id = None if best is None else best.original_id
    initial = next((p for p in programs if p.mutator == "initial"), None)
    lineage = lineage_of(by_id, best_id)
    top_programs = sorted(
        (p for p in programs if p.migrated_from is None and p.status == ProgramStatus.EVALUATED and p.complete),
        key=lambda p: (fitness_key(p), -p.id),
        reverse=True,
    )[:TOP_PROGRAMS]
    initial_code = initial.code if initial is not None else ""
    origin = {p.id: p.original_id for p in programs}  # a migrant copy stands for its original
    top = [_view(p, initial_code, holdout, origin) for p in top_programs]
    diffs = {v.id: v for v in top}
    for step in lineage:
        if step.program_id not in diffs:
            diffs[step.program_id] = _view(by_id[step.program_id], initial_code, holdout, origin)
    return RunData(
        label=label,
        archive=display_location(archive.url),
        run=run,
        problem=problem,
        timeline=timeline,
        stage_times=stage_times,
        llm_calls=calls,
        dollars=dollars,
        complete_points=[objective_point(p, problem.objectives) for p in programs if on_front_candidate(p)],
        front=[objective_point(p, problem.objectives) for p in elites.pareto_front()],
        grids=island_grids(elites),
        lineage=lineage,
        top=top,
        diffs=diffs,
        best_id=best_id,
        best_score=None if best is None else best.score,
        initial_score=None if initial is None else initial.score,
        holdout_score=holdout.get(best_id) if best_id is not None else None,
        pending=sum(1 for p in programs if p.status == ProgramStatus.PENDING),
        stop_reasons=[str(payload.get("reason", "")) for _, payload, _ in archive.events(run.id, "stopped")],
        breakthroughs=breakthroughs(archive, run.id),
        strategies=strategy_events(archive, run.id),
        steering=archive.steering_log(run.id),
        failure_causes=failure_causes(archive.failed_stages(run.id)),
    )


def on_front_candidate(p: ProgramRecord) -> bool:
    return p.migrated_from is None and p.status == ProgramStatus.EVALUATED and p.complete and p.score is not None


def objective_point(p: ProgramRecord, objectives: tuple[Objective, ...]) -> Point:
    values = {o.name: objective_value(p, o) for o in objectives}
    return Point(f"#{p.id}", {k: v for k, v in values.items() if v is not None}, descriptors_of(p.features, p.code))


def _stage_times(
    archive: Archive, run_id: int, holdout_stages: set[str]
) -> tuple[list[StageTime], dict[int, float], dict[int, float]]:
    """Every stage row of the run; cascade time per program (holdout excluded); holdout scores."""
    durations: dict[int, float] = {}
    holdout: dict[int, float] = {}
    times = []
    for row in archive.stored_evaluations(run_id):
        duration = float(row.duration_s or 0.0)
        times.append(StageTime(row.stage, duration, bool(row.ok)))
        if row.stage in holdout_stages:
            if row.ok and row.score is not None:
                holdout[row.program_id] = float(row.score)
            continue
        durations[row.program_id] = durations.get(row.program_id, 0.0) + duration
    return times, durations, holdout


def _timeline(
    archive: Archive, run: RunRecord, programs: list[ProgramRecord], durations: dict[int, float]
) -> tuple[list[EvaluationPoint], int, float]:
    calls = archive.llm_costs(run.id)
    began = _naive(run.created_at)
    landed = sorted(
        (
            p
            for p in programs
            if p.migrated_from is None and p.status != ProgramStatus.PENDING and p.evaluated_at is not None
        ),
        key=lambda p: (_naive(p.evaluated_at), p.id),
    )
    points, spent, next_call = [], 0.0, 0
    for index, p in enumerate(landed, 1):
        while next_call < len(calls) and _naive(calls[next_call][0]) <= _naive(p.evaluated_at):
            spent += calls[next_call][1]
            next_call += 1
        elapsed = max(0.0, (_naive(p.evaluated_at) - began).total_seconds())
        points.append(
            EvaluationPoint(
                index,
                p.id,
                p.score,
                p.complete,
                _outcome(p),
                spent,
                durations.get(p.id, 0.0),
                elapsed,
                score_uncertainty(p),
            )
        )
    return points, len(calls), sum(cost for _, cost in calls)


def _naive(moment: datetime | None) -> datetime:
    # SQLite hands back naive datetimes, other databases aware ones; compare them the same way.
    assert moment is not None
    return moment.replace(tzinfo=None)


def _outcome(p: ProgramRecord) -> str:
    if p.status == ProgramStatus.FAILED:
        return p.error_kind or "unknown"
    if p.complete:
        return COMPLETE
    return f"below threshold at {p.stage_reached}"


def island_grids(elites: Elites) -> list[IslandGrid]:
    grids = []
    for island in range(elites.islands):
        scores = {
            cell: elites.programs[pid].score
            for (isl, cell), pid in elites.grid.items()
            if isl == island and elites.programs[pid].score is not None
        }
        grids.append(IslandGrid(island, elites.features, scores))  # type: ignore[arg-type]
    return grids


def _view(p: ProgramRecord, initial_code: str, holdout: dict[int, float], origin: dict[int, int]) -> ProgramView:
    return ProgramView(
        id=p.id,
        score=p.score,
        complete=p.complete,
        island=p.island,
        generation=p.generation,
        mutator=p.mutator,
        description=p.description,
        parent_id=None if p.parent_id is None else origin.get(p.parent_id, p.parent_id),
        holdout_score=holdout.get(p.id),
        diff_to_parent=p.diff,
        diff_to_initial=unified_diff(initial_code, p.code, "initial", f"program {p.id}") if initial_code else "",
    )


def archive_label(path: str | Path, run: RunRecord) -> str:
    return f"{Path(str(path)).name} (run {run.id}, seed {run.seed})"
