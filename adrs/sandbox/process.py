"""The `process` backend: a plain child process, limited and isolated with what the kernel offers.

Owns: resource limits (rlimits), a new session, an empty network namespace where the kernel allows
it, a scrubbed environment, an optional drop to an unprivileged uid, joining a pids cgroup, dying
with the parent (PR_SET_PDEATHSIG), killing the whole tree, the exit status and CPU time of the
child as the kernel reports them (wait4), and, for candidates, the *confinement* (fresh PID, mount,
IPC and UTS namespaces made by unshare(1), in which adrs/candidate/confine.py builds a new root
holding only what views.py shows, with a minimal /dev, and drops every capability before any
candidate code runs). Used by the runner to start evaluation workers (without confinement: the
trusted evaluator reads the problem and its data) and by the harness to start candidates.

Must not: read results, parse output or know anything about problems or scores.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import importlib.util
import json
import marshal
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from adrs.candidate import CONFINE_SCRIPT, RUNNER_SCRIPT
from adrs.sandbox.base import (
    NOBODY_GID,
    NOBODY_UID,
    Backend,
    Handle,
    Launch,
    ProcessLimits,
    View,
    signal_from_shell_status,
)
from adrs.sandbox.cgroup import PidsCgroup
from adrs.sandbox.views import DEVICE_NODES, gpu_devices, hidden_inside, root_links, shown_paths

CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
ORPHANED_AT_START = 125  # exit status of a child whose parent died before it could follow it
# unshare(1): a new PID namespace (the candidate cannot see or signal anything outside it, kill(-1)
# included), a private mount namespace for confine.py (which mounts the fresh /proc), its own SysV
# IPC and POSIX message queues (nothing carries over to the next candidate), its own host name; the
# child dies with unshare.
UNSHARE_ARGS = ("--pid", "--fork", "--kill-child", "--mount", "--ipc", "--uts", "--propagation", "private")

# Variables a child keeps from the parent environment; everything else (API keys included) is dropped.
_KEPT_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES")


@dataclass
class SandboxSpec:
    """Everything needed to start one sandboxed child."""

    limits: ProcessLimits
    drop_privileges: bool = False  # switch to uid/gid 65534 before exec
    cgroup: PidsCgroup | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    unshare_network: bool = True  # False where the command makes its own namespaces (bwrap)
    limit_nproc: bool = False  # lower RLIMIT_NPROC to limits.processes: see nproc_binds()


def nproc_binds(drop_privileges: bool, cgroup: PidsCgroup | None) -> bool:
    """Whether RLIMIT_NPROC may bound a sandboxed child's processes. The kernel counts every task of
    the child's real uid in the user namespace where it is set (bwrap's runner sets it inside the
    sandbox's own: adrs.sandbox.base.NPROC_ENV); set here, only a uid adrs switched the child to (65534)
    is the sandbox's alone, and then only where no pids cgroup bounds the child already (the limit
    is shared by every candidate running as that uid). Under the user's own uid it would count their
    whole session (a desktop runs hundreds of threads): with 64, no candidate could even start. It
    does not bind uid 0 at all."""
    return drop_privileges and cgroup is None


def candidates_switch_uid() -> bool:
    """Whether `process` candidates run as uid 65534 here: where that uid can run Python and they
    are not confined (the namespaces and mounts confine.py makes need root: a confined candidate
    keeps uid 0 without capabilities, which confine.py drops; were both asked for, the switch
    would come first and unshare(1) would fail for every candidate)."""
    return can_drop_privileges() and not confinement_available()


def scrubbed_env(home: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """A minimal environment: no API keys, no user configuration, deterministic hashing."""
    env = {k: os.environ[k] for k in _KEPT_ENV if k in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    threads = os.environ.get("ADRS_THREADS_PER_EVAL", "1")
    env.update(
        HOME=home,
        TMPDIR=home,
        PYTHONHASHSEED="0",
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONUNBUFFERED="1",
        OMP_NUM_THREADS=threads,
        MKL_NUM_THREADS=threads,
        OPENBLAS_NUM_THREADS=threads,
    )
    # Probe results travel down so workers do not start probe processes of their own.
    env["ADRS_PROBE_NETNS"] = "1" if network_namespace_available() else "0"
    env["ADRS_PROBE_DROP"] = "1" if can_drop_privileges() else "0"
    env["ADRS_PROBE_CONFINE"] = "1" if confinement_available() else "0"
    if extra:
        env.update(extra)
    return env


def _inherited_probe(name: str) -> bool | None:
    """A probe result handed down by the parent process (saves a process start per evaluation)."""
    value = os.environ.get(name)
    return None if value is None else value == "1"


@functools.cache
def network_namespace_available() -> bool:
    """Whether a child can unshare its network namespace (root, or unprivileged userns)."""
    inherited = _inherited_probe("ADRS_PROBE_NETNS")
    if inherited is not None:
        return inherited
    # The unshare happens between fork and exec, so any program proves it; true(1) starts in about
    # a millisecond where the interpreter takes ~30 ms, paid by every eval, check and run.
    program = shutil.which("true") or sys.executable
    argv = [program] if program != sys.executable else [program, "-I", "-c", "pass"]
    try:
        done = subprocess.run(argv, preexec_fn=_unshare_network, capture_output=True, timeout=20)
        return done.returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@functools.cache
def can_drop_privileges() -> bool:
    """Whether the interpreter (and the packages it needs) can run as uid 65534.

    On machines where Python lives under a private home directory (mode 0700) it cannot; then the
    child keeps the parent's uid and the other limits still apply.
    """
    if os.geteuid() != 0 or os.environ.get("ADRS_NO_DROP_PRIVILEGES") == "1":
        return False
    inherited = _inherited_probe("ADRS_PROBE_DROP")
    if inherited is not None:
        return inherited
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-c", "import json, numpy"],
            preexec_fn=_become_nobody,
            cwd="/",
            capture_output=True,
            timeout=30,
        )
        return done.returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@functools.cache
def confinement_available() -> bool:
    """Whether candidates can be confined (root and unshare(1)): probed by confining a real child."""
    if os.environ.get("ADRS_NO_CONFINE") == "1" or os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    inherited = _inherited_probe("ADRS_PROBE_CONFINE")
    if inherited is not None:
        return inherited
    with tempfile.TemporaryDirectory(prefix="adrs-confine-probe-") as home:
        shutil.copyfile(CONFINE_SCRIPT, Path(home) / "confine.py")
        config = Path(home) / "confine.json"
        config.write_text(json.dumps(confine_config(Path(home), View(), ProcessLimits())))
        (Path(home) / "probe.py").write_text(
            "import os, sys\n"
            "try:\n    open('/adrs-confine-probe', 'w')\nexcept OSError:\n    pass\nelse:\n    sys.exit(3)\n"
            "sys.exit(0 if os.listdir('/dev') and not os.path.exists('/dev/kmsg') else 4)\n"
        )
        try:
            done = subprocess.run(
                ["unshare", *UNSHARE_ARGS, sys.executable, "-I", f"{home}/confine.py", str(config), f"{home}/probe.py"],
                capture_output=True,
                timeout=30,
            )
        except (OSError, subprocess.SubprocessError):
            return False
    return done.returncode == 0


def confine_config(home: Path, view: View, limits: ProcessLimits) -> dict:
    """What confine.py builds for one candidate: the view (as bwrap shows it) and the home."""
    shown = shown_paths(view.readonly)
    return {
        "home": os.path.realpath(home),
        "shown": [[os.path.realpath(p), str(p)] for p in shown],  # (what, where): /etc/localtime is a link
        "links": [[target, str(link)] for target, link in root_links()],
        "hidden": [str(p) for p in hidden_inside(view.hidden, shown)],
        "device_nodes": list(DEVICE_NODES),
        "devices": [str(p) for p in gpu_devices()] if limits.gpus else [],
        "sys": limits.gpus,
        "tmpfs_mb": limits.tmpfs_mb,
    }


def script_bytecode(script: Path) -> bytes:
    """A .pyc image of `script` (the interpreter runs one named on its command line as it runs the
    source): confine.py and runner.py are compiled once per process, not at every candidate start
    (≈ 3 ms of CPU each). The code is named by the file's base name: tracebacks stay readable from
    the candidate's home, its working folder."""
    return _bytecode(script.read_bytes(), script.name)


