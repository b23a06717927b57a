"""Archives: read a run, one program or one LLM call; export programs; write a report; check integrity.

    import adrs
    status = adrs.run_status("archives/prism.sqlite")                 # `adrs status`
    view = adrs.show_program("archives/prism.sqlite", 12)             # `adrs show`
    adrs.export_programs("archives/prism.sqlite", "out", best=True)   # `adrs export`
    adrs.write_report(["archives/prism.sqlite"], "report.html")       # `adrs report`
    report = adrs.check_archive("archives/prism.sqlite")              # `adrs doctor`

Owns: the records the read-only commands return (`StatusReport`, `ProgramView`), each loaded whole
while the archive is open, so that it can be rendered, compared or serialised after it closed.

Must not: write to an archive (each is opened read-only; only `check_archive(repair=True)` writes;
`write_report` caches baseline scores in the user's cache folder, `export_programs` writes files
outside it, after re-scoring the programs in a sandbox), or render anything (the CLI does).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adrs.archive.elites import Elites, load_elites
from adrs.archive.errors import ArchiveError
from adrs.archive.records import BestClaim, CallRecord, ModelUsage, ProgramRecord, RunRecord, SteeringState
from adrs.archive.sqlite_reader import open_read_only
from adrs.evaluate.result import Evaluation
from adrs.noise import run_sigma
from adrs.problem import load_run_problem

# Only the command that uses one of these imports it: `adrs status` and `adrs show` start faster
# without the doctor, the exporter (the evaluation runner), the report and the LLM prompt modules,
# and, on a SQLite archive, without SQLAlchemy (open_read_only reads it with sqlite3).
if TYPE_CHECKING:
    from adrs.doctor_findings import DoctorReport
    from adrs.export import Exported
    from adrs.search.paradigms import Paradigm


@dataclass(frozen=True)
class StatusReport:
    """`adrs status`: one run's counts, failures, elites, LLM spending, and why it stopped."""

    run: RunRecord
    archive_url: str
    counts: Counter[str]  # programs by status: evaluated, failed, pending
    failures: Counter[str]  # failed programs by error kind
    elites: Elites  # every program that is not pending, as the engine indexes them
    llm_usage: list[ModelUsage]
    # Noisy problems: the run's bests in the order they were claimed (the last is elites.best()),
    # each with its mean, standard error and evaluation count; empty for a deterministic problem.
    best_claims: list[BestClaim] = field(default_factory=list)
    noise: float = 0.0  # standard deviation of one evaluation's score (declared or measured)
    stopped: str = ""  # why the last session of the run ended, or that it has not (see `why_stopped`)
    steering: SteeringState = field(default_factory=SteeringState)  # a steerable run's hints, pins, bans, pause
    strategies: list[dict] = field(default_factory=list)  # --evolve-selection: selection_strategy events


# The events that open or close a session of a run (adrs/api/runs.py and the engine write them).
_SESSION_EVENTS = ("started", "resumed", "stopped", "interrupted", "internal_error", "llm_unavailable")


def why_stopped(events: list[tuple[str, dict, Any]], status: str) -> str:
    """Why the run's last session ended, in words, from its events: the stop reason the engine
    recorded, an interruption, an internal error, an LLM endpoint that failed the start-up check,
    or no end at all (the engine is still running, or was killed without a chance to say so)."""
    last = next(((kind, payload) for kind, payload, _ in reversed(events) if kind in _SESSION_EVENTS), None)
    if last is None:
        return "no session recorded"
    kind, payload = last
    evaluated = payload.get("evaluated")
    session = f" after {evaluated} evaluations in its last session" if evaluated is not None else ""
    if kind == "stopped":
        return f"{payload.get('reason') or 'done'}{session}"
    if kind == "interrupted":
        return f"interrupted (Ctrl-C){session}; adrs resume continues it"
    if kind == "internal_error":
        return f"an internal error stopped it: {payload.get('error', '?')}; adrs resume continues it"
    if kind == "llm_unavailable":
        return f"the LLM endpoint failed the start-up check: {payload.get('error', '?')}"
    if status == "running":
        return "not stopped: its engine is running, or was killed before it could record why (adrs resume continues it)"
    return f"{status} (no reason recorded)"


@dataclass(frozen=True)
class ProgramView:
    """`adrs show`: one program with its evaluations, the initial program, and the LLM calls around it."""

    program: ProgramRecord
    evaluations: list[Evaluation]  # of the original program when this one is a migrated copy
    initial: ProgramRecord | None  # the run's initial program, to diff against
    llm_calls: list[CallRecord]  # the calls that produced this program
    refused: list[dict]  # `proposal_failed` payloads of proposals made from it that yielded no program
    archive_url: str
    repeats: list[Evaluation] = field(default_factory=list)  # its stages evaluated again (noisy problems)
    cited: tuple[int, Paradigm] | None = None  # the breakthrough (number, approach) its prompt followed


