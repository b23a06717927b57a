"""Runs: start, resume and join evolution runs (`adrs run`, `adrs resume`, `adrs run --join`).

    import adrs
    summary = adrs.evolve("problems/prism", budget=50, seed=0)
    summary = adrs.resume(summary.archive_url, budget=50)
    summary = adrs.join("postgresql+psycopg://...", run_id=1)  # one more engine on a running run

Owns: wiring a problem, an archive, a run record, a proposal source and the engine together; which
mutator a configuration chooses, and the run's `[llm]` table from flags and files.

Must not: render anything (the CLI does), or read archives beyond the run it drives.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adrs.archive.records import RunStatus
from adrs.archive.store import Archive, ArchiveError, RunRecord
from adrs.config import RunConfig
from adrs.engine import Engine
from adrs.executors import make_executor, run_directory
from adrs.mutate.base import ProposalSource
from adrs.mutate.llm.models import LLMError, llm_settings, load_llm_file, parse_model_flag
from adrs.mutate.offline import OfflineSource
from adrs.problem import Problem, load_problem, load_run_problem
from adrs.progress import Progress, RunSummary
from adrs.validation import SettingError


def default_archive_path(problem: Problem, directory: str | Path = "archives") -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path(directory) / f"{problem.name}-{stamp}.sqlite"


def chosen_mutator(config: RunConfig, problem: Problem) -> str:
    """offline or llm; `auto` means the LLM when a model is configured (checks the LLM settings, and
    that each model's key is set where one is needed: nothing is written before this passes)."""
    if config.mutator == "offline":  # RunConfig checked the mutator's name and every number
        _no_writer(config)
        return "offline"
    settings = llm_settings(problem, config.llm)
    chosen = "llm" if settings is not None or config.mutator == "llm" else "offline"
    if chosen == "offline" or settings is None:
        _no_writer(config)
    if settings is not None:
        for model in settings.models:  # a key that is not set fails here, before an archive or run is made
            model.api_key()
    return chosen


def _no_writer(config: RunConfig) -> None:
    """A written selection strategy needs a model to write it: refused at start, in one line."""
    if config.adaptive.written_strategy:
        raise SettingError(
            "--evolve-selection (adaptive.written_strategy): a model writes the selection strategy, and this run "
            "has none: pass --llm NAME[@URL] (or [[llm.models]] in problem.toml) and not --mutator offline"
        )


@dataclass(frozen=True)
class MutatorPlan:
    """What a run's configuration will propose with, for a line before it starts."""

    kind: str  # offline | llm
    models: list[str]  # labels of the configured models (empty: offline, or an LLM run without one)
    unpriced: list[str]  # models without a price: their calls count as $0 against a cost cap
    offline_share: float
    max_cost: float | None


def mutator_plan(problem: Problem, **settings: Any) -> MutatorPlan:
    """The mutator `evolve(problem, **settings)` would use (raises on a bad [llm] table, as evolve does)."""
    config = RunConfig(**settings)
    if chosen_mutator(config, problem) == "offline":
        return MutatorPlan("offline", [], [], config.offline_share, config.max_cost)
    llm = llm_settings(problem, config.llm)
    models = [m.label for m in llm.models] if llm else []
    unpriced = [m.label for m in llm.models if not m.priced] if llm else []
    return MutatorPlan("llm", models, unpriced, config.offline_share, config.max_cost)


def llm_table(
    base: dict[str, Any],
    *,
    models: Sequence[str] = (),
    config_file: str | Path | None = None,
    concurrency: int | None = None,
) -> dict[str, Any]:
    """A run's `[llm]` table: `base` (a stored run's), updated by a TOML file's `[llm]` table, then
    by `NAME[@URL]` model flags (which replace the model list) and the number of calls in flight."""
    table = dict(base)
    if config_file:
        table.update(load_llm_file(config_file))
    if models:
        table["models"] = [parse_model_flag(flag) for flag in models]
    if concurrency is not None:
        table["concurrency"] = concurrency
    return table


def stored_run(archive: str | Path, run_id: int | None = None) -> RunRecord:
    """The record of run `run_id` of an archive (default: the latest), its configuration included."""
    store = Archive.open(archive, create=False, read_only=True)
    try:
        return store.run(run_id)
    finally:
        store.close()


def make_source(
    config: RunConfig,
    problem: Problem,
    archive: Archive | None = None,
    run_id: int | None = None,
    joined: bool = False,
) -> ProposalSource:
    if chosen_mutator(config, problem) == "offline":
        return OfflineSource()
    if archive is None or run_id is None:
        raise ValueError("the LLM mutator records its calls: pass the run's archive and run id")
    # imported here: offline runs never load the openai client
    from adrs.mutate.llm.source import build_llm_source

    return build_llm_source(
        problem, config.llm, archive, run_id, config.seed, config.max_cost, config.offline_share, persist=not joined
    )


def evolve(
    problem: str | Path | Problem,
    *,
    archive: str | Path | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    **settings: Any,
) -> RunSummary:
    """Start a new run of `problem` (a directory or a loaded Problem) and evolve until a budget stops it."""
    problem = problem if isinstance(problem, Problem) else load_problem(problem)
    config = RunConfig(**{**problem.run_defaults, **settings})  # the folder's own defaults (config.yaml), then ours
    chosen_mutator(config, problem)  # a bad [llm] table or an unset key fails here, before a run is created
    location = archive or default_archive_path(problem)
    store = Archive.open(location)
    try:
        run = store.create_run(problem.name, str(problem.root), problem.fingerprint(), config.seed, config.to_dict())
        with store.lock_run(run.id):
            store.add_event(run.id, "started", {"budget": config.budget})
            return _drive(problem, store, run.id, config, on_progress)
    finally:
        store.close()


def resume(
    archive: str | Path,
    *,
    run_id: int | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    problem_dir: str | Path | None = None,
    **overrides: Any,
) -> RunSummary:
    """Continue a stored run: pending proposals are evaluated first, then new ones within `budget`."""
    store = Archive.open(archive, create=False)  # a damaged archive is refused here (ArchiveDamaged)
    try:
        run = store.run(run_id)
        problem = load_run_problem(run.problem_root, problem_dir)
        config = RunConfig.from_dict(run.config, **overrides)
        chosen_mutator(config, problem)  # a bad [llm] table or an unset key fails here, the run untouched
        with store.lock_run(run.id):  # one engine per run: a second resume is refused (RunBusy)
            store.update_run_config(run.id, config.to_dict())
            fingerprint = problem.fingerprint()
            payload = {"budget": config.budget, "fingerprint_changed": fingerprint != run.problem_fingerprint}
            store.add_event(run.id, "resumed", payload)
            return _drive(problem, store, run.id, config, on_progress)
    finally:
        store.close()


def join(
    archive: str | Path,
    *,
    run_id: int,
    on_progress: Callable[[Progress], None] | None = None,
    problem_dir: str | Path | None = None,
    **overrides: Any,
) -> RunSummary:
    """Attach one more engine to a run in progress (meant for PostgreSQL archives).

    The engines share the run's budget (counted once, in the database), see each other's results,
    and never collide on program ids or proposal indices. A joining engine leaves pending programs
    and the final holdout scoring to the run's own engine; `budget` here caps its own share only.
    """
    store = Archive.open(archive, create=False)
    try:
        run = store.run(run_id)
        problem = load_run_problem(run.problem_root, problem_dir)
        if problem.fingerprint() != run.problem_fingerprint:
            raise ArchiveError(f"{problem.root}: differs from the problem run {run.id} evolves (fingerprint changed)")
        config = dataclasses.replace(RunConfig.from_dict(run.config, **overrides), evaluate_holdout=False)
        if config.deterministic:
            raise ArchiveError(
                f"run {run.id} is deterministic: its proposals depend on one engine's order; it cannot be joined"
            )
        store.add_event(run.id, "joined", {"writer": store.writer, "executor": config.executor})
        summary = _drive(problem, store, run.id, config, on_progress, joined=True)
        store.add_event(run.id, "left", {"writer": store.writer, "evaluated": summary.evaluated})
        return summary
    finally:
        store.close()


def _drive(
    problem: Problem,
    store: Archive,
    run_id: int,
    config: RunConfig,
    on_progress: Callable[[Progress], None] | None,
    joined: bool = False,
) -> RunSummary:
    source = make_source(config, problem, store, run_id, joined)
    run_dir = run_directory(store.url, run_id)
    executor = make_executor(config.executor, ray_address=config.ray_address, run_dir=run_dir, workers=config.workers)
    executor.start(problem)  # a local Ray starts here (seconds); a cluster is checked for the [resources]
    engine = Engine(problem, store, store.run(run_id), config, source, on_progress, executor=executor, joined=joined)
    if not joined:  # the run's status belongs to the engine that started or resumed it
        store.set_run_status(run_id, RunStatus.RUNNING)
    try:
        summary = asyncio.run(_run_with_source(engine, source))
    except KeyboardInterrupt:
        if not joined:
            store.set_run_status(run_id, RunStatus.INTERRUPTED)
        store.add_event(run_id, "interrupted", {"evaluated": engine.progress.evaluated})
        raise
    except LLMError as exc:  # the start-up check found a wrong key, an unknown model, no server
        store.set_run_status(run_id, RunStatus.FAILED)
        store.add_event(run_id, "llm_unavailable", {"error": str(exc)})
        raise
    finally:
        executor.close()
    if not joined:
        store.set_run_status(run_id, RunStatus.FAILED if summary.failed else RunStatus.STOPPED)
    return summary


async def _run_with_source(engine: Engine, source: ProposalSource) -> RunSummary:
    """Start the source (an LLM source checks its endpoints), run the engine, close the source."""
    try:
        await source.start()
        return await engine.run()
    finally:
        await source.aclose()
