"""What a child of the candidate zygote (adrs/sandbox/zygote.py) does: die with the zygote, then its
own session and network, IPC and UTS namespaces (what needs nothing of the launch: a spare child
does it before its launch comes, `own_namespaces`, and, where the zygote found that a detached
mount attaches here, `trees_attach`, its mount namespace and the last launch's root too), then,
with the launch message, its descriptors, pids cgroup, limits, home, environment and mount
namespace (`set_up`), as the cold chain's unshare(1) and preexec make them; then confine.py and
the runner, and the candidate's end (`run`).

Owns: the child's set-up and its fail-closed exit (SETUP_FAILED, before anything of the candidate's
runs), and the end of a candidate (`_end`). Must not: import or run candidate, driver or evaluator
code before confine.py ran; return half set up.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import fcntl
import json
import os
import resource
import select
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from types import CodeType
from typing import NoReturn

from adrs.candidate import confine
from adrs.sandbox.base import ProcessLimits
from adrs.sandbox.cgroup import PIDS_CGROUP_ROOT, PidsCgroup, pids_cgroup_available
from adrs.sandbox.process import ORPHANED_AT_START, SandboxSpec, _preexec, _unshare_network, network_namespace_available
from adrs.sandbox.replies import receive

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
PR_SET_PDEATHSIG = 1
SETUP_FAILED = 125  # a child that could not be set up exits with this before any candidate code runs
CHANNEL_FD = 3  # where a session's channel lands in the candidate (the message's env names it)
MAX_FDS = 5  # the reply socket, stdout, stderr, a channel, the home's mount tree
CGROUPS = PIDS_CGROUP_ROOT / "adrs"  # where PidsCgroup.create makes each launch's group
HIGH_FD = 64  # received descriptors are moved above the ones a candidate gets before they are placed

_libc = ctypes.CDLL(None, use_errno=True)


@dataclass(frozen=True)
class Job:
    """What a fully set-up child runs: confine.py's `confine_and_run` with the launch's config and
    the runner's command line (RUNNER ARGS...); `built`: its root was built ahead (`own_namespaces`)
    and `home_tree` is its home, to attach."""

    argv: list[str]
    config: dict
    home_tree: int | None = None
    built: bool = False


def root_of(config: dict) -> dict:
    """What of a launch's confinement config a root built ahead holds: all of it but the home."""
    return {key: value for key, value in config.items() if key != "home"}


def home_hidden(config: dict) -> bool:
    """Whether the launch's home lies in a path its root hides (confine.build_root covers it then
    unless it knows the home)."""
    home = config["home"]
    return any(home == path or home.startswith(path.rstrip("/") + "/") for path in config.get("hidden", ()))


def trees_attach() -> bool:
    """Whether children may build their root ahead of their launch: a detached copy of a host
    folder (confine.open_tree, as the worker makes of a home) attaches in a mount namespace of the
    child's own (move_mount), tried once in a throwaway child on a tmpfs over this process's
    working folder (in its namespace only)."""
    here = os.getcwd()
    try:
        tree = confine.open_tree(here)
    except OSError:
        return False
    try:
        pid = os.fork()
    except OSError:
        os.close(tree)
        return False
    if pid == 0:
        try:
            unshare(CLONE_NEWNS)
            os._exit(0 if confine.attaches_here(tree, here) else 1)
        except BaseException:  # noqa: BLE001 - any failure: no
            os._exit(1)
    os.close(tree)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def needs_own_network(message: dict) -> bool:
    """Whether the launch's candidate gets a new, empty network namespace (as the cold chain's
    _preexec decides it)."""
    return not message["limits"].get("network", False) and network_namespace_available()


