"""The `bwrap` backend: each candidate in a bubblewrap sandbox built from nothing.

Owns: the bwrap command line. The sandbox's root holds only /usr and the Python runtime
(read-only, at their real paths: mounted elsewhere, Python silently loads another libpython), the
packages the trusted driver imports, a fresh /proc, a fresh /dev (read-only; GPU nodes only when
the problem declares GPUs), size-limited private /tmp (mounted first, so that what is bound under
/tmp, a virtual environment say, stays visible) and /dev/shm, and the candidate's home (the one
writable folder); and the probe that says why bwrap cannot run here, when it cannot (no bwrap, no
namespaces, or an interpreter it cannot see). Every namespace is new (no network, own PIDs, own
IPC and UTS); inside it runs as uid 65534 with no capabilities, in a session of its own, and dies with bwrap
(--die-with-parent), which dies with the worker (PR_SET_PDEATHSIG). rlimits and the pids cgroup
are applied to bwrap itself, so they bind everything inside.

Must not: read results or know about problems.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from adrs.sandbox.base import NOBODY_GID, NOBODY_UID, NPROC_ENV, Backend, Handle, Launch, ProcessLimits
from adrs.sandbox.cgroup import PidsCgroup
from adrs.sandbox.process import SandboxSpec, popen_in_sandbox
from adrs.sandbox.views import gpu_devices, hidden_inside, root_links, shown_paths


def bwrap_command(
    home: Path,
    env: dict[str, str],
    readonly: tuple[Path, ...],
    argv: list[str],
    hidden: tuple[Path, ...] = (),
    limits: ProcessLimits | None = None,
) -> list[str]:
    """The full bwrap command line for one candidate process.

    Hidden paths only matter where they lie inside a mounted folder (an archive kept inside the
    virtual environment, say): there they are covered by an empty tmpfs or /dev/null.
    """
    limits = limits or ProcessLimits()
    tmpfs_bytes = str(limits.tmpfs_mb << 20)
    command = [
        "bwrap",
        "--unshare-all",  # user, pid, net, ipc, uts, cgroup namespaces
        "--die-with-parent",
        "--new-session",
        "--cap-drop", "ALL",
        "--uid", str(NOBODY_UID),
        "--gid", str(NOBODY_GID),
        "--hostname", "adrs-sandbox",
        "--clearenv",
    ]  # fmt: skip
    for key, value in env.items():
        command += ["--setenv", key, value]
    # The runner lowers RLIMIT_NPROC to this inside bwrap's user namespace, where the kernel counts
    # this sandbox's tasks alone against it (ucounts per namespace); set before bwrap, it would count
    # every task of the user's uid (process.nproc_binds).
    command += ["--setenv", NPROC_ENV, str(limits.processes)]
    # /tmp first: a folder shown below it (a virtual environment under /tmp, the home) is mounted inside it.
    command += ["--size", tmpfs_bytes, "--tmpfs", "/tmp"]
    shown = shown_paths(readonly)
    for path in shown:
        command += ["--ro-bind", str(path), str(path)]
    for target, link in root_links():
        command += ["--symlink", target, str(link)]
    command += ["--dev", "/dev", "--proc", "/proc", "--size", tmpfs_bytes, "--tmpfs", "/dev/shm"]
    if limits.gpus:
        for device in gpu_devices():
            command += ["--dev-bind", str(device), str(device)]
        command += ["--ro-bind", "/sys", "/sys"]
    command += ["--remount-ro", "/dev"]  # its tmpfs has no size limit: nothing may be written there
    for path in hidden_inside(hidden, shown):
        command += ["--tmpfs", str(path)] if path.is_dir() else ["--ro-bind", "/dev/null", str(path)]
    command += ["--bind", str(home), str(home), "--chdir", str(home), "--", *argv]
    return command


@functools.cache
def _probe() -> str | None:
    """None when a real sandboxed interpreter starts; else why not."""
    inherited = os.environ.get("ADRS_PROBE_BWRAP")
    if inherited is not None:
        return None if inherited == "1" else "the probe inherited from the engine failed"
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    with tempfile.TemporaryDirectory(prefix="adrs-bwrap-probe-") as home:
        command = bwrap_command(Path(home), {"PATH": "/usr/bin"}, (), [sys.executable, "-I", "-c", "import json"])
        try:
            done = subprocess.run(command, capture_output=True, timeout=30)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"bwrap could not start: {exc}"
    if done.returncode == 0:
        return None
    detail = _last_line(done.stderr, done.returncode)
    namespaces = _namespaces_refused()
    if namespaces is not None:
        return (
            f"bwrap cannot create its namespaces: {namespaces} "
            "(unprivileged user namespaces may be disabled: kernel.unprivileged_userns_clone)"
        )
    if "execvp" in detail:
        return f"bwrap failed: {detail}: the Python interpreter {sys.executable} is not visible inside the sandbox"
    return f"bwrap failed: {detail}"


def _namespaces_refused() -> str | None:
    """None when bwrap can create its namespaces at all (the host seen read-only, nothing else); else why not."""
    try:
        done = subprocess.run(
            ["bwrap", "--unshare-all", "--ro-bind", "/", "/", "--", "/bin/true"], capture_output=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return str(exc)
    return None if done.returncode == 0 else _last_line(done.stderr, done.returncode)


def _last_line(stderr: bytes, returncode: int) -> str:
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    return lines[-1] if lines else f"exit status {returncode}"


class BwrapBackend(Backend):
    name = "bwrap"
    instead = "Use --sandbox process (always available), or docker."

    def unavailable_reason(self) -> str | None:
        return _probe()

    def launch(self, launch: Launch) -> Handle:
        env = launch.channel_env()  # bwrap passes inherited descriptors on, a session's channel too
        command = bwrap_command(launch.home, env, launch.view.readonly, launch.argv, launch.view.hidden, launch.limits)
        if launch.limits.network:  # a problem that asked for the network (none of the built-in ones)
            command.insert(command.index("--unshare-all") + 1, "--share-net")
        spec = SandboxSpec(
            limits=launch.limits,
            cgroup=PidsCgroup.create(launch.limits.processes),
            unshare_network=False,  # bwrap makes its own namespaces
            limit_nproc=False,  # would count the user's whole session (process.nproc_binds)
        )
        handle = popen_in_sandbox(launch, command, spec)
        handle.shell_status = True  # bwrap exits with 128 + N when the candidate dies by signal N
        return handle
