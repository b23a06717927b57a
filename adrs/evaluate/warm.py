"""The engine side of warm workers: one pre-started server per problem forks each stage's worker.

Owns: starting a warm server (adrs/evaluate/warm_server.py) through the same sandbox launch path as
a cold worker (`popen_kwargs`: new session, PR_SET_PDEATHSIG, an empty network namespace, rlimits,
the scrubbed environment, a private folder), keeping one per problem and worker environment,
asking it for one worker per stage (the descriptors go over a SOCK_SEQPACKET control socket that
only the engine and the server hold), and `WarmWorker`, the handle the runner awaits like a
process (pid, exit status as the server reaped it). Whether a problem gets warm workers at all:
`warm_enabled` (the settings' switch, `[problem] warm_start`).

A server that is gone (killed, crashed, refused to fork) costs nothing but time: the stage that
met it runs cold (`WarmUnavailable` before its worker started, `WarmLost` after, when no result
came back), and the next stage starts a new server; after MAX_STARTS starts for one problem the
process stays cold for it, and says so once on stderr. `close_all` ends every server (the engine
calls it when a run ends; atexit too); a killed engine takes its servers with it (the control
socket reaches end of file, and PR_SET_PDEATHSIG).

Only from the main thread (a server's PR_SET_PDEATHSIG follows the thread that started it); from
another thread stages run cold.

Must not: read the request it forwards (the worker reads it from its stdin), import evaluator code.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from adrs.sandbox.base import ProcessLimits
from adrs.sandbox.cgroup import PidsCgroup
from adrs.sandbox.preload import NO_PRELOAD_ENV, PRELOAD_ALLOWANCE_MB, preload_turned_off
from adrs.sandbox.process import SandboxSpec, popen_kwargs
from adrs.sandbox.replies import parse_reply
from adrs.sandbox.zygote_launch import zygote_wanted

WARM_RESULT_FD = 3  # where a forked worker finds its result pipe (the request names it)
SETUP_FAILED = 125  # a forked worker that could not be set up exits with this before any worker code runs
MAX_STARTS = 4  # servers started for one problem before this process stays cold for it
FORK_REPLY_S = 60.0
KILLED_REPLY_S = 10.0  # a new server imports adrs first; a busy machine may take seconds
SERVER_CPU_S = 1 << 30  # RLIMIT_CPU of the server itself (it lives for the run); each worker gets its stage's
MAX_REQUEST_BYTES = 60_000  # the request is written into a pipe before the worker runs: one pipe buffer


class WarmUnavailable(RuntimeError):
    """No warm worker for this stage (no server, or it refused): the stage runs cold."""


class WarmLost(RuntimeError):
    """The server died while this stage's worker ran and no result came back: the stage runs cold."""


@dataclass(frozen=True)
class ServerKey:
    """What a server's workers share: the problem and the environment the runner gives them."""

    problem_root: str
    env: tuple[tuple[str, str], ...]
    memory_mb: int
    limit_nproc: bool
    zygote: bool = True  # whether its workers' candidates may be forked (ADRS_NO_ZYGOTE unset)
    preload: bool = True  # whether it imports numpy before forking workers (ADRS_NO_PRELOAD unset)
    evaluator: str = ""  # the evaluator whose top-level imports it preloads too (none: "")


class WarmServer:
    """One running server and the engine's end of its control socket."""

    def __init__(self, key: ServerKey, proc: subprocess.Popen, control: socket.socket, home: str):
        self.key = key
        self.proc = proc
        self.control = control
        self.home = home

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self, force: bool = False) -> None:
        """End the server; `force`: at once (one that does not answer, stopped say), else by closing
        its control socket, after which it kills its workers and exits."""
        with contextlib.suppress(OSError):
            self.control.close()
        if force:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        shutil.rmtree(self.home, ignore_errors=True)


