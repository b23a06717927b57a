"""A cgroup-v1 `pids` group per sandboxed process tree.

Owns: creating a group with a task limit (bounds fork bombs), listing and killing every task in it
(grandchildren that called setsid included), removing it, and sweeping groups left empty by an
engine that was SIGKILLed. Optional: used only where /sys/fs/cgroup/pids is writable.

Must not: start processes.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import time
import uuid
from pathlib import Path

PIDS_CGROUP_ROOT = Path("/sys/fs/cgroup/pids")


class PidsCgroup:
    """One group: `pids.max` bounds its tasks, `cgroup.procs` lists them for killing."""

    def __init__(self, path: Path):
        self.path = path

    @classmethod
    def create(cls, max_pids: int) -> PidsCgroup | None:
        if not pids_cgroup_available():
            return None
        path = PIDS_CGROUP_ROOT / "adrs" / uuid.uuid4().hex[:16]
        try:
            path.mkdir(parents=True)
            (path / "pids.max").write_text(str(max_pids))
        except OSError:
            return None
        return cls(path)

    def join(self, pid: int) -> None:
        """Move process `pid` into the group.

        The calling process moving itself, while it has one thread (a child between fork and exec,
        or one the warm server or the candidate zygote forked), writes "0" to `tasks`: the kernel
        then moves the current thread without taking the global threadgroup lock, whose write side
        waits for an RCU grace period (≈ 10 ms of wall time for each join, two per stage:
        docs/benchmarks.md, "cgroup joins without a grace period"). With one thread, moving the
        thread is moving the process. Any other case writes the pid to `cgroup.procs`."""
        if pid == os.getpid() and len(os.listdir("/proc/self/task")) == 1:
            (self.path / "tasks").write_text("0")
        else:
            (self.path / "cgroup.procs").write_text(str(pid))

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def kill_all(self) -> None:
        for _ in range(50):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.01)

    def remove(self) -> None:
        self.kill_all()
        for _ in range(100):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.02)


@functools.cache
def pids_cgroup_available() -> bool:
    if os.environ.get("ADRS_NO_CGROUP") == "1":
        return False
    root = PIDS_CGROUP_ROOT / "adrs"
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f"probe-{os.getpid()}"
        probe.mkdir(exist_ok=True)
        probe.rmdir()
    except OSError:
        return False
    _remove_stale_cgroups(root)
    return True


def _remove_stale_cgroups(root: Path, min_age_s: float = 120.0) -> None:
    """Empty groups left by an engine that was SIGKILLed; young ones may be about to get a process."""
    now = time.time()
    for group in root.iterdir():
        try:
            if (
                group.is_dir()
                and now - group.stat().st_mtime > min_age_s
                and not (group / "cgroup.procs").read_text().strip()
            ):
                group.rmdir()
        except OSError:
            continue
