"""What `adrs serve` keeps in memory of each run it was asked about, so that a poll reads only what changed.

Owns: per run, its program lines (short columns, pending ones included, migrant copies excluded)
and the order their evaluations landed in, its landed programs as records without their code
(migrant copies included, as the engine's index holds them), the MAP-Elites index
(archive/elites.py's `Elites`, the one the engine and the report build), each program's children
(the lineage's siblings), each island's counts and best, and the failed stages read so far, all
fed incrementally as evaluations land; the problem's objectives and
features (from the run's problem folder, or the defaults when it cannot be loaded there), and
a version that changes whenever an evaluation lands, so that derived views are rebuilt only
then. A poll reads the new programs, those it last saw pending, and nothing else of the programs.

Must not: write to the archive (every method it calls reads), shape JSON (views.py, search.py) or
know about HTTP.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, cast

from adrs.archive.elites import DEFAULT_FEATURES, Elites, fitness_key
from adrs.archive.records import FailedStage, ProgramLine, ProgramRecord, ProgramStatus, RunRecord
from adrs.archive.store import Archive
from adrs.problem import Feature, Objective, Problem, load_problem
from adrs.report.data import on_front_candidate
from adrs.report.lineage import add_child


@dataclass(frozen=True)
class SearchShape:
    """What the views need of the run's problem: its objectives and MAP-Elites features (Elites reads
    only these two), whether its score is noisy, and why the defaults stand in, when they do."""

    objectives: tuple[Objective, ...]
    features: tuple[Feature, ...]
    noisy: bool = False
    note: str = ""

    @classmethod
    def of(cls, run: RunRecord) -> SearchShape:
        try:
            problem = load_problem(run.problem_root)
        except Exception as exc:  # whatever is wrong with the folder now, the run is still shown
            return cls(
                (Objective("score"),),
                DEFAULT_FEATURES,
                note=f"the run's problem could not be loaded ({exc}): score alone, and the default map",
            )
        note = "" if problem.fingerprint() == run.problem_fingerprint else "the problem's files changed since the run"
        return cls(problem.objectives, problem.features or DEFAULT_FEATURES, problem.noise.noisy, note)


def _without_code(program: ProgramRecord) -> ProgramRecord:
    """The record as the index needs it: its line count kept as the `code_lines` descriptor (Elites
    and the report read it from there first), its code and diff dropped to keep memory small."""
    features = dict(program.features)
    features.setdefault("code_lines", float(program.code.count("\n") + 1))
    return replace(program, code="", diff="", features=features)


@dataclass
class IslandStats:
    """One island as the page's table shows it, kept up to date as its programs land."""

    island: int
    programs: int = 0  # landed here (migrant copies excluded)
    failed: int = 0
    migrants_in: int = 0
    improved_at: int | None = None  # the run's evaluation count when this island's best last improved
    best: ProgramRecord | None = None  # the island's top program, copies included (as Elites.best(island))


def _naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None)  # SQLite hands back naive datetimes, PostgreSQL aware ones