def run_status(archive: str | Path, run_id: int | None = None, problem_dir: str | Path | None = None) -> StatusReport:
    """Summarise run `run_id` (default: the latest) of an archive; `problem_dir` if the problem moved."""
    store = open_read_only(archive)
    try:
        run = store.run(run_id)
        problem = load_run_problem(run.problem_root, problem_dir)
        elites = load_elites(store, run, problem)  # a SQLiteReader reads as Archive does
        claims = store.best_claims(run.id)
        return StatusReport(
            run,
            store.url,
            store.status_counts(run.id),
            store.failure_counts(run.id),
            elites,
            store.llm_usage(run.id),
            claims,
            run_sigma(problem.noise.sigma, [claim.noise for claim in claims[:1]]),
            why_stopped(store.events(run.id), str(run.status)),
            store.steering(run.id),
            _strategies(store, run),
        )
    finally:
        store.close()


def _strategies(store: Any, run: RunRecord) -> list[dict]:
    """The selection strategies a model wrote for the run (only runs with --evolve-selection load the module)."""
    if not (run.config.get("adaptive") or {}).get("written_strategy"):
        return []
    from adrs.search.written import strategy_events

    return strategy_events(store, run.id)


def show_program(archive: str | Path, program_id: int) -> ProgramView:
    """One program of an archive, whatever its run."""
    from adrs.mutate.llm.history import refused_proposals
    from adrs.search.paradigms import cited_by_program

    store = open_read_only(archive)
    try:
        program = store.program(program_id)
        initial = next((p for p in store.programs(program.run_id) if p.mutator == "initial"), None)
        return ProgramView(
            program,
            store.evaluations(program.original_id),
            initial,
            store.llm_calls_of_program(program.id),
            refused_proposals(store, program.run_id, program.id),
            store.url,
            store.repeat_evaluations(program.original_id),
            cited_by_program(store, program.run_id, program.id),
        )
    finally:
        store.close()


def show_call(archive: str | Path, call_id: int) -> CallRecord:
    """One stored LLM call: its prompt, raw reply, tokens, dollars and why it yielded no program."""
    store = open_read_only(archive)
    try:
        record = store.llm_call(call_id)
        if record is None:
            raise ArchiveError(f"{store.url}: no LLM call with id {call_id}")
        return record
    finally:
        store.close()


def export_programs(
    archive: str | Path,
    out: str | Path,
    *,
    best: bool = False,
    pareto: bool = False,
    program_id: int | None = None,
    run_id: int | None = None,
    rescored: bool = True,
    problem_dir: str | Path | None = None,
) -> list[Exported]:
    """Write the best program, the Pareto front, or program `program_id` of a run as standalone
    modules with a provenance record each, in `out`. Each is re-scored first (`rescored`), in the
    sandbox the run used; a failed re-score raises ExportError before anything is written."""
    from adrs.archive.store import Archive
    from adrs.export import choose, export_program, rescore

    store = Archive.open(archive, create=False, read_only=True)
    try:
        run = store.run(run_id)
        problem = load_run_problem(run.problem_root, problem_dir)
        elites = load_elites(store, run, problem)
        chosen = choose(store, run, elites, best=best, pareto=pareto, program_id=program_id)
        again = {p.id: rescore(problem, store, run, p) for p in chosen} if rescored else {}
        return [export_program(store, run, p, Path(out), problem, again.get(p.id)) for p in chosen]
    finally:
        store.close()


def write_report(
    archives: list[str],
    output: str | Path = "report.html",
    *,
    baselines: bool = True,
    run_id: int | None = None,
    problem_dir: str | None = None,
    say: Callable[[str], None] = lambda _line: None,
) -> Path:
    """One self-contained HTML report of a run, or of several runs compared (needs adrs[report]).

    `baselines` scores the problem's baselines (on the scoring and holdout stages; successes
    cached in the user's cache folder, never in the archive); `say`
    hears progress lines. ReportError names what is missing."""
    from adrs.report import ReportOptions, build_report

    options = ReportOptions(baselines=baselines, run_id=run_id, problem_dir=problem_dir)
    return build_report(archives, output, options, say=say)


def check_archive(archive: str | Path, run_id: int | None = None, *, repair: bool = False) -> DoctorReport:
    """`adrs doctor`: every inconsistency of the archive (all runs, or one); with `repair`, repair
    what can be (never deleting a program; only while no engine uses the archive), then check again."""
    from adrs import doctor

    return doctor.repair(archive, run_id) if repair else doctor.check(archive, run_id)