def compile_scripts_here() -> None:
    """Compile the candidate's runner and confine.py in this process, for the processes it forks.

    A warm server (adrs/evaluate/warm_server.py) calls it before its first worker: each forked
    worker then finds both in `_bytecode`'s cache instead of compiling the runner again for its
    candidate (≈ 4 ms of CPU per evaluation, docs/benchmarks.md "Scripts compiled once per warm
    server"). Both are the package's own files; the harness's copy of runner.py in a candidate's
    home has the same bytes and name, so it is the same cache entry."""
    for script in (RUNNER_SCRIPT, CONFINE_SCRIPT):
        script_bytecode(script)


def answer_launch_questions_here() -> None:
    """Work out in this process what every candidate launch asks and no launch changes, for the
    processes it forks: the probes (each cached per process: the environment's hint, or a probe
    run here), the interpreter's folders a candidate's view shows, the seccomp filter, the
    scripts' bytecode.

    A warm server calls it before its first worker: its forked workers then find the answers in
    memory, where each would otherwise work them out again for its candidate (`shutil.which`,
    stale-cgroup sweeps, realpaths), in a fresh copy of the server's memory where every page it
    touches is copied first (≈ 0.6 ms of wall per confined evaluation: docs/benchmarks.md, "The
    evaluator's imports preloaded; launch questions answered once per warm server"). The answers
    depend on the environment only, which a server shares with its workers (its key holds it:
    adrs/evaluate/warm.py)."""
    from adrs.sandbox.cgroup import pids_cgroup_available
    from adrs.sandbox.seccomp import candidate_filter
    from adrs.sandbox.views import runtime_paths

    compile_scripts_here()
    candidates_switch_uid()  # and so can_drop_privileges and confinement_available
    network_namespace_available()
    pids_cgroup_available()
    runtime_paths()
    candidate_filter()


