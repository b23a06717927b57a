"""The interface every sandbox backend implements, and the records they share.

Owns: `ProcessLimits` (what one sandboxed process may use), `View` (what a candidate may see of the
host), `Launch` (one candidate process to start, optionally holding a descriptor of the trusted
side's: the channel of an interactive session, or the socket on which a one-shot run says its result
is in), `Handle` (a started one: poll, kill, release, abandon), `Backend` (a
way to start them, able to say why it is unavailable) and `SandboxUnavailable`.

Must not: know about problems, scores or results; start anything itself.
"""

from __future__ import annotations

import signal
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

NOBODY_UID = 65534
NOBODY_GID = 65534
# The runner (adrs/candidate/runner.py) lowers RLIMIT_NPROC to this variable's value, then drops it.
NPROC_ENV = "ADRS_CANDIDATE_NPROC"
# How a candidate finds its session channel: an inherited descriptor (process, bwrap) or a Unix
# socket in its home that hands the descriptor over once (docker, which cannot inherit one).
CHANNEL_FD_ENV = "ADRS_CHANNEL_FD"
CHANNEL_SOCKET_ENV = "ADRS_CHANNEL_SOCKET"


class SandboxUnavailable(RuntimeError):
    """A backend was asked for where it cannot run; the message says why and what to use instead."""


@dataclass(frozen=True)
class ProcessLimits:
    """Resource limits for one sandboxed process (and everything it forks)."""

    timeout_s: float = 60.0  # wall-clock limit, enforced from outside by the parent
    memory_mb: int = 4096  # RLIMIT_AS (docker: the container's memory limit)
    cpu_s: int | None = None  # RLIMIT_CPU; None = timeout_s rounded up plus a margin
    open_files: int = 256  # RLIMIT_NOFILE
    processes: int = 64  # the pids cgroup limit (docker: --pids-limit); RLIMIT_NPROC where it binds
    file_size_mb: int = 256  # RLIMIT_FSIZE: bounds any file the child writes, stdout files included
    network: bool = False  # False: no network at all (an empty network namespace)
    tmpfs_mb: int = 64  # each private tmpfs of the sandbox (/tmp, /dev/shm): RAM beside memory_mb
    gpus: bool = False  # True: the GPU device nodes are shown (problems that declare [resources] gpus)

    def cpu_seconds(self) -> int:
        return self.cpu_s if self.cpu_s is not None else int(self.timeout_s * 2) + 5


@dataclass(frozen=True)
class View:
    """What a candidate process may see besides its own private, writable home directory.

    `readonly`: host paths shown read-only at the same place (the Python runtime, packages the
    trusted driver imports). Used by backends that build a fresh root (bwrap, docker).
    `hidden`: host paths to cover (archive, problem directory, data, credentials). Used by the
    `process` backend, whose candidates otherwise see the host's whole (read-only) filesystem.
    """

    readonly: tuple[Path, ...] = ()
    hidden: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Launch:
    """One candidate process to start: `argv` runs inside the sandbox with `home` as cwd."""

    argv: list[str]
    home: Path
    limits: ProcessLimits
    stdout: Path
    stderr: Path
    env: dict[str, str]
    view: View = field(default_factory=View)
    tag: str = ""  # groups what one evaluation started, so the engine can clean up after it
    # The candidate's end of a socket pair the trusted side made (adrs/problemkit/session.py), or
    # of a one-shot run's socket (adrs/problemkit/harness.py): the backend hands it to the process,
    # which finds it through CHANNEL_FD_ENV or CHANNEL_SOCKET_ENV. The caller keeps ownership
    # (closes its copy after launch); None: no channel.
    channel_fd: int | None = None

    def channel_env(self) -> dict[str, str]:
        """The environment with the inherited channel named (backends that pass descriptors)."""
        if self.channel_fd is None:
            return self.env
        return {**self.env, CHANNEL_FD_ENV: str(self.channel_fd)}


