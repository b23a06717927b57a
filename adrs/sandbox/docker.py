"""The `docker` backend: each candidate in its own container (docker SDK, extra `adrs[docker]`).

Owns: the container's shape: `--network none`, a memory limit with no swap, a pids limit, a
read-only root with size-limited private tmpfs /tmp and /dev/shm, uid 65534 with every capability
dropped and no-new-privileges, rlimits on CPU, open files and file size, the host's /usr and Python
runtime (and the packages the trusted driver imports) read-only at their real paths, GPU devices
only for problems that declare them, and the candidate's home as the one writable folder.
stdout/stderr go to the files the harness created in the home before the container started
(bounded by the file-size rlimit), never to docker's logs. A session's channel reaches the
container through a Unix socket in its home that hands the descriptor over once (a container
cannot inherit one). The command runs under `timeout -s KILL`; each container carries labels (the
evaluation's tag, the engine's id, a deadline): the engine removes what an evaluation left behind,
the engine's reaper (reaper.py) removes what a killed engine left, whatever the candidate did to
the container's init, and stale ones are swept.

Must not: read results or know about problems.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

from adrs.sandbox.base import (
    CHANNEL_SOCKET_ENV,
    NOBODY_GID,
    NOBODY_UID,
    Backend,
    Handle,
    Launch,
    ProcessLimits,
    signal_from_shell_status,
)
from adrs.sandbox.docker_image import (
    DEFAULT_IMAGE,
    build_image,
    client,
    containers_where,
    docker_host,
    image_name,
    remove_containers,
)
from adrs.sandbox.reaper import ENGINE_ENV, ENGINE_LABEL
from adrs.sandbox.views import SYSTEM_ROOTS, gpu_devices, runtime_paths

LABEL = "adrs.sandbox"
REDIRECT = 'out=$1; err=$2; shift 2; exec "$@" >"$out" 2>"$err"'
GRACE_S = 10  # the in-container timeout fires this long after the harness's own limit
CHANNEL_SOCKET = "channel.sock"  # in the candidate's home, relative to its working directory


@functools.cache
def _client() -> Any:
    return client()


@functools.cache
def _probe() -> str | None:
    inherited = os.environ.get("ADRS_PROBE_DOCKER")
    if inherited is not None:
        return None if inherited == "1" else "the probe inherited from the engine failed"
    try:
        import docker  # noqa: F401
    except ImportError:
        return "the docker SDK is not installed (pip install 'adrs[docker]')"
    try:
        docker_client = _client()
        docker_client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the daemon means unavailable
        return f"no Docker daemon answers at {docker_host()} ({type(exc).__name__}); start dockerd or set DOCKER_HOST"
    name = image_name()
    try:
        docker_client.images.get(name)
    except Exception:  # noqa: BLE001
        if name != DEFAULT_IMAGE:
            return f"the image {name!r} is not present on {docker_host()} (build it, or unset ADRS_DOCKER_IMAGE)"
        try:
            build_image(docker_client, name)
        except Exception as exc:  # noqa: BLE001
            return f"the offline image {name!r} could not be built: {exc}"
    sweep_stale(docker_client)
    return None


def sweep_stale(docker_client: Any) -> None:
    """Remove sandbox containers whose deadline has passed (left by a killed engine)."""
    now = time.time()
    with contextlib.suppress(Exception):
        containers = containers_where(docker_client, label=LABEL)
        expired = [c for c in containers if float((c.get("Labels") or {}).get("adrs.deadline", "0")) < now]
        remove_containers(docker_client, expired)


class ContainerHandle(Handle):
    """A started container; a thread waits for it so that `poll` costs no API call."""

    def __init__(self, container: Any, limits: ProcessLimits, channel: _ChannelListener | None = None):
        self.container = container
        self.cpu_limit_s = float(limits.cpu_seconds())
        self._channel = channel
        self._status: int | None = None
        self._oom = False
        self._waiter = threading.Thread(target=self._wait, daemon=True)
        self._waiter.start()

    def _wait(self) -> None:
        try:
            status = int(self.container.wait().get("StatusCode", 137))
        except Exception:  # noqa: BLE001 - the container vanished: it was killed
            status = 137
        with contextlib.suppress(Exception):
            self.container.reload()
            self._oom = bool(self.container.attrs["State"].get("OOMKilled"))
        # A shell reports death by signal N as 128 + N; map it to -N like subprocess does.
        self._status = signal_from_shell_status(status)

    def poll(self) -> int | None:
        self.returncode = self._status
        return self.returncode

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.container.kill()

    def wait(self, timeout: float) -> int | None:
        self._waiter.join(timeout)
        return self.poll()

    def release(self) -> None:
        self.kill()
        if self._channel is not None:
            self._channel.close()
        self._waiter.join(5)
        with contextlib.suppress(Exception):
            self.container.remove(force=True)

    def exit_description(self) -> tuple[str, str]:
        if self._oom:
            return "memory", "killed by the container's memory limit"
        return super().exit_description()


def _channel_listener(launch: Launch) -> _ChannelListener:
    return _ChannelListener(launch.home)


class _ChannelListener:
    """A session channel for a container, which cannot inherit a descriptor: a Unix socket in the
    candidate's home (seen by that container only) on which the runner, before any candidate
    code runs, receives the channel's descriptor (SCM_RIGHTS); then the socket file is removed."""

    def __init__(self, home: Path):
        # Bound through a descriptor of the home: its path may exceed the 108 bytes of sun_path.
        self._dir = os.open(home, os.O_PATH | os.O_DIRECTORY)
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._socket.bind(f"/proc/self/fd/{self._dir}/{CHANNEL_SOCKET}")
        self._socket.listen(1)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def hand_over(self, channel_fd: int | None, timeout_s: float) -> None:
        assert channel_fd is not None
        copy = os.dup(channel_fd)  # the caller closes its own copy once launch() returns
        self._thread = threading.Thread(target=self._serve, args=(copy, timeout_s), daemon=True)
        self._thread.start()

    def _serve(self, copy: int, timeout_s: float) -> None:
        try:
            self._socket.settimeout(timeout_s)
            connection, _ = self._socket.accept()
            with connection:
                socket.send_fds(connection, [b"c"], [copy])
        except OSError:
            pass  # the container ended or never connected: the session sees the process end
        finally:
            os.close(copy)
            self.close()

    def close(self) -> None:
        with self._lock:
            self._socket.close()
            if self._dir < 0:
                return
            with contextlib.suppress(OSError):
                os.unlink(CHANNEL_SOCKET, dir_fd=self._dir)
            os.close(self._dir)
            self._dir = -1


