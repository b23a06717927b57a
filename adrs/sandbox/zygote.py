"""The candidate zygote: a pre-started interpreter that forks one confined candidate per launch.

Started by a warm server (adrs/evaluate/warm_server.py) as `python -I -B -m adrs.sandbox.zygote FD`
through the same launch path as the server itself (its own session, PR_SET_PDEATHSIG on the
server, an empty network namespace, the scrubbed environment, a private folder as cwd), with one
end of a SOCK_SEQPACKET socket on FD. The server hands a copy of the other end to every worker it
forks; a worker's `process` backend (adrs/sandbox/zygote_launch.py) sends one message per
candidate: what the cold launch would put on the command line and in the environment, the pids
cgroup and limits, and three or four descriptors (a socket of its own for the replies, stdout,
stderr, and an interactive session's channel where there is one). This process replies `{"pid":
N}` on that socket and, once it reaped the child, `{"status": CODE, "cpu_s": S}`, then removes the
child's pids cgroup; the worker sends `kill` on it to have the child's process group killed, and
closing it (the worker ended or was killed, or it let go of a candidate whose result it already
has: ZygoteHandle.abandon) kills the child too.

The child redoes, per candidate, everything the cold chain does (`unshare --pid --fork --kill-child
--mount --ipc --uts` of `python -I -B confine.pyc CONFIG runner.py REQUEST`, started with the
backend's preexec), in one process where the cold chain has two: it is born PID 1 of a new PID
namespace (this process unshares CLONE_NEWPID for its next child only and goes back to its own
namespace right after the fork), so no first child has to fork PID 1 and wait for it as unshare(1)
does; it dies with this process as that first child did (PR_SET_PDEATHSIG, checked by a pidfd of
this process: a parent outside a PID namespace reads as pid 0 inside it). It takes its own session,
a new empty network namespace, new IPC and UTS namespaces; then the descriptors, the pids cgroup,
the rlimits, the scrubbed environment in full, cwd and a new mount namespace. The first part needs
nothing of the launch, so each child is forked one launch ahead (the *spare*, made while the
previous candidate runs) and waits for its launch on a socket of its own: the next launch skips the
fork, the network namespace and the rest of that part (≈ 2.7 ms of wall time per confined
evaluation: docs/benchmarks.md, "Workers and candidates forked one launch ahead"). A copy of the
host's mount namespace made then would miss the evaluation's scratch tmpfs, which the engine mounts
on the host later; so where a detached mount attaches in another mount namespace (`trees_attach`,
probed once here), the spare builds the last launch's root ahead without the home (its own mount
namespace, confine.py's `build_root`), and at its launch attaches the home from the mount tree the
worker sent (open_tree(2) of that one folder) and finishes as the cold chain does (docs/benchmarks.md,
"Roots built ahead"); elsewhere the mount namespace comes after the launch. A launch that keeps the
network namespace it inherits where the spare has its own (or the other way round), or needs
another root than the one the spare built (`_root_for`), gets a child forked for it, as does every
launch once spares died SPARE_DEATHS times before their launch. The child returns out of the
server loop and runs confine.py as the cold chain does (`zygote_child.run`, with the config from
the launch message): the new root, no capabilities, then the runner as __main__ (compiled here,
once), whose seccomp filter comes before any driver or candidate code. What is saved is the
interpreter's start, `site` (the editable install's finder) and the imports (≈ 40 ms of CPU per
candidate), and the second fork (≈ 3 ms).

Why this is sound: this process never runs, imports or reads candidate, driver or evaluator code,
requests or payloads (only the launch message: paths, confine.py's config, the scrubbed
environment, limits); it holds
adrs and standard-library modules only, so every child starts from the same pristine copy, and
whatever a candidate does dies with its own address space. Every descriptor of this process is
closed in the child before it is set up (a spare's too: it holds only its own socket and the
standard streams until its launch replaces them). It is single-threaded (it refuses to fork
otherwise).
When every holder of the other end of FD is gone (the server and its workers), it kills its
children and exits; it also dies with the server (PR_SET_PDEATHSIG), and each child with it.

Must not: run or import candidate code in this process; fail open (a child that cannot be set up
exits with SETUP_FAILED before anything of the candidate's runs); start threads; fork
while its next child's PID namespace is a candidate's.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc

# What adrs/candidate/runner.py imports at every start: loaded once here, so each child finds them.
import importlib.util  # noqa: F401
import json
import os
import selectors
import signal
import socket
import struct  # noqa: F401
import sys
import types  # noqa: F401
from dataclasses import dataclass

from adrs.candidate import RUNNER_SCRIPT
from adrs.sandbox.cgroup import PIDS_CGROUP_ROOT, pids_cgroup_available
from adrs.sandbox.process import network_namespace_available
from adrs.sandbox.replies import discard, receive, refuse
from adrs.sandbox.zygote_child import (
    MAX_FDS,
    SETUP_FAILED,
    Job,
    fail,
    follow_parent,
    home_hidden,
    needs_own_network,
    own_namespaces,
    root_of,
    run,
    set_up,
    trees_attach,
    unshare,
    wait_for_launch,
)

CLONE_NEWPID = 0x20000000
SPARE_DEATHS = 3  # spares that may die before a launch (a machine that cannot set one up): then none

_libc = ctypes.CDLL(None, use_errno=True)


@dataclass
class _Child:
    """A launched candidate: the worker's reply socket, a pidfd, the pids cgroup it joined, and
    whether its root was built ahead."""

    conn: socket.socket
    pidfd: int
    cgroup: str | None
    built: bool = False


@dataclass
class _Spare:
    """A child forked ahead of its launch and set up as far as no launch message is needed (PID 1 of
    its PID namespace, its own session, new network, IPC and UTS namespaces); it waits on `link`
    for the message and its descriptors."""

    pid: int
    link: socket.socket  # this process's end
    pidfd: int
    own_network: bool  # whether it sits in a new, empty network namespace
    root: dict | None = None  # the root it built ahead (a launch's config less its home), if any


class _Zygote:
    def __init__(self, control: socket.socket, build_ahead: bool = False):
        self.control = control
        self.children: dict[int, _Child] = {}
        self.selector = selectors.DefaultSelector()
        self.selector.register(control, selectors.EVENT_READ, ("control", 0))
        # Its own PID namespace, to return to after each fork (see _fork_pid1), and a pidfd of
        # itself, by which a child that is PID 1 of its own namespace (its parent pid reads 0
        # there) tells whether this process died before the child could follow it.
        self.own_pid_namespace = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        self.own_pidfd = os.pidfd_open(os.getpid())
        self.spare: _Spare | None = None
        self.spare_deaths = 0  # spares that died before a launch: after SPARE_DEATHS, none are made
        self.build_ahead = build_ahead  # whether spares may build their root before the launch
        self.unfinished = 0  # children whose root was built ahead and that exited SETUP_FAILED

    def serve(self) -> Job | None:
        """Serve launches until every worker and the server are gone (None); in a forked
        candidate, return what it runs."""
        job = self._make_spare(network_namespace_available())
        if job is not None:
            return job
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
                elif what == "spare":
                    self._spare_died()
                else:
                    self._message(pid)

    def _accept(self) -> Job | bool:
        """One launch from a worker; False once every holder of the other end is gone."""
        received = receive(self.control, MAX_FDS)
        if received is None:
            return False
        data, fds = received
        if len(fds) not in (3, 4, 5):
            discard(fds)
            return True
        try:
            message = json.loads(data)
            root = self._root_for(message)
        except (ValueError, KeyError, TypeError, AttributeError):
            refuse(fds, "unreadable message")
            return True
        threads = len(os.listdir("/proc/self/task"))
        if threads != 1:  # fork only a single-threaded process
            refuse(fds, f"the zygote has {threads} threads")
            return True
        handed = self._hand_to_spare(message, root, data, fds)
        built = handed is not None and handed[2]
        if handed is not None:
            pid, pidfd, _ = handed
        else:
            sys.stdout.flush()
            sys.stderr.flush()
            try:
                pid = self._fork_pid1()
            except OSError as exc:
                refuse(fds, f"no PID namespace for the candidate: {exc}")
                return True
            if pid == 0:
                self._leave_zygote()
                own_namespaces(needs_own_network(message))
                return set_up(message, fds)
            try:
                pidfd = os.pidfd_open(pid)
            except OSError:  # cannot happen for an unreaped child; fail closed all the same
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                refuse(fds, "the candidate's process could not be watched")
                return True
        for fd in fds[1:]:
            os.close(fd)  # the child holds them now
        conn = socket.socket(fileno=fds[0])
        conn.setblocking(False)
        cgroup = message.get("cgroup")
        self.children[pid] = _Child(conn, pidfd, cgroup if isinstance(cgroup, str) else None, built)
        self.selector.register(pidfd, selectors.EVENT_READ, ("exit", pid))
        self.selector.register(conn, selectors.EVENT_READ, ("conn", pid))
        with contextlib.suppress(OSError):
            conn.send(json.dumps({"pid": pid}).encode())
        # The next launch's child is forked now, while this one runs: off the next launch's path
        # (set up for the network and the root this one got: a problem's candidates all get the same).
        return self._make_spare(needs_own_network(message), root) or True

    def _root_for(self, message: dict) -> dict | None:
        """The root a child built ahead would need for this launch (its config less the home), or
        None where none may be: this zygote cannot attach a home to such a child, the launch
        brought no mount tree of its home, its candidate changes uid (no mounts after that), or
        its home lies in a path the root hides."""
        config = message["confine"]
        if not isinstance(config, dict) or not isinstance(config.get("home"), str):
            raise ValueError("no confinement config")
        if not (self.build_ahead and message.get("home_tree")) or message.get("drop_privileges"):
            return None
        if message.get("cgroup") and not pids_cgroup_available():  # no folder to join it through
            return None
        return None if home_hidden(config) else root_of(config)

    def _hand_to_spare(
        self, message: dict, root: dict | None, data: bytes, fds: list[int]
    ) -> tuple[int, int, bool] | None:
        """Send the launch to the spare child (its pid, pidfd, whether its root was built), or None
        where there is no spare, it does not fit (the launch keeps the network namespace it
        inherits, or the other way round; its root was built ahead, for another root than this
        launch's `root`) or it is gone."""
        spare = self.spare
        if spare is None:
            return None
        self.spare = None
        self.selector.unregister(spare.pidfd)
        if spare.own_network == needs_own_network(message) and (spare.root is None or spare.root == root):
            try:
                socket.send_fds(spare.link, [data], fds)
                spare.link.close()
                return spare.pid, spare.pidfd, spare.root is not None
            except OSError:
                pass
        spare.link.close()  # the spare exits on end of file, killed all the same
        _kill_group(spare.pid)
        os.waitpid(spare.pid, 0)
        os.close(spare.pidfd)
        return None

    def _make_spare(self, own_network: bool, root: dict | None = None) -> Job | None:
        """Fork the spare child, in a new network namespace where `own_network`, its root built
        where `root` says one may be (in that child: its Job once a launch came). None in this
        process; no spare where this process is not single-threaded, spares kept dying, or the
        fork failed (launches fork their child then)."""
        if self.spare is not None or self.spare_deaths >= SPARE_DEATHS or len(os.listdir("/proc/self/task")) != 1:
            return None
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            pid = self._fork_pid1()
        except OSError:
            mine.close()
            theirs.close()
            return None
        if pid == 0:
            mine.close()
            self._leave_zygote()
            groups = own_namespaces(own_network, root)
            return wait_for_launch(theirs, root is not None, groups)
        theirs.close()
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:  # cannot happen for an unreaped child; fail closed all the same
            mine.close()
            _kill_group(pid)
            os.waitpid(pid, 0)
            return None
        self.spare = _Spare(pid, mine, pidfd, own_network, root)
        self.selector.register(pidfd, selectors.EVENT_READ, ("spare", pid))
        return None

    def _spare_died(self) -> None:
        spare, self.spare = self.spare, None
        if spare is None:
            return
        self.spare_deaths += 1
        self.selector.unregister(spare.pidfd)
        os.close(spare.pidfd)
        spare.link.close()
        os.waitpid(spare.pid, 0)

    def _fork_pid1(self) -> int:
        """Fork a child that is PID 1 of a new PID namespace, as `unshare --pid --fork` makes it,
        with one fork instead of two: unshare(CLONE_NEWPID) sets the namespace this process's next
        child is born in (this process stays in its own), and setns back to its own right after
        the fork, so no later child joins a candidate's namespace. A zygote that cannot go back
        exits: nothing else may be forked into a namespace a candidate holds."""
        unshare(CLONE_NEWPID)
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
            fail(f"the zygote could not return to its PID namespace: {os.strerror(ctypes.get_errno())}")

    def _leave_zygote(self) -> None:
        """First thing in a forked child: die with this process, and hold nothing of it."""
        try:
            follow_parent(self.own_pidfd)
            self._close_everything()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        except BaseException as exc:  # noqa: BLE001 - fail closed: nothing runs half set up
            fail(f"the candidate's sandbox could not be set up: {exc!r}")

    def _close_everything(self) -> None:
        """In a child: close every descriptor of this process through its object, so no finaliser
        closes a number the candidate reuses later."""
        for child in self.children.values():
            child.conn.close()
            os.close(child.pidfd)
        self.children.clear()
        self.selector.close()
        self.control.close()
        os.close(self.own_pid_namespace)  # a candidate must hold nothing of the zygote's namespace
        os.close(self.own_pidfd)
        if self.spare is not None:
            self.spare.link.close()
            os.close(self.spare.pidfd)
            self.spare = None

    def _reap(self, pid: int) -> None:
        child = self.children.pop(pid, None)
        if child is None:
            return
        conn = child.conn
        self.selector.unregister(child.pidfd)
        os.close(child.pidfd)
        _, status, usage = os.wait4(pid, 0)
        reply = {"status": os.waitstatus_to_exitcode(status), "cpu_s": usage.ru_utime + usage.ru_stime}
        if child.built and reply["status"] == SETUP_FAILED:
            # A root built ahead that could not be finished (or a candidate exiting with that code):
            # after SPARE_DEATHS of them, roots are built after the launch again.
            self.unfinished += 1
            self.build_ahead = self.build_ahead and self.unfinished < SPARE_DEATHS
        if conn.fileno() >= 0:
            with contextlib.suppress(KeyError):
                self.selector.unregister(conn)
            with contextlib.suppress(OSError):
                conn.send(json.dumps(reply).encode())
            conn.close()
        _remove_cgroup(child.cgroup)

    def _message(self, pid: int) -> None:
        """`kill` from the worker, or its socket closing (the worker is gone): kill the child."""
        child = self.children.get(pid)
        if child is None or child.conn.fileno() < 0:  # reaped, or its socket closed, earlier in this round
            return
        conn = child.conn
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
        if self.spare is not None:
            self.spare.link.close()
            _kill_group(self.spare.pid)
            os.waitpid(self.spare.pid, 0)
            self.spare = None
        for pid in list(self.children):
            _kill_group(pid)
        for pid, child in list(self.children.items()):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            _remove_cgroup(child.cgroup)


def _remove_cgroup(path: str | None) -> None:
    """A reaped child's pids cgroup, empty now (every task of its PID namespace died before it
    could be reaped): removed here, so a worker that let the child go without waiting for it
    (`ZygoteHandle.abandon`) leaves none behind. Only a group the backend makes (PidsCgroup.create:
    PIDS_CGROUP_ROOT/adrs/NAME) is removed; one still busy is left to the worker or the sweep of
    stale groups."""
    if path is None or os.path.dirname(path) != str(PIDS_CGROUP_ROOT / "adrs"):
        return
    if os.path.basename(path) in ("", ".", ".."):
        return
    with contextlib.suppress(OSError):
        os.rmdir(path)


def _kill_group(pid: int) -> None:
    for kill in (os.killpg, os.kill):  # killpg: its group; kill: before it made the group
        with contextlib.suppress(OSError):
            kill(pid, signal.SIGKILL)


def main() -> None:
    control = socket.socket(fileno=int(sys.argv[1]))
    control.setblocking(True)
    network_namespace_available()  # probed here once (from the environment), never in a child
    pids_cgroup_available()  # likewise (a child's probe would be named after its pid: 1 in each)
    build_ahead = trees_attach()  # likewise: whether a child's root may be built before its launch
    with open(RUNNER_SCRIPT, "rb") as f:
        runner = f.read()
    compiled = (runner, compile(runner, RUNNER_SCRIPT.name, "exec", dont_inherit=True))  # as the .pyc has it
    gc.freeze()  # what is loaded now is never collected: children do not copy its pages
    job = _Zygote(control, build_ahead).serve()
    if job is None:
        os._exit(0)
    run(job, compiled)


if __name__ == "__main__":
    main()
