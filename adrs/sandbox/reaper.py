"""The engine's reaper: what a killed engine leaves on the host is removed anyway.

Owns: one small process per engine process, started on first need, in a session of its own so it
outlives the engine (and a Ctrl-C of the terminal), reading a pipe whose only write end the engine
holds. The engine tells it, one line at a time, what it is about to leave behind: the evaluation
folders it mounted a size-limited tmpfs on (`mount PATH`, and `unmount PATH` once it removed it
itself) and the docker daemons it started containers on (`docker HOST`). When the pipe reaches end
of file (the engine exited, or was killed: SIGKILL included) the reaper removes every container
labelled with the engine's id on those daemons, whatever the candidate did to the container's
init (a frozen `timeout` included: the daemon kills the container from outside), detaches the
tmpfs mounts still listed and removes their folders, then exits. A container start that was in
flight when the engine died may land late, so containers are removed twice, a few seconds apart.
Workers and candidates of the process and bwrap backends need none of this: they die with the
engine (PR_SET_PDEATHSIG, PID namespaces).

    python -I -m adrs.sandbox.reaper ENGINE_ID   # started by `watch_*` below, never by hand

Must not: import the docker SDK before the engine is gone; touch anything the engine did not name.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time

ENGINE_ENV = "ADRS_ENGINE_ID"  # handed to workers, so their containers carry the engine's label
ENGINE_LABEL = "adrs.engine"
SECOND_SWEEP_S = 5.0
MNT_DETACH = 2


class _Reaper:
    """The engine side: starts the reaper process once, then tells it what to clean up."""

    def __init__(self) -> None:
        self.engine_id = f"{os.getpid()}-{secrets.token_hex(6)}"
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._pid: int | None = None
        self._process: subprocess.Popen | None = None  # kept: it outlives this engine by design

    def tell(self, line: str) -> None:
        with self._lock:
            if self._fd is None or self._pid != os.getpid():
                self._start()
            with contextlib.suppress(OSError):  # a reaper that is gone cannot be told; the sweep remains
                os.write(self._fd, (line + "\n").encode())

    def _start(self) -> None:
        read_fd, write_fd = os.pipe()  # both ends close on exec: no other child holds the write end
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-I", "-m", "adrs.sandbox.reaper", self.engine_id],
                stdin=read_fd,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                close_fds=True,
                cwd="/",
            )
        finally:
            os.close(read_fd)
        self._fd, self._pid = write_fd, os.getpid()


_REAPER = _Reaper()


def engine_id() -> str:
    """This engine process's id: the label its candidates' containers carry."""
    return _REAPER.engine_id


def watch_mount(path: str) -> None:
    _REAPER.tell(f"mount {path}")


def forget_mount(path: str) -> None:
    _REAPER.tell(f"unmount {path}")


def watch_docker(host: str) -> None:
    _REAPER.tell(f"docker {host}")


def _remove_containers(hosts: set[str], engine: str) -> None:
    try:
        import docker
    except ImportError:
        return
    from adrs.sandbox.docker_image import containers_where, remove_containers

    for host in hosts:
        with contextlib.suppress(Exception):
            client = docker.DockerClient(base_url=host, version="auto", timeout=30)
            remove_containers(client, containers_where(client, label=f"{ENGINE_LABEL}={engine}"))


def _unmount(path: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.umount2(os.fsencode(path), ctypes.c_int(MNT_DETACH))
    shutil.rmtree(path, ignore_errors=True)


def main(argv: list[str]) -> int:
    engine = argv[0]
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_IGN)  # only the end of the engine's pipe ends the reaper
    mounts: set[str] = set()
    hosts: set[str] = set()
    for raw in sys.stdin.buffer:
        verb, _, value = raw.decode(errors="replace").rstrip("\n").partition(" ")
        if verb == "mount":
            mounts.add(value)
        elif verb == "unmount":
            mounts.discard(value)
        elif verb == "docker" and value:
            hosts.add(value)
    if hosts:
        _remove_containers(hosts, engine)
    for path in sorted(mounts, key=len, reverse=True):
        _unmount(path)
    if hosts:
        time.sleep(SECOND_SWEEP_S)
        _remove_containers(hosts, engine)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
