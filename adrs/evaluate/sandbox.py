"""Compatibility names for code written against the foundation's single `process` sandbox.

The backends now live in adrs/evaluate/backends/ (process, bwrap, docker behind one interface);
evaluators keep importing `Limits` from here. Must not: grow behaviour of its own.
"""

from __future__ import annotations

from adrs.evaluate.backends.base import NOBODY_GID, NOBODY_UID, Limits, describe_exit
from adrs.evaluate.backends.cgroup import PIDS_CGROUP_ROOT, PidsCgroup, pids_cgroup_available
from adrs.evaluate.backends.process import (
    SandboxSpec,
    can_drop_privileges,
    confinement_available,
    kill_tree,
    network_namespace_available,
    popen_kwargs,
    scrubbed_env,
)

__all__ = [
    "NOBODY_GID",
    "NOBODY_UID",
    "PIDS_CGROUP_ROOT",
    "Limits",
    "PidsCgroup",
    "SandboxSpec",
    "can_drop_privileges",
    "confinement_available",
    "describe_exit",
    "kill_tree",
    "network_namespace_available",
    "pids_cgroup_available",
    "popen_kwargs",
    "scrubbed_env",
]