@functools.lru_cache(maxsize=8)
def _bytecode(source: bytes, name: str) -> bytes:
    code = compile(source, name, "exec", dont_inherit=True)  # not this module's __future__ flags
    # magic, then flags, mtime and size (unchecked when a .pyc is run as a script), then the code
    return importlib.util.MAGIC_NUMBER + bytes(12) + marshal.dumps(code)


def _unshare_network() -> None:
    if ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET) failed")


def _become_nobody() -> None:
    os.setgroups([])
    os.setgid(NOBODY_GID)
    os.setuid(NOBODY_UID)


def _preexec(spec: SandboxSpec, parent: int | None = None) -> None:
    """Runs in the child between fork and exec. Order matters: cgroup and namespace need root, and
    the death signal is set after the uid changes, which clear it.

    `parent`: the pid that forked this child. A parent killed before the prctl below sends no death
    signal, and the child would live on as an orphan: it exits instead.
    """
    limits = spec.limits
    if spec.cgroup is not None:
        spec.cgroup.join(os.getpid())
    if spec.unshare_network and not limits.network and network_namespace_available():
        _unshare_network()
    # A limit can only be lowered: a candidate started by a worker inherits the worker's limits.
    _lower_limit(resource.RLIMIT_AS, limits.memory_mb * 1024 * 1024)
    _lower_limit(resource.RLIMIT_CPU, limits.cpu_seconds())
    _lower_limit(resource.RLIMIT_NOFILE, limits.open_files)
    _lower_limit(resource.RLIMIT_FSIZE, limits.file_size_mb * 1024 * 1024)
    _lower_limit(resource.RLIMIT_CORE, 0)
    if spec.drop_privileges:
        _become_nobody()
    # Die with the parent. After the uid change: a change of uid or gid clears the death signal
    # (commit_creds), so set before it, a child running as nobody would outlive a killed worker.
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if parent is not None and os.getppid() != parent:
        os._exit(ORPHANED_AT_START)
    if spec.limit_nproc:
        _lower_limit(resource.RLIMIT_NPROC, limits.processes)


def _lower_limit(which: int, value: int) -> None:
    _soft, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, value))


def popen_kwargs(spec: SandboxSpec, home: str) -> dict:
    """Keyword arguments for subprocess.Popen / asyncio.create_subprocess_exec."""
    # Warm the cached probes in the parent: they must not run inside preexec_fn.
    if not spec.limits.network:
        network_namespace_available()
    return dict(
        preexec_fn=functools.partial(_preexec, spec, os.getpid()),
        start_new_session=True,
        env=scrubbed_env(home, spec.extra_env),
        cwd=home,
    )