@dataclass
class RunState:
    """One run as the server has read it so far."""

    run: RunRecord
    shape: SearchShape
    elites: Elites
    lines: dict[int, ProgramLine] = field(default_factory=dict)
    records: dict[int, ProgramRecord] = field(default_factory=dict)  # landed programs, copies included
    read_upto: int = 0  # every program with a higher id is new to this state
    landed_order: list[int] = field(default_factory=list)  # record ids in the order the index took them
    landed: list[tuple[datetime, int]] = field(default_factory=list)  # (evaluated at, id) of landed lines, sorted
    pending: int = 0
    front_candidates: list[int] = field(default_factory=list)  # complete programs (report.data.on_front_candidate)
    children: dict[int, list[ProgramRecord]] = field(default_factory=dict)  # as report.lineage.add_child counts them
    islands: dict[int, IslandStats] = field(default_factory=dict)
    failed_stages: list[FailedStage] = field(default_factory=list)
    unread_failures: list[int] = field(default_factory=list)  # failed programs whose failed stage is not read yet
    memo: dict[str, dict[int, Any]] = field(default_factory=dict)  # per-program values derived once
    derived: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # name -> (version, value)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def version(self) -> str:
        """Changes whenever a program is stored or an evaluation lands."""
        return f"{self.read_upto}.{len(self.records)}.{len(self.lines)}.{self.pending}"

    def refresh(self, store: Archive, run: RunRecord) -> None:
        """Read what changed since the last refresh: new programs and formerly pending ones (`run`: its row now)."""
        self.run = run
        pending = [i for i, line in self.lines.items() if line.status == ProgramStatus.PENDING]
        new_lines = store.program_lines(self.run.id, after_id=max(self.lines, default=0), also=pending)
        for line in new_lines:
            before = self.lines.get(line.id)
            self.lines[line.id] = line
            if line.evaluated_at is not None and (before is None or before.evaluated_at is None):
                bisect.insort(self.landed, (_naive(line.evaluated_at), line.id))
                if line.status == ProgramStatus.FAILED:
                    self.unread_failures.append(line.id)
        self.pending = sum(1 for line in self.lines.values() if line.status == ProgramStatus.PENDING)
        fresh = store.programs_since(self.run.id, self.read_upto)  # landed only; pending ones come later
        if fresh:
            self.read_upto = max(p.id for p in fresh)
        known = {p.id for p in fresh}
        fresh += [
            store.program(line.id)  # landed after programs_since passed it by, pending
            for line in new_lines
            if line.id <= self.read_upto
            and line.status != ProgramStatus.PENDING
            and line.id not in self.records
            and line.id not in known
        ]
        for program in fresh:
            if program.id not in self.records and program.status != ProgramStatus.PENDING:
                self._take(_without_code(program))
        if self.shape.noisy:  # as the engine's referee: the latest best claim names the best
            self.elites.champion = store.best_claim(self.run.id)
        if self.unread_failures:
            self.failed_stages += store.failed_stages(self.run.id, self.unread_failures)
            self.unread_failures = []

    def _take(self, record: ProgramRecord) -> None:
        self.records[record.id] = record
        self.landed_order.append(record.id)
        self.elites.add(record)
        add_child(self.children, self.records, record)
        if on_front_candidate(record):
            self.front_candidates.append(record.id)
        stats = self.islands.setdefault(record.island, IslandStats(record.island))
        if record.migrated_from is not None:
            stats.migrants_in += 1
        else:
            stats.programs += 1
            stats.failed += record.status == ProgramStatus.FAILED
        scored = record.status == ProgramStatus.EVALUATED and record.score is not None and math.isfinite(record.score)
        if scored and (
            stats.best is None or (fitness_key(record), -record.id) > (fitness_key(stats.best), -stats.best.id)
        ):
            stats.best = record
            stats.improved_at = self.elites.evaluated_count()

    def cached(self, name: str, build: Any) -> Any:
        """`build()`, rebuilt only when the version changed since it was last built."""
        version = self.version
        held = self.derived.get(name)
        if held is None or held[0] != version:
            held = (version, build())
            self.derived[name] = held
        return held[1]

    def remembered(self, table: str, program_id: int, derive: Any) -> Any:
        """`derive(record)` of a landed program, derived once (a landed record never changes here)."""
        values = self.memo.setdefault(table, {})
        if program_id not in values:
            values[program_id] = derive(self.records[program_id])
        return values[program_id]


class LiveRuns:
    """The RunState of each (archive, run) asked about; shared by the server's request threads."""

    def __init__(self) -> None:
        self._states: dict[tuple[int, int], RunState] = {}
        self._lock = threading.Lock()

    @contextmanager
    def reading(self, store: Archive, archive_index: int, run_id: int | None) -> Iterator[RunState]:
        """The run's state (default: the latest run), refreshed and held for this thread alone while
        the block reads it. ArchiveError when there is no such run."""
        run = store.run(run_id)
        with self._lock:
            state = self._states.get((archive_index, run.id))
            if state is None:
                shape = SearchShape.of(run)
                islands = int(run.config.get("islands", 1) or 1)
                state = RunState(run, shape, Elites(cast(Problem, shape), islands))
                self._states[(archive_index, run.id)] = state
        with state.lock:
            state.refresh(store, run)
            yield state
