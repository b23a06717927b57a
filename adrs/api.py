"""The Python API: start, resume and inspect runs. The CLI is a thin layer over these functions.

    import adrs
    summary = adrs.evolve("problems/prism", budget=50, seed=0)
    summary = adrs.resume(summary.archive_url, budget=50)

Owns: wiring a problem, an archive, a run record, a proposal source and the engine together.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from adrs.archive.store import Archive
from adrs.config import RunConfig
from adrs.engine import Engine, Progress, RunSummary
from adrs.mutate.base import OfflineSource, ProposalSource
from adrs.problem import Problem, load_problem


def default_archive_path(problem: Problem, directory: str | Path = "archives") -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path(directory) / f"{problem.name}-{stamp}.sqlite"


def make_source(config: RunConfig, problem: Problem) -> ProposalSource:
    if config.mutator == "offline":
        return OfflineSource()
    raise ValueError(f"unknown mutator {config.mutator!r}; available: offline")


def evolve(
    problem: str | Path | Problem,
    *,
    archive: str | Path | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    **settings: Any,
) -> RunSummary:
    """Start a new run of `problem` (a directory or a loaded Problem) and evolve until a budget stops it."""
    problem = problem if isinstance(problem, Problem) else load_problem(problem)
    config = RunConfig(**settings)
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


def _drive(
    problem: Problem, store: Archive, run_id: int, config: RunConfig, on_progress: Callable[[Progress], None] | None
) -> RunSummary:
    engine = Engine(problem, store, store.run(run_id), config, make_source(config, problem), on_progress)
    store.set_run_status(run_id, "running")
    try:
        summary = asyncio.run(engine.run())
    except KeyboardInterrupt:
        store.set_run_status(run_id, "interrupted")
        store.add_event(run_id, "interrupted", {"evaluated": engine.progress.evaluated})
        raise
    store.set_run_status(run_id, "stopped")
    return summary