class WarmWorker:
    """A worker forked by a server, awaited like asyncio's Process: `pid`, `returncode`, `wait()`.

    `stdin` is None: the request was written into the worker's stdin pipe before it was forked."""

    stdin = None

    def __init__(self, pid: int, conn: socket.socket, server: WarmServer):
        self.pid = pid
        self.conn = conn
        self.server = server
        self.returncode: int | None = None
        self.cpu_s: float | None = None
        self.lost = False  # the server went away before it reported the exit status
        self._reply: asyncio.Future[bytes] | None = None  # the one receive every waiter shares

    def _status_reply(self) -> asyncio.Future[bytes]:
        """The server's report of the exit, received once: a waiter that is cancelled (the runner
        stops waiting once the frame is in) leaves it to the next."""
        if self._reply is None:
            self._reply = asyncio.ensure_future(asyncio.get_running_loop().sock_recv(self.conn, 4096))
        return self._reply

    async def wait(self) -> int:
        if self.returncode is not None:
            return self.returncode
        data = await asyncio.shield(self._status_reply())
        return self._exited(data)

    async def wait_killed(self) -> int:
        """The status after the runner killed the worker: a server that cannot report it (stopped by
        an in-process candidate, say) is not waited for past KILLED_REPLY_S."""
        if self.returncode is not None:
            return self.returncode
        reply = self._status_reply()
        await asyncio.wait((reply,), timeout=KILLED_REPLY_S)
        if reply.done():
            data = reply.result()
        else:
            reply.cancel()
            _drop(self.server, force=True)  # it no longer answers: no later stage is sent to it
            data = b""
        return self._exited(data)

    def _exited(self, data: bytes) -> int:
        if self.returncode is not None:  # a second waiter on the same report
            return self.returncode
        reply = parse_reply(data)
        if reply is None or "status" not in reply:
            self.lost = True
            self.returncode = -signal.SIGKILL  # the worker died with its server (PR_SET_PDEATHSIG)
        else:
            self.returncode = int(reply["status"])
            self.cpu_s = float(reply.get("cpu_s", 0.0))
        self.conn.close()
        return self.returncode


_servers: dict[ServerKey, WarmServer] = {}
_starts: dict[str, int] = {}
_lock = threading.Lock()


def warm_enabled(settings_warm: bool, problem_warm: bool) -> bool:
    """Warm workers unless the settings (`--cold-start`) or the problem (`[problem] warm_start = false`) opt out."""
    return settings_warm and problem_warm


async def start_worker(
    problem_root: str,
    static_env: dict[str, str],
    env: dict[str, str],
    workdir: str,
    limits: ProcessLimits,
    cgroup: PidsCgroup | None,
    limit_nproc: bool,
    request: dict,
    fds: tuple[int, int, int],
    evaluator: str = "",
) -> WarmWorker:
    """Fork a worker for one stage. `env` is the worker's whole (scrubbed) environment, `fds` the
    result pipe's write end, stdout and stderr; the request goes to its stdin; `evaluator`: the
    file whose top-level imports the server imports before its first worker (adrs/evaluate/
    evaluator_imports.py), where any. Raises WarmUnavailable."""
    if threading.current_thread() is not threading.main_thread():
        # PR_SET_PDEATHSIG follows the thread that started the server: started from a thread that
        # ends (a pool's), the server would die with it, not with the engine.
        raise WarmUnavailable("warm servers are started from the main thread only")
    data = (json.dumps({**request, "result_fd": WARM_RESULT_FD}) + "\n").encode()
    if len(data) > MAX_REQUEST_BYTES:
        raise WarmUnavailable("the request does not fit in one pipe buffer")
    key = ServerKey(
        problem_root,
        tuple(sorted(static_env.items())),
        limits.memory_mb,
        limit_nproc,
        zygote_wanted(),
        not preload_turned_off(),
        "" if preload_turned_off() else evaluator,
    )
    server = _server_for(key, static_env, limits)
    message = {"env": env, "cwd": workdir, "cgroup": None if cgroup is None else str(cgroup.path),
               "limits": asdict(limits), "limit_nproc": limit_nproc}  # fmt: skip
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        os.write(write_end, data)
        os.close(write_end)
        write_end = -1
        try:
            socket.send_fds(server.control, [json.dumps(message).encode()], [theirs.fileno(), read_end, *fds])
        except OSError as exc:
            _drop(server)
            raise WarmUnavailable(f"the warm server is gone ({exc})") from exc
    finally:
        theirs.close()
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)
    mine.setblocking(False)
    try:
        async with asyncio.timeout(FORK_REPLY_S):
            reply = parse_reply(await asyncio.get_running_loop().sock_recv(mine, 4096))
    except TimeoutError:
        reply = None
    except BaseException:
        mine.close()
        raise
    if reply is None or "pid" not in reply:
        mine.close()
        _drop(server)
        why = "no reply" if reply is None else reply.get("refused", "refused")
        raise WarmUnavailable(f"the warm server did not fork a worker: {why}")
    return WarmWorker(int(reply["pid"]), mine, server)