def kill_tree(pid: int, cgroup: PidsCgroup | None = None) -> None:
    """Kill the child's whole process group, and every task of its cgroup when there is one."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    if cgroup is not None:
        cgroup.kill_all()


class PopenHandle(Handle):
    """A child started with subprocess.Popen in its own session (and pids cgroup when there is one).

    It is reaped with wait4, so the CPU time the kernel accounted to it (and to the descendants it
    reaped) is known: a SIGKILL counts as the CPU-time limit only when that time reached it."""

    def __init__(self, proc: subprocess.Popen, cgroup: PidsCgroup | None, limits: ProcessLimits | None = None):
        self.proc = proc
        self.cgroup = cgroup
        self.cpu_limit_s = None if limits is None else float(limits.cpu_seconds())
        self.shell_status = False  # True: the child reports death by signal N as 128 + N (bwrap)
        self._pidfd: int | None = None

    def poll(self) -> int | None:
        if self.returncode is not None:
            return self.returncode
        try:
            pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
        except ChildProcessError:  # reaped elsewhere: Popen knows the status, not the CPU time
            self.returncode = self.proc.poll()
            return self.returncode
        if pid == 0:
            return None
        code = os.waitstatus_to_exitcode(status)
        self.returncode = signal_from_shell_status(code) if self.shell_status else code
        self.proc.returncode = code
        self.cpu_used_s = usage.ru_utime + usage.ru_stime
        self._close_pidfd()
        return self.returncode

    def exit_fd(self) -> int | None:
        # The child is not reaped before poll() sees it end, so its pid cannot be reused meanwhile.
        if self._pidfd is None and self.returncode is None:
            try:
                self._pidfd = os.pidfd_open(self.proc.pid)
            except (AttributeError, OSError):  # Python or kernel without pidfds: callers poll
                self._pidfd = -1
        return None if self._pidfd is None or self._pidfd < 0 else self._pidfd

    def _close_pidfd(self) -> None:
        if self._pidfd is not None and self._pidfd >= 0:
            os.close(self._pidfd)
        self._pidfd = -1

    def kill(self) -> None:
        kill_tree(self.proc.pid, self.cgroup)

    def wait(self, timeout: float) -> int | None:
        deadline = time.monotonic() + timeout
        while self.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        return self.returncode

    def release(self) -> None:
        self._close_pidfd()
        self.kill()  # grandchildren left behind die with the run
        if self.cgroup is not None:
            self.cgroup.remove()


def _open_capture(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)


def popen_in_sandbox(launch: Launch, command: list[str], spec: SandboxSpec) -> PopenHandle:
    """Start `command` with the spec's preexec limits, stdout/stderr to the launch's files."""
    with open(_open_capture(launch.stdout), "wb") as out, open(_open_capture(launch.stderr), "wb") as err:
        kwargs = popen_kwargs(spec, str(launch.home))
        kwargs["env"] = launch.channel_env()
        kept = () if launch.channel_fd is None else (launch.channel_fd,)  # a session's channel
        try:
            proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=out, stderr=err, close_fds=True, pass_fds=kept, **kwargs
            )
        except BaseException:
            if spec.cgroup is not None:
                spec.cgroup.remove()
            raise
    return PopenHandle(proc, spec.cgroup, spec.limits)


class ProcessBackend(Backend):
    """Candidates as confined child processes of the worker; always available."""

    name = "process"
    instead = ""

    def unavailable_reason(self) -> str | None:
        return None

    def launch(self, launch: Launch) -> Handle:
        confine = confinement_available()
        drop = candidates_switch_uid()
        command = list(launch.argv)
        cgroup = PidsCgroup.create(launch.limits.processes)
        spec = SandboxSpec(
            limits=launch.limits, drop_privileges=drop, cgroup=cgroup, limit_nproc=nproc_binds(drop, cgroup)
        )
        if confine:
            config = confine_config(launch.home, launch.view, launch.limits)
            from adrs.sandbox.zygote_launch import zygote_launch

            try:
                forked = zygote_launch(launch, spec, config)  # the config travels in its message
            except BaseException:
                if spec.cgroup is not None:
                    spec.cgroup.remove()
                raise
            if forked is not None:
                return forked
            # python -I RUNNER ARGS -> unshare ... python -I confine.pyc CONFIG RUNNER ARGS, with the
            # runner's bytecode beside it (RUNNER + "c"), which confine.py runs instead of compiling it
            (launch.home / "confine.json").write_text(json.dumps(config))
            script = command.index(next(a for a in command[1:] if not a.startswith("-")))
            runner = Path(command[script])
            if runner.suffix == ".py" and runner.is_file():
                runner.with_suffix(".pyc").write_bytes(script_bytecode(runner))
            (launch.home / "confine.pyc").write_bytes(script_bytecode(CONFINE_SCRIPT))
            command = [
                "unshare", *UNSHARE_ARGS, *command[:script], str(launch.home / "confine.pyc"),
                str(launch.home / "confine.json"), *command[script:],
            ]  # fmt: skip
        if drop:
            _give_home_away(launch.home)
        return popen_in_sandbox(launch, command, spec)


def _give_home_away(home: Path) -> None:
    """The home and what the harness wrote in it, owned by the uid the candidate runs as."""
    for path in [home, *home.iterdir()]:
        os.chown(path, NOBODY_UID, NOBODY_GID)
