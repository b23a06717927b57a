"""The warm server: a pre-started, single-threaded process that forks one evaluation worker per stage.

Started by the engine side (adrs/evaluate/warm.py) through the same sandbox launch path as a cold
worker (`process`: new session, PR_SET_PDEATHSIG, an empty network namespace, rlimits, a scrubbed
environment, a private folder as cwd and HOME) as `python -I -m adrs.evaluate.warm_server`, with one
end of a SOCK_SEQPACKET socket pair on WARM_CONTROL_FD. It imports once the worker
(adrs/evaluate/worker.py), the trusted harness, numpy (adrs/sandbox/preload.py: where one BLAS
thread is asked for; reseeded in each worker) and what the problem's evaluator imports at its top
level (adrs/evaluate/evaluator_imports.py: after a forked trial showed it safe; not for peer
folders), raising each worker's address-space limit by what they mapped; it answers once what
every candidate launch asks (`answer_launch_questions_here`); then it only waits. For
each stage the engine sends one message with the worker's environment, working directory, pids
cgroup and limits, and five descriptors: the stage's own socket (replies), the request pipe (the
worker's stdin), the result pipe, stdout and stderr. Each worker is a child that redoes, per
evaluation, everything the cold launch does for a worker (PR_SET_PDEATHSIG on the server, its own
session, a new empty network namespace, the stage's pids cgroup and rlimits, the scrubbed
environment in full, cwd) with exactly those descriptors open, then runs the worker's `main`, which
reads the request (and its token) from stdin as a cold worker does. The part that needs no stage
(the death signal, the server's descriptors closed, the session, the network namespace, numpy
reseeded) is done one stage ahead: the server forks the next stage's worker (the *spare*) right
after it handed a stage over, and the spare waits on a socket of its own for its stage's message and
descriptors (≈ 1.5 ms of wall time per confined evaluation on top of the candidate's spare:
docs/benchmarks.md, "Workers and candidates forked one launch ahead"). A spare that died is reaped
and the stage gets a child forked for it (after SPARE_DEATHS such deaths, every stage does); one
holding a zygote that died is let go. The server replies `{"pid": N}` and, once it reaped the child,
`{"status": CODE, "cpu_s": S}` on the stage's socket, then closes it.

Why this is sound: the server never reads a request (tokens, programs) and never runs candidate code
or the evaluator itself: it holds adrs modules, numpy and the evaluator's imported modules (the
problem's trusted code, imported once before the first fork), so each child starts from the same
pristine copy, and whatever a child does dies with its address space. The server is single-threaded
(it refuses to fork otherwise). A spare is forked from the same idle server a stage's worker was
forked from before, and learns nothing of its stage before its message. Candidates are not forked
from here, so none inherits a worker's memory: where the `process` backend confines them, the server
starts a candidate zygote (adrs/sandbox/zygote.py, a clean interpreter that imports no problem code)
before its first worker and hands each worker a copy of its socket at WARM_ZYGOTE_FD (named by
ADRS_ZYGOTE_FD), through which the worker's backend has each confined candidate forked; a zygote
that dies is replaced (MAX_ZYGOTES in all), and the workers holding the old one start their
candidates cold, as every worker does elsewhere. When the engine's end of the control socket closes
(the engine exited or was killed; PR_SET_PDEATHSIG kills the server too) the server kills its
children's process groups, reaps them, lets its zygote go and reaps it (so the CPU time of the
candidates the zygote reaped reaches the engine's wait4) and exits; each child dies with the server
(PR_SET_PDEATHSIG).

Must not: read or parse a request, import the evaluator itself or candidate code, start threads.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import resource
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import adrs.evaluate.worker as worker
import adrs.problemkit.harness  # noqa: F401 - imported once here, so each worker finds it loaded
import adrs.problemkit.session  # noqa: F401
from adrs.evaluate.evaluator_imports import preload_imports
from adrs.evaluate.warm import SETUP_FAILED, WARM_RESULT_FD
from adrs.sandbox.base import ProcessLimits
from adrs.sandbox.cgroup import PidsCgroup
from adrs.sandbox.preload import address_space, preload, reseed_in_child
from adrs.sandbox.process import (
    PR_SET_PDEATHSIG,
    SandboxSpec,
    _preexec,
    _unshare_network,
    answer_launch_questions_here,
    confinement_available,
    network_namespace_available,
)
from adrs.sandbox.replies import discard, receive, refuse
from adrs.sandbox.zygote_launch import ZYGOTE_FD_ENV, start_zygote, zygote_wanted

MAX_FDS = 8
MAX_ZYGOTES = 3  # zygotes one server starts in all (again after one died); then its candidates start cold
ZYGOTE_EXIT_S = 5.0  # how long a server that ends waits for its zygote to reap its candidates and exit
WARM_ZYGOTE_FD = 4  # where a forked worker finds its copy of the candidate zygote's socket
HIGH_FD = 64  # received descriptors are moved above the ones a worker gets before they are placed
SPARE_DEATHS = 3  # spare workers that may die before their stage: then each stage's worker is forked for it


@dataclass
class _Spare:
    """A worker forked one stage ahead, waiting on `link` for its stage's message and descriptors."""

    pid: int
    link: socket.socket  # this process's end


