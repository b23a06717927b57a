"""Executors: where evaluations run. `local` (the default) starts sandboxed workers from the engine's
own event loop; `ray` runs each program's cascade as a Ray task on a cluster or a local Ray.

Owns: choosing an executor by name. Ray is imported only when chosen (the extra `adrs[ray]`).
`run_directory` (the folder of a run's own files, such as a local Ray's session files) comes from
archive/location.py, the one place that reads archive URLs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from adrs.archive.location import run_directory

if TYPE_CHECKING:
    from adrs.executors.base import Executor, ExecutorError
    from adrs.executors.local import LocalExecutor

__all__ = ["EXECUTORS", "Executor", "ExecutorError", "LocalExecutor", "make_executor", "run_directory"]

EXECUTORS = ("local", "ray")
_LAZY = {
    "Executor": "adrs.executors.base",
    "ExecutorError": "adrs.executors.base",
    "LocalExecutor": "adrs.executors.local",
}


def __getattr__(name: str) -> Any:
    """The executor classes load on first use: the CLI reads EXECUTORS without the evaluation runner."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def make_executor(
    name: str, *, ray_address: str | None = None, run_dir: Path | None = None, workers: int = 1
) -> Executor:
    from adrs.executors.base import ExecutorError

    if name == "local":
        from adrs.executors.local import LocalExecutor

        return LocalExecutor()
    if name == "ray":
        from adrs.executors.ray import RayExecutor

        return RayExecutor(address=ray_address, run_dir=run_dir, workers=workers)
    raise ExecutorError(f"unknown executor {name!r}; available: {', '.join(EXECUTORS)}")


__all__ = ["EXECUTORS", "Executor", "ExecutorError", "LocalExecutor", "make_executor", "run_directory"]
