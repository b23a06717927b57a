"""The warm server: a pre-started, single-threaded process that forks one evaluation worker per stage.

Started by the engine side (adrs/evaluate/warm.py) through the same sandbox launch path as a cold
worker (`process`: new session, PR_SET_PDEATHSIG, an empty network namespace, rlimits, a scrubbed
environment, a private folder as cwd and HOME) as `python -I -m adrs.evaluate.warm_server`, with one
end of a SOCK_SEQPACKET socket pair on WARM_CONTROL_FD. It imports the worker (adrs/evaluate/worker.py),
the trusted harness and numpy (adrs/sandbox/preload.py: where one BLAS thread is asked for; each
worker's address-space limit grows by what it mapped and numpy's global random state is reseeded
in each worker) once, compiles the candidate's runner and confine.py once (the `process` backend
writes their bytecode into each candidate's home), and then only waits. For each stage the engine sends one message
with the worker's environment, working directory, pids cgroup and limits, and five descriptors: the
stage's own socket (replies), the request pipe (the worker's stdin), the result pipe, stdout and
stderr. The server forks; the child redoes, per evaluation, everything the cold launch does for a
worker (its own session, the stage's pids cgroup, PR_SET_PDEATHSIG on the server, a new empty
network namespace, the stage's rlimits, the scrubbed environment in full, cwd) with exactly those
descriptors open, then runs the worker's `main`, which reads the request (and its token) from stdin
as a cold worker does. The server replies `{"pid": N}` and, once it reaped the child,
`{"status": CODE, "cpu_s": S}` on the stage's socket, then closes it.

Why this is sound: the server never reads a request (tokens, programs) and never runs problem or
candidate code: it holds only adrs modules and numpy, so each child starts from the same pristine copy, and
whatever a child does dies with its address space. The server is single-threaded (it refuses to
fork otherwise). Candidates are not forked from here, so none inherits a worker's memory: where
the `process` backend confines them, the server starts a candidate zygote (adrs/sandbox/zygote.py,
a clean interpreter that imports no problem code) before its first worker and hands each worker a
copy of its socket at WARM_ZYGOTE_FD (named by ADRS_ZYGOTE_FD), through which the worker's backend
has each confined candidate forked; a zygote that dies is replaced (MAX_ZYGOTES in all), and the
workers holding the old one start their candidates cold, as every worker does elsewhere. When
the engine's end of the control socket closes (the engine exited or was killed; PR_SET_PDEATHSIG
kills the server too) the server kills its children's process groups, reaps them, lets its zygote
go and reaps it (so the CPU time of the candidates the zygote reaped reaches the engine's wait4)
and exits; each child dies with the server (PR_SET_PDEATHSIG).

Must not: read or parse a request, import evaluator or candidate code, start threads.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import resource
import selectors
import signal
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import adrs.evaluate.worker as worker
import adrs.problemkit.harness  # noqa: F401 - imported once here, so each worker finds it loaded
import adrs.problemkit.session  # noqa: F401
from adrs.evaluate.warm import SETUP_FAILED, WARM_RESULT_FD
from adrs.sandbox.base import ProcessLimits
from adrs.sandbox.cgroup import PidsCgroup
from adrs.sandbox.preload import preload, reseed_in_child
from adrs.sandbox.process import (
    SandboxSpec,
    _preexec,
    compile_scripts_here,
    confinement_available,
)
from adrs.sandbox.replies import discard, receive, refuse
from adrs.sandbox.zygote_launch import ZYGOTE_FD_ENV, start_zygote, zygote_wanted

MAX_FDS = 8
MAX_ZYGOTES = 3  # zygotes one server starts in all (again after one died); then its candidates start cold
ZYGOTE_EXIT_S = 5.0  # how long a server that ends waits for its zygote to reap its candidates and exit
WARM_ZYGOTE_FD = 4  # where a forked worker finds its copy of the candidate zygote's socket
HIGH_FD = 64  # received descriptors are moved above the ones a worker gets before they are placed


def _child(server: _Server, message: dict, fds: list[int], server_pid: int) -> None:
    """In the forked child: become a worker exactly as a cold launch makes one, then run it."""
    try:
        _conn, stdin, result, out, err = fds
        zygote_fd = None if server.zygote is None else server.zygote.fileno()
        server.forget()
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        moved = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, HIGH_FD) for fd in (stdin, out, err, result)]
        zygote = None if zygote_fd is None else fcntl.fcntl(zygote_fd, fcntl.F_DUPFD_CLOEXEC, HIGH_FD)
        for target, fd in zip((0, 1, 2, WARM_RESULT_FD), moved, strict=True):
            os.dup2(fd, target, inheritable=True)
        if zygote is not None:  # not inheritable: only this worker's own backend uses it
            os.dup2(zygote, WARM_ZYGOTE_FD, inheritable=False)
        keep = WARM_RESULT_FD if zygote is None else WARM_ZYGOTE_FD
        os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX"))  # the control socket included
        os.setsid()
        limits = ProcessLimits(**message["limits"])
        # numpy, preloaded, already holds this much of the address space a cold worker starts without
        limits = replace(limits, memory_mb=limits.memory_mb + server.preloaded_mb)
        cgroup = PidsCgroup(Path(message["cgroup"])) if message.get("cgroup") else None
        _preexec(SandboxSpec(limits=limits, cgroup=cgroup, limit_nproc=bool(message["limit_nproc"])))
        if os.getppid() != server_pid:  # the server died before PR_SET_PDEATHSIG was set
            os._exit(SETUP_FAILED)
        os.chdir(message["cwd"])
        os.environ.clear()
        os.environ.update(message["env"])
        if zygote is not None:
            os.environ[ZYGOTE_FD_ENV] = str(WARM_ZYGOTE_FD)
        reseed_in_child()
    except BaseException as exc:  # noqa: BLE001 - fail closed: no worker runs half set up
        with contextlib.suppress(OSError):
            os.write(2, f"adrs: the warm worker could not be set up: {exc!r}\n".encode())
        os._exit(SETUP_FAILED)
    worker.main()  # reads the request from stdin, writes the frame to WARM_RESULT_FD, exits
    os._exit(1)


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

    def serve(self) -> None:
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
            message = json.loads(data)
        except ValueError:
            refuse(fds, "unreadable message")
            return True
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _child(self, message, fds, os.getppid())
        for fd in fds[1:]:
            os.close(fd)  # the child holds them now: the pipes reach end of file when it is gone
        conn = socket.socket(fileno=fds[0])
        self.children[pid] = conn
        self.selector.register(conn, selectors.EVENT_READ, pid)  # the engine's end closing: see _abandoned
        with contextlib.suppress(OSError):
            conn.send(json.dumps({"pid": pid}).encode())
        return True

    def forget(self) -> None:
        """In a child: let go of the server's sockets without closing them (closerange does), so no
        finaliser can later close a descriptor number the worker reuses."""
        for conn in self.children.values():
            conn.detach()
        self.control.detach()
        if self.zygote is not None:
            self.zygote.detach()

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

    def _shutdown(self) -> None:
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
    preloaded_mb = preload()  # numpy, once per server rather than once per stage (adrs/sandbox/preload.py)
    compile_scripts_here()  # the candidate's runner, once per server rather than once per forked worker
    _Server(control, preloaded_mb).serve()
    os._exit(0)


if __name__ == "__main__":
    main()
