"""The trusted side of the candidate zygote (adrs/sandbox/zygote.py): starting one, and launching
a confined candidate through it.

Owns: `start_zygote` (used by a warm server, once, before it forks any worker), `ZYGOTE_FD_ENV` (how
a forked worker finds its copy of the zygote's socket), `zygote_launch` (one candidate: the
message, the descriptors, the first reply) and `ZygoteHandle` (the exit status and CPU time as the
zygote reaped them; kill through the zygote, which knows whether the pid is still its child, and
through the pids cgroup).

A launch that finds no zygote, or one that is gone or refuses, returns None before any candidate
code could have run, and the `process` backend starts the candidate cold; a worker that met a
dead zygote does not ask again. `ADRS_NO_ZYGOTE=1` keeps every candidate cold (benchmarks compare
the two).

Must not: read results or know about problems; launch anything the cold chain would not (the
zygote is used only for the exact command line the harness builds: `python -I -B runner.py ARGS`).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import select
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from dataclasses import asdict

from adrs.candidate import confine
from adrs.sandbox.base import CHANNEL_FD_ENV, Handle, Launch, ProcessLimits
from adrs.sandbox.cgroup import PidsCgroup
from adrs.sandbox.process import SandboxSpec, _open_capture, network_namespace_available, popen_kwargs
from adrs.sandbox.replies import parse_reply

ZYGOTE_FD_ENV = "ADRS_ZYGOTE_FD"
CHANNEL_FD = 3  # adrs/sandbox/zygote.py puts a session's channel there
REPLY_S = 10.0  # the zygote forks at once; a busy machine may take a while to schedule it
CEILINGS = ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_NOFILE", "RLIMIT_FSIZE", "RLIMIT_NPROC")
ZYGOTE_CPU_S = 1 << 30  # RLIMIT_CPU of the zygote itself (it lives as long as its server)

_control: socket.socket | None = None
_gone = False
_no_trees = False  # open_tree failed once in this worker: it is not asked again
_lock = threading.Lock()


def zygote_wanted() -> bool:
    return os.environ.get("ADRS_NO_ZYGOTE") != "1"


def start_zygote(
    home: str, memory_mb: int, processes: int, limit_nproc: bool
) -> tuple[subprocess.Popen, socket.socket]:
    """Start a zygote (a child of the calling process: it dies with it) and return it with the
    socket end every worker gets a copy of."""
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    limits = ProcessLimits(memory_mb=memory_mb, processes=processes, cpu_s=ZYGOTE_CPU_S)
    spec = SandboxSpec(limits=limits, limit_nproc=limit_nproc)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-B", "-m", "adrs.sandbox.zygote", str(theirs.fileno())],
            stdin=subprocess.DEVNULL,
            close_fds=True,
            pass_fds=(theirs.fileno(),),
            **popen_kwargs(spec, home),
        )
    except BaseException:
        mine.close()
        raise
    finally:
        theirs.close()
    return proc, mine


def _zygote_socket() -> socket.socket | None:
    """This worker's copy of the zygote's socket (named by the warm server), or None."""
    global _control
    if _gone or not zygote_wanted():
        return None
    if _control is not None:
        return _control
    value = os.environ.get(ZYGOTE_FD_ENV, "")
    if not value.isdigit():
        return None
    with _lock:
        if _control is None:
            try:
                if not stat.S_ISSOCK(os.fstat(int(value)).st_mode):
                    return None
            except OSError:
                return None
            _control = socket.socket(fileno=int(value))
            _control.setblocking(True)
    return _control


def _forget_zygote() -> None:
    global _gone
    _gone = True


def zygote_launch(launch: Launch, spec: SandboxSpec, config: dict) -> ZygoteHandle | None:
    """Start the candidate of `launch` through the zygote, confined as `config` says (what
    confine.py builds: adrs/sandbox/process.py's confine_config); None (nothing started) where
    there is no zygote, or it is gone."""
    control = _zygote_socket()
    argv = list(launch.argv)
    if control is None or argv[:3] != [sys.executable, "-I", "-B"] or len(argv) < 4:
        return None
    if not spec.limits.network:
        network_namespace_available()  # the probe's result travels in the environment
    env = dict(launch.env)
    if launch.channel_fd is not None:
        env[CHANNEL_FD_ENV] = str(CHANNEL_FD)
    tree = _home_tree(config["home"])
    message = {
        "argv": argv[3:],
        "confine": config,
        "home": str(launch.home),
        "home_tree": tree is not None,  # the last descriptor: the home, for a child whose root was built ahead
        "env": env,
        "limits": asdict(spec.limits),
        "cgroup": None if spec.cgroup is None else str(spec.cgroup.path),
        "drop_privileges": spec.drop_privileges,
        "limit_nproc": spec.limit_nproc,
        # a cold candidate inherits this worker's limits before it lowers them: so does a forked one
        "ceilings": {name: resource.getrlimit(getattr(resource, name))[1] for name in CEILINGS},
    }
    out = _open_capture(launch.stdout)
    err = _open_capture(launch.stderr)
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        channel = () if launch.channel_fd is None else (launch.channel_fd,)
        home = () if tree is None else (tree,)
        socket.send_fds(control, [json.dumps(message).encode()], [theirs.fileno(), out, err, *channel, *home])
    except OSError:
        mine.close()
        _forget_zygote()
        return None
    finally:
        theirs.close()
        os.close(out)
        os.close(err)
        if tree is not None:
            os.close(tree)
    reply = parse_reply(mine.recv(4096)) if _readable(mine.fileno(), REPLY_S) else None
    if reply is None or not isinstance(reply.get("pid"), int):
        mine.close()  # a child forked after all dies with this socket
        _forget_zygote()
        return None
    mine.setblocking(False)
    return ZygoteHandle(reply["pid"], mine, spec.cgroup, spec.limits)


def _home_tree(home: str) -> int | None:
    """A detached copy of the candidate's home (confine.open_tree), or None where this kernel
    cannot make one (the candidate's root is then built after its launch, home included)."""
    global _no_trees
    if _no_trees:
        return None
    try:
        return confine.open_tree(home)
    except OSError:
        _no_trees = True
        return None


def _readable(fd: int, timeout_s: float) -> bool:
    waiter = select.poll()  # not select(): any descriptor number
    waiter.register(fd, select.POLLIN)
    return bool(waiter.poll(max(timeout_s, 0.0) * 1000))


class ZygoteHandle(Handle):
    """A candidate the zygote forked: its status and CPU time come over `conn` once it was reaped."""

    def __init__(self, pid: int, conn: socket.socket, cgroup: PidsCgroup | None, limits: ProcessLimits):
        self.pid = pid
        self.conn = conn
        self.cgroup = cgroup
        self.cpu_limit_s = float(limits.cpu_seconds())
        self._lock = threading.Lock()

    def poll(self) -> int | None:
        with self._lock:
            if self.returncode is not None:
                return self.returncode
            if self.conn.fileno() < 0:  # released while it ran: the zygote killed it
                self.returncode = -signal.SIGKILL
                return self.returncode
            try:
                data = self.conn.recv(4096)
            except BlockingIOError:
                return None
            except OSError:
                data = b""
            reply = parse_reply(data)
            if reply is not None and isinstance(reply.get("status"), int):
                self.returncode = reply["status"]
                cpu = reply.get("cpu_s")
                self.cpu_used_s = float(cpu) if isinstance(cpu, (int, float)) else None
            else:  # the zygote is gone, and its children with it (PR_SET_PDEATHSIG)
                _forget_zygote()
                self.returncode = -signal.SIGKILL
                if self.cgroup is not None:
                    self.cgroup.kill_all()
            self.conn.close()
            return self.returncode

    def exit_fd(self) -> int | None:
        fd = self.conn.fileno()
        return fd if fd >= 0 else None

    def kill(self) -> None:
        # The zygote kills the group only while the pid is its unreaped child: no reused pid is hit.
        if self.returncode is None:
            with contextlib.suppress(OSError):
                self.conn.send(b"kill")
        if self.cgroup is not None:
            self.cgroup.kill_all()

    def wait(self, timeout: float) -> int | None:
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            fd = self.exit_fd()
            if fd is None:
                time.sleep(min(left, 0.005))
            else:
                _readable(fd, left)
        return self.returncode

    def release(self) -> None:
        self.kill()
        if self.returncode is None:
            with self._lock:
                self.conn.close()  # the zygote kills what is left of it
        if self.cgroup is not None:
            self.cgroup.remove()

    def abandon(self) -> None:
        """Close the socket and return: the zygote kills the child's group, reaps it and removes
        its pids cgroup (adrs/sandbox/zygote.py), off the caller's path."""
        with self._lock:
            if self.returncode is None and self.conn.fileno() >= 0:
                self.conn.close()
                self.returncode = -signal.SIGKILL
                return
        self.release()
