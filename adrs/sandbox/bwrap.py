"""The `bwrap` backend: each candidate in a bubblewrap sandbox built from nothing.

Owns: the bwrap command line. The sandbox's root holds only /usr and the Python runtime
(read-only, at their real paths: mounted elsewhere, Python silently loads another libpython), the
packages the trusted driver imports, a fresh /dev, /proc and private /tmp, and the candidate's
home (the one writable folder). Every namespace is new (no network, own PIDs, own IPC and UTS);
inside it runs as uid 65534 with no capabilities, in a session of its own, and dies with bwrap
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

from adrs.sandbox.base import NOBODY_GID, NOBODY_UID, Backend, Handle, Launch
from adrs.sandbox.cgroup import PidsCgroup
from adrs.sandbox.process import SandboxSpec, popen_in_sandbox
from adrs.sandbox.views import SYSTEM_ROOTS, runtime_paths

ROOT_LINKS = ("bin", "lib", "lib32", "lib64", "libx32", "sbin")  # merged-/usr symlinks, or folders
HOST_FILES = ("/etc/ld.so.cache", "/etc/localtime")  # read-only: how libraries are found, the time zone


def bwrap_command(
    home: Path, env: dict[str, str], readonly: tuple[Path, ...], argv: list[str], hidden: tuple[Path, ...] = ()
) -> list[str]:
    """The full bwrap command line for one candidate process.

    Hidden paths only matter where they lie inside a mounted folder (an archive kept inside the
    virtual environment, say): there they are covered by an empty tmpfs or /dev/null.
    """
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
    for root in SYSTEM_ROOTS:
        command += ["--ro-bind", str(root), str(root)]
    for name in ROOT_LINKS:
        path = Path("/") / name
        if path.is_symlink():
            command += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            command += ["--ro-bind", str(path), str(path)]
    for name in HOST_FILES:
        if os.path.exists(name):
            command += ["--ro-bind", name, name]
    for path in (*runtime_paths(), *readonly):
        command += ["--ro-bind", str(path), str(path)]
    command += ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    visible = (*SYSTEM_ROOTS, *runtime_paths(), *readonly)
    for path in hidden:
        if any(path == root or root in path.parents for root in visible) and os.path.lexists(path):
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
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        hint = " (unprivileged user namespaces may be disabled: kernel.unprivileged_userns_clone)"
        return f"bwrap failed: {detail[-1] if detail else done.returncode}{hint}"
    return None


class BwrapBackend(Backend):
    name = "bwrap"
    instead = "Use --sandbox process (always available), or docker."

    def unavailable_reason(self) -> str | None:
        return _probe()

    def launch(self, launch: Launch) -> Handle:
        env = launch.channel_env()  # bwrap passes inherited descriptors on, a session's channel too
        command = bwrap_command(launch.home, env, launch.view.readonly, launch.argv, launch.view.hidden)
        if launch.limits.network:  # a problem that asked for the network (none of the built-in ones)
            command.insert(command.index("--unshare-all") + 1, "--share-net")
        spec = SandboxSpec(
            limits=launch.limits,
            cgroup=PidsCgroup.create(launch.limits.processes),
            unshare_network=False,  # bwrap makes its own namespaces
            limit_nproc=os.geteuid() != 0,  # counted per user namespace: only binds when not root
        )
        return popen_in_sandbox(launch, command, spec)
