"""Sandbox backends behind one interface: `process`, `bwrap`, `docker`.

Trusted code that starts sandboxed processes, used from two sides: the engine's runner
(adrs/evaluate/runner.py) starts each stage's worker with `process.py` (without confinement: the
worker is trusted code that reads the problem and its data), and the harness
(adrs/problemkit/harness.py) starts candidate processes under the backend the engine chose: that
is where untrusted code runs in every built-in problem. The runner names the backend to the
worker in ADRS_SANDBOX, the worker's harness reads it back with `current()`.

- base.py          the interface and its records (`ProcessLimits`, `View`, `Launch`, `Handle`, `Backend`)
- process.py       rlimits, session, netns, scrubbed env, uid drop, kill tree, confinement
- bwrap.py         bubblewrap, a fresh root per candidate
- docker.py        a container per candidate (docker_image.py: the daemon and the offline image)
- cgroup.py        pids groups
- views.py         what a candidate may see of the host, and what it must not
- seccomp.py       the system calls every candidate is refused (keyring, AF_VSOCK, io_uring)
- scratch.py       the evaluation's writable space: a size-limited tmpfs
- reaper.py        what a killed engine left (containers, tmpfs) is removed anyway

The default backend (no --sandbox, no [problem] sandbox) is `process` where it can confine its
candidates (root and unshare(1)), else `bwrap` where it works, else an unconfined `process`;
`describe` says in one line what the chosen one enforces here (the run header prints it).

Must not: import the docker SDK or probe anything at import time (workers import this package).
"""

from __future__ import annotations

import os

from adrs.sandbox.base import Backend, Handle, Launch, ProcessLimits, SandboxUnavailable, View

BACKENDS = ("process", "bwrap", "docker")
ENV_VAR = "ADRS_SANDBOX"

__all__ = [
    "BACKENDS",
    "default_name",
    "describe",
    "Backend",
    "Handle",
    "Launch",
    "ProcessLimits",
    "SandboxUnavailable",
    "View",
    "current",
    "get",
    "require",
]


def get(name: str) -> Backend:
    """The backend called `name` (it may still be unavailable: see `require`)."""
    if name == "process":
        from adrs.sandbox.process import ProcessBackend

        return ProcessBackend()
    if name == "bwrap":
        from adrs.sandbox.bwrap import BwrapBackend

        return BwrapBackend()
    if name == "docker":
        from adrs.sandbox.docker import DockerBackend

        return DockerBackend()
    raise SandboxUnavailable(f"unknown sandbox backend {name!r}; choose one of {', '.join(BACKENDS)}")


def require(name: str) -> Backend:
    """The backend, or SandboxUnavailable saying why it cannot run here and what to use instead."""
    backend = get(name)
    backend.require()
    return backend


def default_name() -> str:
    """The backend used when neither the command line nor problem.toml names one."""
    from adrs.sandbox.process import confinement_available

    if confinement_available():
        return "process"
    return "bwrap" if get("bwrap").unavailable_reason() is None else "process"


def describe(name: str) -> str:
    """One line: what backend `name` enforces on this machine, and what it cannot."""
    from adrs.sandbox.process import confinement_available, network_namespace_available
    from adrs.sandbox.scratch import scratch_available
    from adrs.sandbox.seccomp import candidate_filter

    gaps = []
    if candidate_filter() is None:
        gaps.append("no seccomp filter on this architecture")
    if not scratch_available():
        gaps.append("disk bounded per file only (a tmpfs quota needs root)")
    if _processes_unbounded(name):
        gaps.append("no bound on the number of processes but the wall-clock limit (no writable cgroup-v1 pids group)")
    if name == "process":
        if confinement_available():
            text = "process: confined (a fresh root with /usr and the Python runtime read-only, own PID/mount/IPC"
            text += "/network namespaces, minimal /dev, no capabilities, seccomp)"
        else:
            text = "process: NOT confined (needs root and unshare(1)): candidates share the host's files, processes"
            text += " and IPC"
            if not network_namespace_available():
                text += " and network"
            text += "; only rlimits and a scrubbed environment apply. Prefer --sandbox bwrap"
    elif name == "bwrap":
        text = "bwrap: a fresh root in new user/PID/IPC/network namespaces, uid 65534, no capabilities, seccomp"
    else:
        text = "docker: a container with a read-only root, --network none, uid 65534, no capabilities, seccomp"
    return text + ("; " + "; ".join(gaps) if gaps else "")


def _processes_unbounded(name: str) -> bool:
    """Whether a candidate may fork without bound here (until its wall-clock limit ends it and its
    PID namespace with it): where there is no pids cgroup (not root, cgroup v2 hosts, or
    ADRS_NO_CGROUP=1), unless RLIMIT_NPROC binds: inside bwrap's user namespace when not root (the
    runner sets it there), or on an unconfined candidate switched to uid 65534
    (process.nproc_binds); it never binds root. Docker bounds with --pids-limit."""
    from adrs.sandbox.cgroup import pids_cgroup_available
    from adrs.sandbox.process import candidates_switch_uid, nproc_binds

    if name == "docker" or pids_cgroup_available():
        return False
    if name == "bwrap":
        return os.geteuid() == 0
    return not nproc_binds(candidates_switch_uid(), None)


def current() -> Backend:
    """The backend the engine chose for this worker's candidates (`process` when none was named)."""
    return get(os.environ.get(ENV_VAR) or "process")


def probe_env(name: str) -> dict[str, str]:
    """Probe results of the chosen backend, handed down so a worker does not probe again."""
    backend = get(name)
    ok = "1" if backend.unavailable_reason() is None else "0"
    return {"process": {}, "bwrap": {"ADRS_PROBE_BWRAP": ok}, "docker": {"ADRS_PROBE_DOCKER": ok}}[name]
