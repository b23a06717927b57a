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

Must not: import the docker SDK or probe anything at import time (workers import this package).
"""

from __future__ import annotations

import os

from adrs.sandbox.base import Backend, Handle, Launch, ProcessLimits, SandboxUnavailable, View

BACKENDS = ("process", "bwrap", "docker")
ENV_VAR = "ADRS_SANDBOX"

__all__ = [
    "BACKENDS",
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


def current() -> Backend:
    """The backend the engine chose for this worker's candidates (`process` when none was named)."""
    return get(os.environ.get(ENV_VAR) or "process")


def probe_env(name: str) -> dict[str, str]:
    """Probe results of the chosen backend, handed down so a worker does not probe again."""
    backend = get(name)
    ok = "1" if backend.unavailable_reason() is None else "0"
    return {"process": {}, "bwrap": {"ADRS_PROBE_BWRAP": ok}, "docker": {"ADRS_PROBE_DOCKER": ok}}[name]