def _spare_child(server: _Server, link: socket.socket, server_pid: int) -> None:
    """In a child forked one stage ahead: what needs no stage (the death signal, the server's
    descriptors let go, its own session and an empty network namespace, numpy reseeded), then wait
    for the stage on `link` and become its worker."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != server_pid:  # the server died before PR_SET_PDEATHSIG was set
            os._exit(SETUP_FAILED)
        zygote_fd = None if server.zygote is None else server.zygote.fileno()
        server.forget()
        _close_all_but({0, 1, 2, link.fileno(), *([] if zygote_fd is None else [zygote_fd])})
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        if network_namespace_available():
            _unshare_network()
        reseed_in_child()
    except BaseException as exc:  # noqa: BLE001 - fail closed: no worker runs half set up
        _setup_failed(exc)
    received = receive(link, MAX_FDS)
    if received is None:  # the server let this spare go
        os._exit(0)
    data, fds = received
    link.close()
    try:
        _become_worker(server, json.loads(data), fds, zygote_fd, server_pid)
    except BaseException as exc:  # noqa: BLE001
        _setup_failed(exc)
    worker.main()  # reads the request from stdin, writes the frame to WARM_RESULT_FD, exits
    os._exit(1)


def _become_worker(server: _Server, message: dict, fds: list[int], zygote_fd: int | None, server_pid: int) -> None:
    """The stage's part of a worker's set-up: its descriptors, pids cgroup, limits, folder and
    environment, as a cold launch gives them."""
    _conn, stdin, result, out, err = fds
    moved = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, HIGH_FD) for fd in (stdin, out, err, result)]
    zygote = None if zygote_fd is None else fcntl.fcntl(zygote_fd, fcntl.F_DUPFD_CLOEXEC, HIGH_FD)
    for target, fd in zip((0, 1, 2, WARM_RESULT_FD), moved, strict=True):
        os.dup2(fd, target, inheritable=True)
    if zygote is not None:  # not inheritable: only this worker's own backend uses it
        os.dup2(zygote, WARM_ZYGOTE_FD, inheritable=False)
    keep = WARM_RESULT_FD if zygote is None else WARM_ZYGOTE_FD
    os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX"))  # the control socket included
    limits = ProcessLimits(**message["limits"])
    # the preloads (numpy, the evaluator's imports) already hold this much of the address space a
    # cold worker starts without
    limits = replace(limits, memory_mb=limits.memory_mb + server.preloaded_mb)
    cgroup = PidsCgroup(Path(message["cgroup"])) if message.get("cgroup") else None
    spec = SandboxSpec(limits=limits, cgroup=cgroup, unshare_network=False, limit_nproc=bool(message["limit_nproc"]))
    _preexec(spec)  # the network namespace is the spare's own already
    if os.getppid() != server_pid:  # the server died before PR_SET_PDEATHSIG was set again
        os._exit(SETUP_FAILED)
    os.chdir(message["cwd"])
    os.environ.clear()
    os.environ.update(message["env"])
    tempfile.tempdir = None  # this stage's TMPDIR when next asked, not the server's (a preload may have asked)
    if zygote is not None:
        os.environ[ZYGOTE_FD_ENV] = str(WARM_ZYGOTE_FD)


def _close_all_but(keep: set[int]) -> None:
    """Close every descriptor of this process but `keep` (the server's, let go by `forget`)."""
    start = 0
    for fd in sorted(keep):
        if fd > start:  # never an empty range: os.closerange(n, n) closes from n up (close_range(n, n - 1))
            os.closerange(start, fd)
        start = fd + 1
    os.closerange(start, os.sysconf("SC_OPEN_MAX"))


def _setup_failed(exc: BaseException) -> None:
    with contextlib.suppress(OSError):
        os.write(2, f"adrs: the warm worker could not be set up: {exc!r}\n".encode())
    os._exit(SETUP_FAILED)


class _Server:
    def __init__(self, control: socket.socket, preloaded_mb: int = 0):
        self.control = control
        self.preloaded_mb = preloaded_mb  # address space the preload mapped: added to each worker's limit
        # The candidate zygote: its pid and the socket every worker gets a copy of (None: none).
        self.zygote_pid, self.zygote = _start_zygote()
        self.zygote_starts = 1
        self.children: dict[int, socket.socket] = {}
        self.selector = selectors.DefaultSelector()
        wake_read, wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.wake = wake_read
        signal.set_wakeup_fd(wake_write)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # only wakes the selector
        self.selector.register(control, selectors.EVENT_READ, "control")
        self.selector.register(wake_read, selectors.EVENT_READ, "wake")
        self.spare: _Spare | None = None
        self.spare_deaths = 0

    def serve(self) -> None:
        self.spare = self._fork_spare(SPARE_DEATHS)
        while True:
            for key, _ in self.selector.select():
                if key.data == "wake":
                    with contextlib.suppress(BlockingIOError):
                        os.read(self.wake, 4096)
                    self._reap()
                elif isinstance(key.data, int):
                    self._abandoned(key.data)
                elif not self._accept():
                    self._shutdown()
                    return
            self._reap()

    def _accept(self) -> bool:
        """One stage from the engine; False once the engine is gone."""
        received = receive(self.control, MAX_FDS)
        if received is None:
            return False
        data, fds = received
        if len(fds) != 5:
            discard(fds)
            return True
        threads = len(os.listdir("/proc/self/task"))
        if threads != 1:  # fork only a single-threaded process
            refuse(fds, f"the warm server has {threads} threads")
            return True
        try:
            if not isinstance(json.loads(data), dict):
                raise ValueError("not an object")
        except ValueError:
            refuse(fds, "unreadable message")
            return True
        worker = self._hand_over(data, fds)
        if worker is None:
            refuse(fds, "no worker could be forked")
            return True
        pid = worker.pid
        for fd in fds[1:]:
            os.close(fd)  # the child holds them now: the pipes reach end of file when it is gone
        conn = socket.socket(fileno=fds[0])
        self.children[pid] = conn
        self.selector.register(conn, selectors.EVENT_READ, pid)  # the engine's end closing: see _abandoned
        with contextlib.suppress(OSError):
            conn.send(json.dumps({"pid": pid}).encode())
        self.spare = self._fork_spare(self.spare_deaths)  # the next stage's worker, while this one runs
        return True

    def _hand_over(self, data: bytes, fds: list[int]) -> _Spare | None:
        """Send the stage to the spare worker (or to one forked for it where there is none, or the
        spare is gone); the worker that took it, or None. A spare killed from outside at the very
        moment of its hand-over takes the stage with it, as a worker killed at its start does."""
        for attempt in range(2):
            spare, self.spare = (self.spare if attempt == 0 else self._fork_spare(0)), None
            if spare is None:
                continue
            try:
                socket.send_fds(spare.link, [data], fds)
                return spare
            except OSError:  # it died: reaped by _reap, which knows it no longer
                with contextlib.suppress(OSError):
                    os.kill(spare.pid, signal.SIGKILL)
            finally:
                spare.link.close()
        return None

    def _fork_spare(self, deaths: int) -> _Spare | None:
        """Fork a worker ahead of its stage (None where spares died SPARE_DEATHS times counting
        `deaths`, or this process is not single-threaded); the child never returns."""
        if deaths >= SPARE_DEATHS or len(os.listdir("/proc/self/task")) != 1:
            return None
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            mine.close()
            _spare_child(self, theirs, os.getppid())
        theirs.close()
        return _Spare(pid, mine)

    def forget(self) -> None:
        """In a child: let go of the server's sockets without closing them (closerange does), so no
        finaliser can later close a descriptor number the worker reuses."""
        for conn in self.children.values():
            conn.detach()
        self.control.detach()
        if self.zygote is not None:
            self.zygote.detach()
        if self.spare is not None:
            self.spare.link.detach()

    def _reap(self) -> None:
        while True:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.zygote_pid:
                self._replace_zygote()
                continue
            if self.spare is not None and pid == self.spare.pid:  # died before its stage came
                self.spare.link.close()
                self.spare = None
                self.spare_deaths += 1
                continue
            conn = self.children.pop(pid, None)
            if conn is None:
                continue
            with contextlib.suppress(KeyError):  # already, when the engine abandoned it
                self.selector.unregister(conn)
            reply = {"status": os.waitstatus_to_exitcode(status), "cpu_s": usage.ru_utime + usage.ru_stime}
            with contextlib.suppress(OSError):
                conn.send(json.dumps(reply).encode())
            conn.close()

    def _replace_zygote(self) -> None:
        """The zygote died (killed: it never runs candidate code): workers forked from now on get a
        new one; those holding the old socket start their candidates cold. At most MAX_ZYGOTES."""
        if self.zygote is not None:
            self.zygote.close()
        self.zygote_pid, self.zygote = None, None
        self._drop_spare()  # it holds the dead zygote's socket
        if self.zygote_starts < MAX_ZYGOTES:
            self.zygote_starts += 1
            self.zygote_pid, self.zygote = _start_zygote()

    def _abandoned(self, pid: int) -> None:
        """The engine closed its end of a running worker's socket (its stage was cancelled before
        it learnt the pid): the worker is killed, so nothing runs that no one waits for."""
        conn = self.children.get(pid)
        if conn is None:
            return
        try:
            data = conn.recv(16)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            for kill in (os.killpg, os.kill):  # killpg: its group; kill: before it made the group
                with contextlib.suppress(OSError):
                    kill(pid, signal.SIGKILL)
            self.selector.unregister(conn)  # reaped (and its socket closed) by _reap

    def _drop_spare(self) -> None:
        """Let the spare worker go: it exits on end of file (killed all the same); _reap reaps it."""
        if self.spare is not None:
            self.spare.link.close()
            with contextlib.suppress(OSError):
                os.kill(self.spare.pid, signal.SIGKILL)
            self.spare = None

    def _shutdown(self) -> None:
        self._drop_spare()
        for pid in list(self.children):
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
        while self.children:
            try:
                pid, _status = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            self.children.pop(pid, None)
        self._end_zygote()

    def _end_zygote(self) -> None:
        """Let the zygote go (with every worker gone, it then kills and reaps its candidates and
        exits) and reap it: the CPU time of the candidates it reaped then counts in the server's,
        and so in the engine's (wait4), as the workers' does. Killed after ZYGOTE_EXIT_S."""
        proc = next((p for p in _zygotes if p.pid == self.zygote_pid), None)
        if self.zygote is None or proc is None:
            return
        self.zygote.close()
        try:
            proc.wait(ZYGOTE_EXIT_S)  # one that _reap reaped meanwhile reads as ended
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


_zygotes: list[subprocess.Popen] = []


def _start_zygote() -> tuple[int | None, socket.socket | None]:
    """The candidate zygote (adrs/sandbox/zygote.py) where candidates are confined here: its pid
    and socket; (None, None) where they are not (the cold chain is then what confines, or the
    backend is not `process`)."""
    if not (zygote_wanted() and confinement_available()):
        return None, None
    memory = resource.getrlimit(resource.RLIMIT_AS)[0]
    memory_mb = 1 << 30 if memory == resource.RLIM_INFINITY else memory >> 20
    try:
        proc, control = start_zygote(os.getcwd(), memory_mb, processes=1 << 16, limit_nproc=False)
    except OSError as exc:
        sys.stderr.write(f"adrs: the candidate zygote did not start ({exc}); candidates start cold\n")
        return None, None
    _zygotes.append(proc)  # kept: a collected Popen would try to reap it; _reap does, like any child
    return proc.pid, control


def main() -> None:
    control = socket.socket(fileno=int(sys.argv[1]))
    control.setblocking(True)
    mapped = address_space()
    preload()  # numpy, once per server rather than once per stage (adrs/sandbox/preload.py)
    if len(sys.argv) == 4:  # the problem's folder and its evaluator: its imports, likewise
        preload_imports(sys.argv[3], sys.argv[2])
    preloaded_mb = -(-max(0, address_space() - mapped) // (1 << 20))  # MiB, rounded up
    answer_launch_questions_here()  # once per server rather than once per forked worker
    _Server(control, preloaded_mb).serve()
    os._exit(0)


if __name__ == "__main__":
    main()