def own_namespaces(network: bool, root: dict | None = None) -> int | None:
    """In a forked child, before any launch message: its own session, and new network (where
    `network`), IPC and UTS namespaces. With `root` (a launch's config less its home, `root_of`),
    also its mount namespace and the new root built in it (confine.build_root, without the home,
    which comes with the launch as a mount tree); without, the mount namespace comes after the
    message: a copy made now would miss the evaluation's scratch tmpfs, mounted on the host later.
    Returns, for a root built ahead, a descriptor of the folder the pids cgroups are made in (the
    new root does not show it: the launch's group is joined through it, `set_up`)."""
    groups = None
    try:
        os.setsid()
        if network:
            _unshare_network()
        unshare(CLONE_NEWIPC | CLONE_NEWUTS)
        if root is not None:
            # pids_cgroup_available was probed by the zygote (its cached answer: a probe here would
            # name its folder after pid 1, as every other spare's)
            if pids_cgroup_available():
                groups = os.open(CGROUPS, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            unshare(CLONE_NEWNS)
            confine.build_root(root)
    except BaseException as exc:  # noqa: BLE001 - fail closed: nothing runs half set up
        fail(f"the candidate's sandbox could not be set up: {exc!r}")
    return groups


def wait_for_launch(link: socket.socket, built: bool, groups: int | None = None) -> Job:
    """In a spare child: wait for the launch the zygote hands over, then set up for it (`built`:
    its root was built ahead; `groups`: what own_namespaces returned). End of file (the zygote
    dropped this spare) ends it before anything ran."""
    received = receive(link, MAX_FDS)
    if received is None:
        os._exit(0)
    data, fds = received
    try:
        message = json.loads(data)
    except ValueError as exc:
        fail(f"the candidate's sandbox could not be set up: {exc!r}")
    link.close()
    return set_up(message, fds, built, groups)


def set_up(message: dict, fds: list[int], built: bool = False, groups: int | None = None) -> Job:
    """In the child, after its namespaces: what depends on the launch (descriptors, limits, pids
    cgroup, environment, and, unless its root was built ahead, cwd and the mount namespace); what
    it runs. `fds`: the reply socket, stdout, stderr, a session's channel where there is one, the
    home's mount tree last where the message says there is one."""
    try:
        if groups is not None:  # out of the way of the descriptors placed below
            groups = fcntl.fcntl(groups, fcntl.F_DUPFD_CLOEXEC, HIGH_FD)
        tree = fds[-1] if message.get("home_tree") else None
        streams = fds[1:-1] if tree is not None else fds[1:]
        moved = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, HIGH_FD) for fd in streams]
        kept_tree = None if tree is None or not built else fcntl.fcntl(tree, fcntl.F_DUPFD_CLOEXEC, HIGH_FD)
        devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        for target, fd in zip((0, 1, 2, CHANNEL_FD), (devnull, *moved), strict=False):
            os.dup2(fd, target, inheritable=True)  # from here on a failure is told on the candidate's stderr
        last = len(streams)  # 0, 1, 2 and the channel's CHANNEL_FD where there is one
        if kept_tree is not None:
            os.dup2(kept_tree, last + 1, inheritable=False)  # closed by confine.finish once attached
            kept_tree, last = last + 1, last + 1
        if built and kept_tree is None:
            raise ValueError("a root built ahead needs the home's mount tree")
        cgroup = PidsCgroup(Path(message["cgroup"])) if message.get("cgroup") else None
        if built and cgroup is not None:  # joined through the folder's descriptor: the new root has no /sys
            _join_through(groups, cgroup.path)
            cgroup = None
        os.closerange(last + 1, os.sysconf("SC_OPEN_MAX"))  # the reply socket, the copies, the groups' folder
        argv = [str(a) for a in message["argv"]]
        config = dict(message["confine"])
        limits = ProcessLimits(**message["limits"])
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
        if not built:
            os.chdir(message["home"])
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in message["env"].items()})
        if not built:
            unshare(CLONE_NEWNS)
    except BaseException as exc:  # noqa: BLE001 - fail closed: nothing runs half set up
        fail(f"the candidate's sandbox could not be set up: {exc!r}")
    return Job(argv, config, kept_tree, built)


def _join_through(groups: int | None, group: Path) -> None:
    """Join the pids cgroup `group` (a folder PidsCgroup.create made, in CGROUPS) through the
    descriptor `groups` of CGROUPS, as PidsCgroup.join does for a single-threaded process."""
    if groups is None or group.parent != CGROUPS or group.name in ("", ".", ".."):
        raise OSError(f"the pids cgroup {group} cannot be joined from a root built ahead")
    tasks = os.open(f"{group.name}/tasks", os.O_WRONLY | os.O_CLOEXEC, dir_fd=groups)
    try:
        os.write(tasks, b"0")
    finally:
        os.close(tasks)


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


def run(job: Job, compiled: tuple[bytes, CodeType]) -> NoReturn:
    """Run the candidate: confine.py builds the root (or, built ahead, attaches the home), drops
    every capability and runs the runner as __main__ (from `compiled`, the zygote's compile of
    adrs/candidate/runner.py, where the home's runner.py holds that source), which ends as a fresh
    interpreter would, less the teardown of its modules."""
    try:
        confine.confine_and_run(job.config, job.argv, job.home_tree, job.built, compiled)
        code = 0
    except SystemExit as exc:
        code = _exit_status(exc.code)
    except BaseException:  # noqa: BLE001 - as the interpreter does with an uncaught exception
        with contextlib.suppress(BaseException):
            sys.excepthook(*sys.exc_info())
        code = 1
    _end(code)


def _exit_status(code: object) -> int:
    """What the interpreter makes of `sys.exit(code)`."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    with contextlib.suppress(BaseException):
        sys.stderr.write(f"{code}\n")
    return 1


def _end(code: int) -> NoReturn:
    """End a candidate as Py_FinalizeEx would, in its order (non-daemon threads, atexit, the
    standard streams), without tearing down every module and collecting every object: ≈ 15 ms of
    CPU per candidate that nothing outside the process could observe, but for finalisers of objects
    still alive at exit (which CPython does not promise to run either)."""
    threading = sys.modules.get("threading")
    if threading is not None:
        with contextlib.suppress(BaseException):
            threading._shutdown()
    with contextlib.suppress(BaseException):
        atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):
            stream.flush()
    os._exit(code)