def describe_exit(returncode: int) -> tuple[str, str]:
    """Map a trusted child's exit status to a failure kind and a human sentence (the worker's; a
    candidate's handle uses `Handle.exit_description`, which does not trust signals)."""
    if returncode >= 0:
        return "nonzero_exit", f"exited with status {returncode}"
    sig = -returncode
    name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
    if sig == signal.SIGXCPU or sig == signal.SIGKILL:
        return "timeout", f"killed by {name} (CPU-time or wall-clock limit)"
    if sig == signal.SIGXFSZ:
        return "output_limit", f"killed by {name}: wrote more than the file-size limit"
    if sig == signal.SIGSEGV:
        return "memory", f"killed by {name} (often the address-space limit)"
    return "nonzero_exit", f"killed by signal {name}"


def signal_from_shell_status(status: int) -> int:
    """A status of 128 + N (how a shell, bwrap or docker reports death by signal N) as -N."""
    return -(status - 128) if 128 < status < 160 else status


class Handle(ABC):
    """A started sandboxed process. `poll` never blocks; `kill` and `release` are idempotent."""

    returncode: int | None = None
    cpu_used_s: float | None = None  # CPU time of the tree as the kernel accounted it, where known
    cpu_limit_s: float | None = None  # the RLIMIT_CPU it ran under

    @abstractmethod
    def poll(self) -> int | None:
        """The exit status (negative: killed by that signal), or None while it runs."""

    @abstractmethod
    def kill(self) -> None:
        """Kill everything this launch started (grandchildren included)."""

    @abstractmethod
    def wait(self, timeout: float) -> int | None:
        """Wait up to `timeout` seconds for the exit status."""

    def release(self) -> None:
        """Free what the launch held (cgroup, container) once it has ended."""
        return None

    def abandon(self) -> None:
        """Kill everything this launch started and free what it held, for a caller that already has
        what it wanted of the process (its result). Blocks until it is gone, unless the backend can
        leave that to a trusted process of its own (the candidate zygote kills, reaps and removes)."""
        self.kill()
        self.wait(5)
        self.release()

    def exit_fd(self) -> int | None:
        """A descriptor that becomes readable when the process ends (a pidfd), or None: lets a
        caller sleep until then instead of polling (no CPU spent while a candidate runs)."""
        return None

    def exit_description(self) -> tuple[str, str]:
        """Failure kind and sentence for a candidate's exit. A signal is something the candidate can
        send itself, so only a limit the kernel measured counts as one: SIGKILL/SIGXCPU is a
        timeout when the accounted CPU time reached RLIMIT_CPU, otherwise a plain abnormal exit."""
        code = self.returncode if self.returncode is not None else -signal.SIGKILL
        reached_cpu = (
            self.cpu_used_s is not None and self.cpu_limit_s is not None and self.cpu_used_s >= self.cpu_limit_s - 0.5
        )
        if reached_cpu:
            return "timeout", f"reached its {self.cpu_limit_s:g} s CPU-time limit ({self.cpu_used_s:.1f} s used)"
        kind, sentence = describe_exit(code)
        if kind == "timeout":  # SIGKILL or SIGXCPU, with no CPU time at the limit
            return "nonzero_exit", f"killed by {signal.Signals(-code).name} (not at a limit the sandbox measured)"
        return kind, sentence


class Backend(ABC):
    """A way of starting candidate processes in isolation."""

    name: str = ""
    instead: str = ""  # what to use when this one is unavailable
    # Whether a launch's `channel_fd` reaches the process as an inherited descriptor (CHANNEL_FD_ENV)
    # rather than through a socket in its home: a one-shot run then gets one to say its result is in.
    passes_descriptors: bool = True

    @abstractmethod
    def unavailable_reason(self) -> str | None:
        """None when the backend works here; else a sentence saying why not."""

    @abstractmethod
    def launch(self, launch: Launch) -> Handle:
        """Start one candidate process."""

    def cleanup(self, tag: str) -> None:
        """Remove anything still left from the launches tagged `tag` (called by the engine)."""
        return None

    def require(self) -> None:
        reason = self.unavailable_reason()
        if reason is not None:
            raise SandboxUnavailable(f"sandbox backend {self.name!r} is unavailable: {reason}. {self.instead}")
