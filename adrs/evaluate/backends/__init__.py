"""Sandbox backends behind one interface: `process`, `bwrap`, `docker`.

The chosen backend applies to the *candidate* processes the trusted harness starts (that is where
untrusted code runs in every built-in problem). The evaluation worker itself always runs under the
`process` sandbox without confinement: it is trusted code that reads the problem and its data.
The engine names the backend to the worker in ADRS_SANDBOX (see runner.py), the worker's harness
reads it back with `current()`.

Must not: import the docker SDK or probe anything at import time (workers import this package).
"""

from __future__ import annotations

import os

from adrs.evaluate.backends.base import Backend, Handle, Launch, Limits, SandboxUnavailable, View

BACKENDS = ("process", "bwrap", "docker")
ENV_VAR = "ADRS_SANDBOX"

__all__ = ["BACKENDS", "Backend", "Handle", "Launch", "Limits", "SandboxUnavailable", "View", "current", "get", "require"]


def get(name: str) -> Backend:
    """The backend called `name` (it may still be unavailable: see `require`)."""
    if name == "process":
        from adrs.evaluate.backends.process import ProcessBackend

        return ProcessBackend()
    if name == "bwrap":
        from adrs.evaluate.backends.bwrap import BwrapBackend

        return BwrapBackend()
    if name == "docker":
        from adrs.evaluate.backends.docker import DockerBackend

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
