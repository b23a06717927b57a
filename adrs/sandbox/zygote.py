"""The candidate zygote: a pre-started interpreter that forks one confined candidate per launch.

Started by a warm server (adrs/evaluate/warm_server.py) as `python -I -B -m adrs.sandbox.zygote FD`
through the same launch path as the server itself (its own session, PR_SET_PDEATHSIG on the
server, an empty network namespace, the scrubbed environment, a private folder as cwd), with one
end of a SOCK_SEQPACKET socket on FD. The server hands a copy of the other end to every worker it
forks; a worker's `process` backend (adrs/sandbox/zygote_launch.py) sends one message per
candidate: what the cold launch would put on the command line and in the environment, the pids
cgroup and limits, and three or four descriptors (a socket of its own for the replies, stdout,
stderr, and an interactive session's channel where there is one). This process replies `{"pid":
N}` on that socket and, once it reaped the child, `{"status": CODE, "cpu_s": S}`; the worker sends
`kill` on it to have the child's process group killed, and closing it (the worker ended or was
killed) kills the child too.

The child redoes, per candidate, everything the cold chain does (`unshare --pid --fork
--kill-child --mount --ipc --uts` of `python -I -B confine.pyc CONFIG runner.py REQUEST`, started
with the backend's preexec), in one process where the cold chain has two: it is born PID 1 of a
new PID namespace (this process unshares CLONE_NEWPID for its next child only and goes back to its
own namespace right after the fork), so no first child has to fork PID 1 and wait for it as
unshare(1) does; it dies with this process as that first child did (PR_SET_PDEATHSIG, checked by
a pidfd of this process: a parent outside a PID namespace reads as pid 0 inside it). It takes its
own session, the pids cgroup, a new empty network namespace, the rlimits, the scrubbed environment
in full, cwd; then new mount, IPC and UTS namespaces. It returns out of the server loop and runs
adrs/candidate/confine.py's `main` exactly as the cold chain does: the new root, no capabilities,
then the runner as __main__, whose seccomp filter comes before any driver or candidate code. What
is saved is the interpreter's start, `site` (the editable install's finder) and the imports (≈ 40
ms of CPU per candidate), and the second fork (≈ 3 ms).

Why this is sound: this process never runs, imports or reads candidate, driver or evaluator code,
requests or payloads (only the launch message: paths, the scrubbed environment, limits); it holds
adrs and standard-library modules only, so every child starts from the same pristine copy, and
whatever a candidate does dies with its own address space. Every descriptor of this process is
closed in the child before it is set up. It is single-threaded (it refuses to fork otherwise).
When every holder of the other end of FD is gone (the server and its workers), it kills its
children and exits; it also dies with the server (PR_SET_PDEATHSIG), and each child with it.

Must not: run or import candidate code in this process; fail open (a child that cannot be set up
exits with SETUP_FAILED before anything of the candidate's runs); start threads; fork
while its next child's PID namespace is a candidate's.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import fcntl
import gc

# What adrs/candidate/runner.py imports at every start: loaded once here, so each child finds them.
import importlib.util  # noqa: F401
import json
import os
import resource
import select
import selectors
import signal
import socket
import struct  # noqa: F401
import sys
import types  # noqa: F401
from dataclasses import dataclass
from pathlib import Path

from adrs.candidate import confine
from adrs.sandbox.base import ProcessLimits
from adrs.sandbox.cgroup import PidsCgroup
from adrs.sandbox.process import ORPHANED_AT_START, SandboxSpec, _preexec, network_namespace_available
from adrs.sandbox.replies import discard, receive, refuse

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
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


class _Zygote:
    def __init__(self, control: socket.socket):
        self.control = control
        self.children: dict[int, tuple[socket.socket, int]] = {}  # pid -> (reply socket, pidfd)
        self.selector = selectors.DefaultSelector()
        self.selector.register(control, selectors.EVENT_READ, ("control", 0))
        # Its own PID namespace, to return to after each fork (see _fork_pid1), and a pidfd of
        # itself, by which a child that is PID 1 of its own namespace (its parent pid reads 0
        # there) tells whether this process died before the child could follow it.
        self.own_pid_namespace = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        self.own_pidfd = os.pidfd_open(os.getpid())

    def serve(self) -> Job | None:
        """Serve launches until every worker and the server are gone (None); in a forked
        candidate, return what it runs."""
        while True:
            for key, _ in self.selector.select():
                what, pid = key.data
                if what == "control":
                    job = self._accept()
                    if isinstance(job, Job):
                        return job
                    if job is False:
                        self._shutdown()
                        return None
                elif what == "exit":
                    self._reap(pid)
                else:
                    self._message(pid)

    def _accept(self) -> Job | bool:
        """One launch from a worker; False once every holder of the other end is gone."""
        received = receive(self.control, MAX_FDS)
        if received is None:
            return False
        data, fds = received
        if len(fds) not in (3, 4):
            discard(fds)
            return True
        try:
            message = json.loads(data)
            argv = [str(a) for a in message["argv"]]
        except (ValueError, KeyError, TypeError):
            refuse(fds, "unreadable message")
            return True
        threads = len(os.listdir("/proc/self/task"))
        if threads != 1:  # fork only a single-threaded process
            refuse(fds, f"the zygote has {threads} threads")
            return True
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            pid = self._fork_pid1()
        except OSError as exc:
            refuse(fds, f"no PID namespace for the candidate: {exc}")
            return True
        if pid == 0:
            return self._child(message, argv, fds)
        for fd in fds[1:]:
            os.close(fd)  # the child holds them now
        conn = socket.socket(fileno=fds[0])
        conn.setblocking(False)
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:  # cannot happen for an unreaped child; fail closed all the same
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            conn.close()
            return True
        self.children[pid] = (conn, pidfd)
        self.selector.register(pidfd, selectors.EVENT_READ, ("exit", pid))
        self.selector.register(conn, selectors.EVENT_READ, ("conn", pid))
        with contextlib.suppress(OSError):
            conn.send(json.dumps({"pid": pid}).encode())
        return True

    def _fork_pid1(self) -> int:
        """Fork a child that is PID 1 of a new PID namespace, as `unshare --pid --fork` makes it,
        with one fork instead of two: unshare(CLONE_NEWPID) sets the namespace this process's next
        child is born in (this process stays in its own), and setns back to its own right after
        the fork, so no later child joins a candidate's namespace. A zygote that cannot go back
        exits: nothing else may be forked into a namespace a candidate holds."""
        _unshare(CLONE_NEWPID)
        try:
            pid = os.fork()
        except BaseException:
            self._back_to_own_pid_namespace()
            raise
        if pid != 0:
            self._back_to_own_pid_namespace()
        return pid

    def _back_to_own_pid_namespace(self) -> None:
        if _libc.setns(self.own_pid_namespace, CLONE_NEWPID) != 0:
            _fail(f"the zygote could not return to its PID namespace: {os.strerror(ctypes.get_errno())}")

    def _child(self, message: dict, argv: list[str], fds: list[int]) -> Job:
        """In the forked child, PID 1 of its own PID namespace: set up as the cold chain does and
        return (in that process only) what it runs."""
        try:
            _follow_parent(self.own_pidfd)
            self._close_everything()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            moved = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, HIGH_FD) for fd in fds[1:]]
            devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            for target, fd in zip((0, 1, 2, CHANNEL_FD), (devnull, *moved), strict=False):
                os.dup2(fd, target, inheritable=True)
            os.closerange(len(fds), os.sysconf("SC_OPEN_MAX"))  # the reply socket and the copies too
            os.setsid()
            limits = ProcessLimits(**message["limits"])
            cgroup = PidsCgroup(Path(message["cgroup"])) if message.get("cgroup") else None
            spec = SandboxSpec(
                limits=limits,
                drop_privileges=bool(message["drop_privileges"]),
                cgroup=cgroup,
                limit_nproc=bool(message["limit_nproc"]),
            )
            _preexec(spec)  # the death signal again (after any uid change); _follow_parent checked
            for name, ceiling in message.get("ceilings", {}).items():
                _lower_to(getattr(resource, name), int(ceiling))
            os.chdir(message["home"])
            os.environ.clear()
            os.environ.update({str(k): str(v) for k, v in message["env"].items()})
            _unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS)
        except BaseException as exc:  # noqa: BLE001 - fail closed: nothing runs half set up
            _fail(f"the candidate's sandbox could not be set up: {exc!r}")
        return Job(argv)

    def _close_everything(self) -> None:
        """In a child: close every descriptor of this process through its object, so no finaliser
        closes a number the candidate reuses later."""
        for conn, pidfd in self.children.values():
            conn.close()
            os.close(pidfd)
        self.children.clear()
        self.selector.close()
        self.control.close()
        os.close(self.own_pid_namespace)  # a candidate must hold nothing of the zygote's namespace
        os.close(self.own_pidfd)

    def _reap(self, pid: int) -> None:
        entry = self.children.pop(pid, None)
        if entry is None:
            return
        conn, pidfd = entry
        self.selector.unregister(pidfd)
        os.close(pidfd)
        _, status, usage = os.wait4(pid, 0)
        reply = {"status": os.waitstatus_to_exitcode(status), "cpu_s": usage.ru_utime + usage.ru_stime}
        if conn.fileno() >= 0:
            with contextlib.suppress(KeyError):
                self.selector.unregister(conn)
            with contextlib.suppress(OSError):
                conn.send(json.dumps(reply).encode())
            conn.close()

    def _message(self, pid: int) -> None:
        """`kill` from the worker, or its socket closing (the worker is gone): kill the child."""
        entry = self.children.get(pid)
        if entry is None or entry[0].fileno() < 0:  # reaped, or its socket closed, earlier in this round
            return
        conn, _pidfd = entry
        try:
            data = conn.recv(64)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.selector.unregister(conn)
            conn.close()  # the child is still reaped (and its status dropped) by _reap
        _kill_group(pid)

    def _shutdown(self) -> None:
        for pid in list(self.children):
            _kill_group(pid)
        for pid in list(self.children):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def _kill_group(pid: int) -> None:
    for kill in (os.killpg, os.kill):  # killpg: its group; kill: before it made the group
        with contextlib.suppress(OSError):
            kill(pid, signal.SIGKILL)


def _lower_to(which: int, ceiling: int) -> None:
    """Lower a limit to what the asking worker runs under (a cold candidate inherits that)."""
    soft, hard = resource.getrlimit(which)
    if ceiling == resource.RLIM_INFINITY:
        return
    if hard == resource.RLIM_INFINITY or ceiling < hard:
        resource.setrlimit(which, (ceiling if soft == resource.RLIM_INFINITY else min(soft, ceiling), ceiling))


def _unshare(flags: int) -> None:
    if _libc.unshare(flags) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare: {os.strerror(err)}")


def _follow_parent(zygote_pidfd: int) -> None:
    """First thing in a child: die with the zygote (PR_SET_PDEATHSIG), and exit at once where it
    died before that was set (its pidfd is readable then), as `_preexec` does by the parent pid."""
    if _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if select.select([zygote_pidfd], [], [], 0)[0]:
        os._exit(ORPHANED_AT_START)


def _fail(sentence: str) -> None:
    with contextlib.suppress(OSError):
        os.write(2, f"adrs: {sentence}; the candidate was not run\n".encode())
    os._exit(SETUP_FAILED)


def main() -> None:
    control = socket.socket(fileno=int(sys.argv[1]))
    control.setblocking(True)
    network_namespace_available()  # probed here once (from the environment), never in a child
    gc.freeze()  # what is loaded now is never collected: children do not copy its pages
    job = _Zygote(control).serve()
    if job is None:
        os._exit(0)
    # A confined candidate: confine.py builds the root, drops every capability and runs the runner
    # as __main__, which ends as a fresh interpreter would, less the teardown of its modules.
    sys.argv = ["confine.py", *job.argv]
    try:
        confine.main()
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


def _end(code: int) -> None:
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


if __name__ == "__main__":
    main()