class DockerBackend(Backend):
    name = "docker"
    instead = "Use --sandbox bwrap or process."
    passes_descriptors = False  # a container cannot inherit one (its session channel: CHANNEL_SOCKET)

    def unavailable_reason(self) -> str | None:
        return _probe()

    def launch(self, launch: Launch) -> Handle:
        from docker.types import LogConfig, Ulimit

        limits = launch.limits
        listener = _channel_listener(launch) if launch.channel_fd is not None else None
        env = launch.env if listener is None else {**launch.env, CHANNEL_SOCKET_ENV: CHANNEL_SOCKET}
        for path in [launch.home, *launch.home.rglob("*")]:
            os.chown(path, NOBODY_UID, NOBODY_GID)  # the container's user must write its home
        volumes = {
            str(p): {"bind": str(p), "mode": "ro"} for p in (*SYSTEM_ROOTS, *runtime_paths(), *launch.view.readonly)
        }
        volumes[str(launch.home)] = {"bind": str(launch.home), "mode": "rw"}
        deadline = int(limits.timeout_s) + GRACE_S
        command = ["/usr/bin/timeout", "-s", "KILL", str(deadline), "/bin/sh", "-c", REDIRECT, "sh"]
        command += [str(launch.stdout), str(launch.stderr), *launch.argv]
        memory = f"{limits.memory_mb}m"
        fsize = limits.file_size_mb * 1024 * 1024
        container = _client().containers.create(
            image_name(),
            command=command,
            user=f"{NOBODY_UID}:{NOBODY_GID}",
            network_mode="none",  # always, even where ProcessLimits.network asks for one
            read_only=True,
            tmpfs={"/tmp": f"size={limits.tmpfs_mb}m,mode=1777"},
            shm_size=limits.tmpfs_mb << 20,
            devices=[f"{p}:{p}:rwm" for p in gpu_devices()] if limits.gpus else [],
            mem_limit=memory,
            memswap_limit=memory,
            pids_limit=limits.processes,
            ulimits=[
                Ulimit(name="cpu", soft=limits.cpu_seconds(), hard=limits.cpu_seconds()),
                Ulimit(name="nofile", soft=limits.open_files, hard=limits.open_files),
                Ulimit(name="fsize", soft=fsize, hard=fsize),
                Ulimit(name="core", soft=0, hard=0),
            ],
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            volumes=volumes,
            working_dir=str(launch.home),
            environment=env,
            labels={
                LABEL: "1",
                "adrs.tag": launch.tag,
                ENGINE_LABEL: os.environ.get(ENGINE_ENV, ""),
                "adrs.deadline": str(int(time.time()) + deadline + 60),
            },
            log_config=LogConfig(type="none"),
            hostname="adrs-sandbox",
            detach=True,
        )
        try:
            container.start()
        except BaseException:
            with contextlib.suppress(Exception):
                container.remove(force=True)
            if listener is not None:
                listener.close()
            raise
        if listener is not None:
            listener.hand_over(launch.channel_fd, deadline)
        return ContainerHandle(container, limits, listener)

    def cleanup(self, tag: str) -> None:
        if not tag or _probe() is not None:
            return
        with contextlib.suppress(Exception):
            docker_client = _client()
            remove_containers(docker_client, containers_where(docker_client, label=f"adrs.tag={tag}"))
