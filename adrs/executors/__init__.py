"""Executors: where evaluations run. `local` (the default) starts sandboxed workers from the engine's
own event loop; `ray` runs each program's cascade as a Ray task on a cluster or a local Ray.

Owns: choosing an executor by name. Ray is imported only when chosen (the extra `adrs[ray]`).
`run_directory` (the folder of a run's own files, such as a local Ray's session files) comes from
archive/location.py, the one place that reads archive URLs.
"""

from __future__ import annotations

from pathlib import Path

from adrs.archive.location import run_directory
from adrs.executors.base import Executor, ExecutorError
from adrs.executors.local import LocalExecutor

EXECUTORS = ("local", "ray")


def make_executor(
    name: str, *, ray_address: str | None = None, run_dir: Path | None = None, workers: int = 1
) -> Executor:
    if name == "local":
        return LocalExecutor()
    if name == "ray":
        from adrs.executors.ray import RayExecutor

        return RayExecutor(address=ray_address, run_dir=run_dir, workers=workers)
    raise ExecutorError(f"unknown executor {name!r}; available: {', '.join(EXECUTORS)}")


__all__ = ["EXECUTORS", "Executor", "ExecutorError", "LocalExecutor", "make_executor", "run_directory"]
