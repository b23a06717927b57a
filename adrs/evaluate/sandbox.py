"""The `process` sandbox: how an untrusted child process is started, limited and killed.

Owns: resource limits (rlimits), a new session, an empty network namespace where the kernel
allows it, a scrubbed environment, an optional drop to an unprivileged uid, an optional pids
cgroup (so a fork bomb is bounded and a grandchild that calls setsid is still found and killed),
and killing the whole tree. Used both by the engine (to start evaluation workers) and by the
trusted harness inside a worker (to start candidate processes).

Must not: read results, parse output or know anything about problems or scores.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import resource
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
NOBODY_UID = 65534
NOBODY_GID = 65534
PIDS_CGROUP_ROOT = Path("/sys/fs/cgroup/pids")

# Variables a child keeps from the parent environment; everything else (API keys included) is dropped.
_KEPT_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES")


@dataclass(frozen=True)
class Limits:
    """Resource limits for one sandboxed process (and everything it forks)."""

    timeout_s: float = 60.0  # wall-clock limit, enforced from outside by the parent
    memory_mb: int = 4096  # RLIMIT_AS; torch-based problems need more address space
    cpu_s: int | None = None  # RLIMIT_CPU; None = timeout_s rounded up plus a margin
    open_files: int = 256  # RLIMIT_NOFILE
    processes: int = 64  # RLIMIT_NPROC (binds only non-root) and the pids cgroup limit
    file_size_mb: int = 256  # RLIMIT_FSIZE: bounds any file the child writes, stdout files included
    network: bool = False  # False: a new, empty network namespace where the kernel allows it

    def cpu_seconds(self) -> int:
        return self.cpu_s if self.cpu_s is not None else int(self.timeout_s * 2) + 5


@dataclass
class SandboxSpec:
    """Everything needed to start one sandboxed child."""

    limits: Limits
    drop_privileges: bool = False  # switch to uid/gid 65534 before exec
    cgroup: PidsCgroup | None = None
    extra_env: dict[str, str] = field(default_factory=dict)


def scrubbed_env(home: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """A minimal environment: no API keys, no user configuration, deterministic hashing."""
    env = {k: os.environ[k] for k in _KEPT_ENV if k in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.update(
        HOME=home,
        TMPDIR=home,
        PYTHONHASHSEED="0",
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONUNBUFFERED="1",
        OMP_NUM_THREADS=os.environ.get("ADRS_THREADS_PER_EVAL", "1"),
        MKL_NUM_THREADS=os.environ.get("ADRS_THREADS_PER_EVAL", "1"),
        OPENBLAS_NUM_THREADS=os.environ.get("ADRS_THREADS_PER_EVAL", "1"),
    )
    # Probe results travel down so workers do not start probe processes of their own.
    env["ADRS_PROBE_NETNS"] = "1" if network_namespace_available() else "0"
    env["ADRS_PROBE_DROP"] = "1" if can_drop_privileges() else "0"
    if extra:
        env.update(extra)
    return env


class PidsCgroup:
    """A cgroup-v1 `pids` group: bounds the number of tasks and lists every one of them for killing.

    Optional: created only where /sys/fs/cgroup/pids is writable (root on this machine kind).
    """

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
            if group.is_dir() and now - group.stat().st_mtime > min_age_s and not (group / "cgroup.procs").read_text().strip():
                group.rmdir()
        except OSError:
            continue


def _inherited_probe(name: str) -> bool | None:
    """A probe result handed down by the parent process (saves a process start per evaluation)."""
    value = os.environ.get(name)
    return None if value is None else value == "1"


@functools.cache
def network_namespace_available() -> bool:
    """Whether a child can unshare its network namespace (root, or unprivileged userns)."""
    inherited = _inherited_probe("ADRS_PROBE_NETNS")
    if inherited is not None:
        return inherited
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-c", "pass"],
            preexec_fn=_unshare_network,
            capture_output=True,
            timeout=20,
        )
        return done.returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@functools.cache
def can_drop_privileges() -> bool:
    """Whether the interpreter (and the packages it needs) can run as uid 65534.

    On machines where Python lives under a private home directory (mode 0700) it cannot; then the
    child keeps the parent's uid and the other limits still apply.
    """
    if os.geteuid() != 0 or os.environ.get("ADRS_NO_DROP_PRIVILEGES") == "1":
        return False
    inherited = _inherited_probe("ADRS_PROBE_DROP")
    if inherited is not None:
        return inherited
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-c", "import json, numpy"],
            preexec_fn=_become_nobody,
            cwd="/",
            capture_output=True,
            timeout=30,
        )
        return done.returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _unshare_network() -> None:
    if ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET) failed")


def _become_nobody() -> None:
    os.setgroups([])
    os.setgid(NOBODY_GID)
    os.setuid(NOBODY_UID)


def _preexec(spec: SandboxSpec) -> None:
    """Runs in the child between fork and exec. Order matters: cgroup and namespace need root."""
    limits = spec.limits
    if spec.cgroup is not None:
        (spec.cgroup.path / "cgroup.procs").write_text(str(os.getpid()))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # die with the parent
    if not limits.network and network_namespace_available():
        _unshare_network()
    # A limit can only be lowered: a candidate started by a worker inherits the worker's limits.
    _lower_limit(resource.RLIMIT_AS, limits.memory_mb * 1024 * 1024)
    _lower_limit(resource.RLIMIT_CPU, limits.cpu_seconds())
    _lower_limit(resource.RLIMIT_NOFILE, limits.open_files)
    _lower_limit(resource.RLIMIT_FSIZE, limits.file_size_mb * 1024 * 1024)
    _lower_limit(resource.RLIMIT_CORE, 0)
    if spec.drop_privileges:
        _become_nobody()
    _lower_limit(resource.RLIMIT_NPROC, limits.processes)


def _lower_limit(which: int, value: int) -> None:
    _soft, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, value))


def popen_kwargs(spec: SandboxSpec, home: str) -> dict:
    """Keyword arguments for subprocess.Popen / asyncio.create_subprocess_exec."""
    # Warm the cached probes in the parent: they must not run inside preexec_fn.
    if not spec.limits.network:
        network_namespace_available()
    return dict(
        preexec_fn=functools.partial(_preexec, spec),
        start_new_session=True,
        env=scrubbed_env(home, spec.extra_env),
        cwd=home,
    )


def kill_tree(pid: int, cgroup: PidsCgroup | None = None) -> None:
    """Kill the child's whole process group, and every task of its cgroup when there is one."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    if cgroup is not None:
        cgroup.kill_all()


def describe_exit(returncode: int) -> tuple[str, str]:
    """Map a child's exit status to a failure kind and a human sentence."""
    if returncode >= 0:
        return "nonzero_exit", f"exited with status {returncode}"
    sig = -returncode
    name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
    if sig == signal.SIGXCPU or sig == signal.SIGKILL:
        return "timeout", f"killed by {name} (CPU-time or wall-clock limit)"
    if sig == signal.SIGXFSZ:
        return "output_limit", f"killed by {name}: wrote more than the file-size limit"
    if sig == signal.SIGSEGV:
        return "memory", f"killed by {name} (often the address-space limit)"
    return "nonzero_exit", f"killed by signal {name}"