def _server_for(key: ServerKey, static_env: dict[str, str], limits: ProcessLimits) -> WarmServer:
    with _lock:
        server = _servers.get(key)
        if server is not None and server.alive():
            return server
        if server is not None:
            _drop(server)
        starts = _starts.get(key.problem_root, 0)
        if starts >= MAX_STARTS:
            raise WarmUnavailable(f"{starts} warm servers were lost for this problem")
        _starts[key.problem_root] = starts + 1
        if starts + 1 == MAX_STARTS:
            sys.stderr.write(
                f"adrs: the warm evaluation server of {key.problem_root} was lost {starts} times;"
                " its evaluations start cold from now on\n"
            )
        server = _start(key, static_env, limits)
        _servers[key] = server
        return server


def _start(key: ServerKey, static_env: dict[str, str], limits: ProcessLimits) -> WarmServer:
    home = tempfile.mkdtemp(prefix="adrs-warm-")
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    memory_mb = limits.memory_mb + (PRELOAD_ALLOWANCE_MB if key.preload else 0)  # numpy's mappings fit beside
    server_limits = ProcessLimits(
        timeout_s=limits.timeout_s, memory_mb=memory_mb, processes=limits.processes, cpu_s=SERVER_CPU_S
    )
    # ADRS_NO_ZYGOTE and ADRS_NO_PRELOAD travel down by hand: the scrubbed environment keeps no
    # ADRS_ variable of ours
    extra_env = {
        **static_env,
        **({} if key.zygote else {"ADRS_NO_ZYGOTE": "1"}),
        **({} if key.preload else {NO_PRELOAD_ENV: "1"}),
    }
    spec = SandboxSpec(limits=server_limits, extra_env=extra_env, limit_nproc=key.limit_nproc)
    log = os.open(Path(home) / "server.log", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-I",
                "-m",
                "adrs.evaluate.warm_server",
                str(theirs.fileno()),
                *([key.problem_root, key.evaluator] if key.evaluator else []),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            close_fds=True,
            pass_fds=(theirs.fileno(),),
            **popen_kwargs(spec, home),
        )
    except BaseException:
        mine.close()
        shutil.rmtree(home, ignore_errors=True)
        raise
    finally:
        theirs.close()
        os.close(log)
    return WarmServer(key, proc, mine, home)


def _drop(server: WarmServer, force: bool = False) -> None:
    if _servers.get(server.key) is server:
        del _servers[server.key]
    server.close(force)


def server_pids() -> list[int]:
    """The servers this process runs now (for tests and benchmarks)."""
    return [s.proc.pid for s in _servers.values() if s.alive()]


def servers_cpu_s() -> float:
    """CPU time (user + system) of the live servers and the workers they reaped, and of their candidate
    zygotes and the candidates those reaped, from /proc: a worker's time reaches this process's
    RUSAGE_CHILDREN only once its server is reaped (benchmarks)."""
    total = 0
    for server in server_pids():
        try:  # the server's candidate zygote is its child until the server ends: counted apart
            children = Path(f"/proc/{server}/task/{server}/children").read_text().split()
        except OSError:
            children = []
        for pid in [server, *map(int, children)]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if pid == server or "adrs.sandbox.zygote" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace"):
                total += sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime, stime, cutime, cstime
    return total / os.sysconf("SC_CLK_TCK")


def close_all() -> None:
    """End every server (their workers die with them); the next run starts with a full budget of starts.

    Servers ended here were not lost, so they do not count against MAX_STARTS: a process that runs
    several runs in a row (the Python API, benchmarks/search_quality.py) stays warm for each of them."""
    with _lock:
        servers = list(_servers.values())
        _servers.clear()
        _starts.clear()
    for server in servers:
        server.close()


atexit.register(close_all)
