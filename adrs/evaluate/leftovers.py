"""What a stage leaves behind once its result is in: a worker that wrote its frame and is exiting,
its pids cgroup, and the stage's folder with its scratch mount.

The runner (runner.py) takes a stage's result as soon as the worker's frame is complete (the worker
closes its result pipe before it exits) and sends the worker SIGKILL at once; waiting for the exit,
the kill of whatever else is left in the cgroup, the cgroup's removal, and the folder's unmount and
removal run here, in the background, so the next evaluation starts while the kernel tears the worker
down (≈ 1.3 ms of wall time per confined evaluation on a 2-core machine: docs/benchmarks.md,
"Workers and candidates forked one launch ahead"). A task that is cancelled (its event loop ends)
still kills, removes and unmounts, in its `finally`; `settle()` awaits every one still running, and
the engine calls it before it ends.

Owns: `finish_later` and `settle`. Must not: read anything in the stage's folder, or keep a stage's
processes alive (everything left in the cgroup is killed).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Protocol

from adrs.sandbox.cgroup import PidsCgroup
from adrs.sandbox.process import kill_tree

EXIT_GRACE_S = 10.0  # a worker killed with SIGKILL is gone in milliseconds; this only bounds a wedged kernel

_pending: set[asyncio.Task] = set()


class Exiting(Protocol):
    """A worker process as the runner holds it (asyncio's Process or warm.WarmWorker)."""

    pid: int

    async def wait(self) -> int: ...


def finish_later(worker: Exiting, cgroup: PidsCgroup | None, tidy: Callable[[], None]) -> None:
    """Wait for `worker` to exit, kill what is left of its tree, remove its cgroup, then `tidy()`
    (the stage's folder): in the background, on the running loop."""
    task = asyncio.ensure_future(_finish(worker, cgroup, tidy))
    _pending.add(task)
    task.add_done_callback(_pending.discard)


async def _finish(worker: Exiting, cgroup: PidsCgroup | None, tidy: Callable[[], None]) -> None:
    try:
        with contextlib.suppress(TimeoutError, ConnectionError):
            async with asyncio.timeout(EXIT_GRACE_S):
                # a warm worker's server may be gone: wait_killed bounds that wait and drops it
                await getattr(worker, "wait_killed", worker.wait)()
    finally:
        try:
            kill_tree(worker.pid, cgroup)
            if cgroup is not None:
                cgroup.remove()
        finally:
            tidy()


async def settle() -> None:
    """Await every stage's leftovers still being finished on this loop."""
    loop = asyncio.get_running_loop()
    while mine := [task for task in _pending if task.get_loop() is loop and not task.done()]:
        await asyncio.gather(*mine, return_exceptions=True)


def pending() -> int:
    """How many stages' leftovers are still being finished (tests)."""
    return len(_pending)
