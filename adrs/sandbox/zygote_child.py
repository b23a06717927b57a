"""What a child of the candidate zygote (adrs/sandbox/zygote.py) does between its fork and
confine.py: die with the zygote, then its own session and network, IPC and UTS namespaces (what
needs nothing of the launch: a spare child does it before its launch comes, `own_namespaces`), then,
with the launch message, its descriptors, pids cgroup, limits, home, environment and mount
namespace (`set_up`), as the cold chain's unshare(1) and preexec make them.

Owns: the child's set-up and its fail-closed exit (SETUP_FAILED, before anything of the candidate's
runs). Must not: import or run candidate, driver or evaluator code; return half set up.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import resource
import select
import signal
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from adrs.sandbox.base import ProcessLimits
from adrs.sandbox.cgroup import PidsCgroup
from adrs.sandbox.process import ORPHANED_AT_START, SandboxSpec, _preexec, _unshare_network, network_namespace_available
from adrs.sandbox.replies import receive

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
PR_SET_PDEATHSIG = 1
SETUP_FAILED = 125  # a child that could not be set up exits with this before any candidate code runs
CHANNEL_FD = 3  # where a session's channel lands in the candidate (the message's env names it)
MAX_FDS = 4  # the reply socket, stdout, stderr, and a session's channel
HIGH_FD = 64  # received descriptors are moved above the ones a candidate gets before they are placed

_libc = ctypes.CDLL(None, use_errno=True)


@dataclass(frozen=True)
class Job:
    """What a fully set-up child runs: confine.py's command line (CONFIG RUNNER ARGS...)."""

    argv: list[str]


def needs_own_network(message: dict) -> bool:
    """Whether the launch's candidate gets a new, empty network namespace (as the cold chain's
    _preexec decides it)."""
    return not message["limits"].get("network", False) and network_namespace_available()


def own_namespaces(network: bool) -> None:
    """In a forked child, before any launch message: its own session, and new network (where
    `network`), IPC and UTS namespaces. The mount namespace comes after the message: a copy made
    now would miss the evaluation's scratch tmpfs, mounted on the host later."""
    try:
        os.setsid()
        if network:
            _unshare_network()
        unshare(CLONE_NEWIPC | CLONE_NEWUTS)
    except BaseException as exc:  # noqa: BLE001 - fail closed: nothing runs half set up
        fail(f"the candidate's sandbox could not be set up: {exc!r}")


def wait_for_launch(link: socket.socket) -> Job:
    """In a spare child: wait for the launch the zygote hands over, then set up for it. End of file
    (the zygote dropped this spare) ends it before anything ran."""
    received = receive(link, MAX_FDS)
    if received is None:
        os._exit(0)
    data, fds = received
    try:
        message = json.loads(data)
        argv = [str(a) for a in message["argv"]]
    except (ValueError, KeyError, TypeError) as exc:
        fail(f"the candidate's sandbox could not be set up: {exc!r}")
    link.close()
    return set_up(message, argv, fds)


def set_up(message: dict, argv: list[str], fds: list[int]) -> Job:
    """In the child, after its namespaces: what depends on the launch (descriptors, limits, pids
    cgroup, home, environment, the mount namespace); what it runs."""
    try:
        moved = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, HIGH_FD) for fd in fds[1:]]
        devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        for target, fd in zip((0, 1, 2, CHANNEL_FD), (devnull, *moved), strict=False):
            os.dup2(fd, target, inheritable=True)
        os.closerange(len(fds), os.sysconf("SC_OPEN_MAX"))  # the reply socket and the copies too
        limits = ProcessLimits(**message["limits"])
        cgroup = PidsCgroup(Path(message["cgroup"])) if message.get("cgroup") else None
        spec = SandboxSpec(
            limits=limits,
            drop_privileges=bool(message["drop_privileges"]),
            cgroup=cgroup,
            unshare_network=False,  # done by own_namespaces
            limit_nproc=bool(message["limit_nproc"]),
        )
        _preexec(spec)  # the death signal again (after any uid change); follow_parent checked
        for name, ceiling in message.get("ceilings", {}).items():
            lower_to(getattr(resource, name), int(ceiling))
        os.chdir(message["home"])
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in message["env"].items()})
        unshare(CLONE_NEWNS)
    except BaseException as exc:  # noqa: BLE001 - fail closed: nothing runs half set up
        fail(f"the candidate's sandbox could not be set up: {exc!r}")
    return Job(argv)


def lower_to(which: int, ceiling: int) -> None:
    """Lower a limit to what the asking worker runs under (a cold candidate inherits that)."""
    soft, hard = resource.getrlimit(which)
    if ceiling == resource.RLIM_INFINITY:
        return
    if hard == resource.RLIM_INFINITY or ceiling < hard:
        resource.setrlimit(which, (ceiling if soft == resource.RLIM_INFINITY else min(soft, ceiling), ceiling))


def unshare(flags: int) -> None:
    if _libc.unshare(flags) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare: {os.strerror(err)}")


def follow_parent(zygote_pidfd: int) -> None:
    """First thing in a child: die with the zygote (PR_SET_PDEATHSIG), and exit at once where it
    died before that was set (its pidfd is readable then), as `_preexec` does by the parent pid."""
    if _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if select.select([zygote_pidfd], [], [], 0)[0]:
        os._exit(ORPHANED_AT_START)


def fail(sentence: str) -> NoReturn:
    with contextlib.suppress(OSError):
        os.write(2, f"adrs: {sentence}; the candidate was not run\n".encode())
    os._exit(SETUP_FAILED)
