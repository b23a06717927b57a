"""The Python API: start, resume and inspect runs. The CLI is a thin layer over these functions.

    import adrs
    summary = adrs.evolve("problems/prism", budget=50, seed=0)
    summary = adrs.resume(summary.archive_url, budget=50)
    summary = adrs.api.join("postgresql+psycopg://...", run_id=1)  # one more engine on a running run

Owns: wiring a problem, an archive, a run record, a proposal source and the engine together.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from adrs.archive.store import Archive, ArchiveError
from adrs.config import RunConfig
from adrs.engine import Engine
from adrs.executors import make_executor, run_directory
from adrs.mutate.base import OfflineSource, ProposalSource
from adrs.mutate.models import LLMConfigError, LLMError, llm_settings
from adrs.problem import Problem, load_problem
from adrs.progress import Progress, RunSummary


def default_archive_path(problem: Problem, directory: str | Path = "archives") -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path(directory) / f"{problem.name}-{stamp}.sqlite"


def chosen_mutator(config: RunConfig, problem: Problem) -> str:
    """offline or llm; `auto` means the LLM when a model is configured (checks the LLM settings)."""
    if config.mutator not in ("auto", "offline", "llm"):
        raise ValueError(f"unknown mutator {config.mutator!r}; available: auto, offline, llm")
    if config.mutator == "offline":
        return "offline"
    if not 0.0 <= config.offline_share < 1.0:
        raise LLMConfigError(f"--offline-share must be in [0, 1), got {config.offline_share}")
    if config.max_cost is not None and config.max_cost <= 0:
        raise LLMConfigError(f"--max-cost must be positive, got {config.max_cost}")
    settings = llm_settings(problem, config.llm)
    return "llm" if settings is not None or config.mutator == "llm" else "offline"


def make_source(
    config: RunConfig, problem: Problem, archive: Archive | None = None, run_id: int | None = None
) -> ProposalSource:
    if chosen_mutator(config, problem) == "offline":
        return OfflineSource()
    if archive is None or run_id is None:
        raise ValueError("the LLM mutator records its calls: pass the run's archive and run id")
    from adrs.mutate.llm import build_llm_source  # imported here: offline runs never load the openai client

    return build_llm_source(problem, config.llm, archive, run_id, config.seed, config.max_cost, config.offline_share)


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
    chosen_mutator(config, problem)  # a bad [llm] table fails here, before a run is created
    location = archive or default_archive_path(problem)
    store = Archive.open(location)
    try:
        run = store.create_run(problem.name, str(problem.root), problem.fingerprint(), config.seed, config.to_dict())
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
    store = Archive.open(archive, create=False)
    try:
        run = store.run(run_id)
        problem = load_problem(problem_dir or run.problem_root)
        config = RunConfig.from_dict(run.config, **overrides)
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
        problem = load_problem(problem_dir or run.problem_root)
        if problem.fingerprint() != run.problem_fingerprint:
            raise ArchiveError(f"{problem.root}: differs from the problem run {run.id} evolves (fingerprint changed)")
        config = dataclasses.replace(RunConfig.from_dict(run.config, **overrides), evaluate_holdout=False)
        if config.deterministic:
            raise ArchiveError(f"run {run.id} is deterministic: its proposals depend on one engine's order; it cannot be joined")
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
    source = make_source(config, problem, store, run_id)
    run_dir = run_directory(store.url, run_id)
    executor = make_executor(config.executor, ray_address=config.ray_address, run_dir=run_dir, workers=config.workers)
    executor.start(problem)  # a local Ray starts here (seconds); a cluster is checked for the [resources]
    engine = Engine(problem, store, store.run(run_id), config, source, on_progress, executor=executor, joined=joined)
    if not joined:  # the run's status belongs to the engine that started or resumed it
        store.set_run_status(run_id, "running")
    try:
        summary = asyncio.run(_run_with_source(engine, source))
    except KeyboardInterrupt:
        if not joined:
            store.set_run_status(run_id, "interrupted")
        store.add_event(run_id, "interrupted", {"evaluated": engine.progress.evaluated})
        raise
    except LLMError as exc:  # the start-up check found a wrong key, an unknown model, no server
        store.set_run_status(run_id, "failed")
        store.add_event(run_id, "llm_unavailable", {"error": str(exc)})
        raise
    finally:
        executor.close()
    if not joined:
        store.set_run_status(run_id, "stopped")
    return summary


async def _run_with_source(engine: Engine, source: ProposalSource) -> RunSummary:
    """Start the source (an LLM source checks its endpoints), run the engine, close the source."""
    start = getattr(source, "start", None)
    try:
        if start is not None:
            await start()
        return await engine.run()
    finally:
        close = getattr(source, "aclose", None)
        if close is not None:
            await close()
