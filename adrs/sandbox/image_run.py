"""One command in a fresh container of a folder's own image, confined, with fixed files copied in and out.

Owns: the container's shape for images built from a problem folder (images.py): `--network none`,
a memory limit with no swap, a CPU quota, a pids limit, rlimits on CPU time, open files and file
size, every capability dropped and no-new-privileges, no docker logs; the image's own root, user
and working directory (these folders' scripts write where their images put them), in a writable
layer that lives as long as the one evaluation; the host's /usr read-only only for images built on
the offline skeleton. The wall-clock deadline and the disk limit are enforced from outside: the
container is killed when the deadline passes, or when its writable layer outgrows `disk_mb`
(polled every DISK_POLL_S; Docker's own size option needs xfs with project quotas, which a daemon on
ext4 refuses, and the file-size rlimit bounds what one write can add between two polls). Inside,
the container's first process is a small shell (SUPERVISOR) that runs the command with its output
redirected and kills it GRACE_S after the deadline: a container whose engine was killed still ends
by itself (images need not ship `timeout`; `sh` and `sleep` they all have).

Files go in as one tar archive put at / before the container starts; results come out with
`copy_out`, which asks the daemon for one fixed path of the stopped container and accepts only a
regular file within a size limit: the daemon resolves the path inside the container's root, a
symbolic link comes back as a link (refused, never followed on the host), and nothing of the host
is opened on the container's say-so.

Labels: the evaluation's tag and a deadline, as the docker backend's containers carry (docker.py),
so `DockerBackend.cleanup(tag)` and `sweep_stale` remove what an evaluation or a killed engine left.

Must not: know about problem formats or scores (adrs/formats/container_stage.py does).
"""

from __future__ import annotations

import contextlib
import io
import tarfile
import time
from dataclasses import dataclass, field
from typing import Any

from adrs.sandbox.docker import GRACE_S, LABEL
from adrs.sandbox.reaper import ENGINE_LABEL, engine_id
from adrs.sandbox.views import SYSTEM_ROOTS

DISK_POLL_S = 1.0
STOP_GRACE_S = 30.0  # how long to wait for the daemon to report a killed container as exited
OUTPUT_DIR = "/adrs"  # where the command's stdout and stderr are written inside the container
STDOUT = f"{OUTPUT_DIR}/stdout"
STDERR = f"{OUTPUT_DIR}/stderr"
# PID 1 of the container: the command in the background, output redirected, killed at the limit.
# As PID 1 the shell cannot be killed from inside; when the command ends, it exits with its status.
SUPERVISOR = (
    'out=$1; err=$2; limit=$3; shift 3; "$@" >"$out" 2>"$err" & child=$!; '
    '(sleep "$limit"; kill -KILL "$child") >/dev/null 2>&1 & wait "$child"'
)


@dataclass(frozen=True)
class ContainerLimits:
    timeout_s: float
    memory_mb: int = 4096
    cpus: float = 1.0
    processes: int = 256
    disk_mb: int = 4096  # the container's writable layer, files copied in included
    open_files: int = 1024
    file_size_mb: int = 1024  # RLIMIT_FSIZE: any one file, stdout and stderr included

    def cpu_seconds(self) -> int:
        return int(self.timeout_s * max(1.0, self.cpus) * 2) + 5


@dataclass(frozen=True)
class ContainerJob:
    image: str
    argv: list[str]  # run as `sh -c` redirecting its output to STDOUT and STDERR
    limits: ContainerLimits
    files: bytes = b""  # a tar archive extracted at / before the start (`archive`: it holds OUTPUT_DIR)
    env: dict[str, str] = field(default_factory=dict)
    host_runtime: bool = False  # mount the host's /usr read-only (images built on the offline skeleton)
    user: str | None = None  # None: the image's own USER
    tag: str = ""


@dataclass
class ContainerOutcome:
    """How the container ended: `ended` is exited | timeout | disk | memory | failed_to_start."""

    ended: str
    status: int | None = None  # the command's exit status when it exited
    wall_s: float = 0.0
    message: str = ""  # failed_to_start: the daemon's answer
    files: dict[str, bytes] = field(default_factory=dict)  # copied out, regular files only
    refused: dict[str, str] = field(default_factory=dict)  # path -> why it was not copied out


def run(docker_client: Any, job: ContainerJob, copy: dict[str, int]) -> ContainerOutcome:
    """Run the job to its end, then copy out each path of `copy` (path -> most bytes accepted)."""
    started = time.monotonic()
    try:
        container = _create(docker_client, job)
    except Exception as exc:  # noqa: BLE001 - the daemon's refusal is the evaluation's failure
        return ContainerOutcome("failed_to_start", message=f"{type(exc).__name__}: {exc}")
    try:
        try:
            container.put_archive("/", job.files or archive({}))  # OUTPUT_DIR at least
            container.start()
        except Exception as exc:  # noqa: BLE001
            return ContainerOutcome(
                "failed_to_start", wall_s=time.monotonic() - started, message=f"{type(exc).__name__}: {exc}"
            )
        ended, status = _wait(docker_client, container, job.limits, started)
        outcome = ContainerOutcome(ended, status, time.monotonic() - started)
        for path, limit in copy.items():
            data, why = copy_out(container, path, limit)
            if data is not None:
                outcome.files[path] = data
            elif why:
                outcome.refused[path] = why
        return outcome
    finally:
        with contextlib.suppress(Exception):
            container.remove(force=True)


def _create(docker_client: Any, job: ContainerJob) -> Any:
    from docker.types import LogConfig, Ulimit

    limits = job.limits
    memory = f"{limits.memory_mb}m"
    fsize = limits.file_size_mb * 1024 * 1024
    volumes = {str(p): {"bind": str(p), "mode": "ro"} for p in SYSTEM_ROOTS} if job.host_runtime else {}
    limit = int(limits.timeout_s) + GRACE_S
    deadline = int(time.time()) + limit + 60
    return docker_client.containers.create(
        job.image,
        entrypoint=["/bin/sh", "-c", SUPERVISOR, "sh", STDOUT, STDERR, str(limit)],  # not the image's ENTRYPOINT
        command=job.argv,
        **({"user": job.user} if job.user else {}),
        network_mode="none",
        mem_limit=memory,
        memswap_limit=memory,
        nano_cpus=int(limits.cpus * 1e9),
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
        environment=job.env,
        # the engine's label: its reaper removes the container when the engine dies (adrs/sandbox/reaper.py)
        labels={LABEL: "1", "adrs.tag": job.tag, "adrs.deadline": str(deadline), ENGINE_LABEL: engine_id()},
        log_config=LogConfig(type="none"),
        hostname="adrs-sandbox",
        detach=True,
    )


def _wait(docker_client: Any, container: Any, limits: ContainerLimits, started: float) -> tuple[str, int | None]:
    """Wait for the exit, killing the container at the deadline or past the disk limit."""
    while True:
        left = limits.timeout_s - (time.monotonic() - started)
        if left <= 0:
            return _kill(container, "timeout")
        try:
            status = int(container.wait(timeout=min(left, DISK_POLL_S) + 0.5).get("StatusCode", -1))
        except Exception:  # noqa: BLE001 - the long poll timed out: the container still runs
            if _layer_bytes(docker_client, container) > limits.disk_mb * 1024 * 1024:
                return _kill(container, "disk")
            continue
        with contextlib.suppress(Exception):
            container.reload()
            if container.attrs["State"].get("OOMKilled"):
                return "memory", status
        return "exited", status


def _kill(container: Any, why: str) -> tuple[str, int | None]:
    with contextlib.suppress(Exception):
        container.kill()
    with contextlib.suppress(Exception):
        container.wait(timeout=STOP_GRACE_S)
    return why, None


def _layer_bytes(docker_client: Any, container: Any) -> int:
    try:
        rows = docker_client.api.containers(all=True, size=True, filters={"id": container.id})
    except Exception:  # noqa: BLE001 - unknown: do not kill for it
        return 0
    return int(rows[0].get("SizeRw") or 0) if rows else 0


def copy_out(container: Any, path: str, limit: int) -> tuple[bytes | None, str | None]:
    """The bytes of the regular file at `path` in the stopped container; else None and why (None: absent)."""
    import docker.errors

    try:
        stream, stat = container.get_archive(path)
    except docker.errors.NotFound:
        return None, None
    except Exception as exc:  # noqa: BLE001
        return None, f"could not be copied out ({type(exc).__name__})"
    try:
        if stat.get("linkTarget"):
            return None, "is a symbolic link (refused, never followed)"
        if int(stat.get("size", 0)) > limit:
            return None, f"is larger than {limit} bytes"
        archive = bytearray()
        for chunk in stream:
            archive += chunk
            if len(archive) > limit + (1 << 16):  # the tar headers add a little
                return None, f"is larger than {limit} bytes"
    finally:
        with contextlib.suppress(Exception):
            stream.close()
    try:
        with tarfile.open(fileobj=io.BytesIO(bytes(archive))) as tar:
            members = tar.getmembers()
            if len(members) != 1 or not members[0].isreg():
                return None, "is not a regular file"
            extracted = tar.extractfile(members[0])
            return (extracted.read(limit + 1) if extracted else b""), None
    except tarfile.TarError as exc:
        return None, f"came back as a broken archive ({exc})"


def archive(files: dict[str, bytes], folders: dict[str, str] | None = None, dirs: tuple[str, ...] = ()) -> bytes:
    """A tar archive to extract at /: `files` (container path -> bytes, mode 0644), the host folders
    of `folders` (container path -> host path, copied with their modes, symbolic links left out) and
    empty world-writable `dirs`, OUTPUT_DIR always among them."""
    from pathlib import Path

    buffer = io.BytesIO()
    now = time.time()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name in (OUTPUT_DIR, *dirs):
            info = tarfile.TarInfo(name.lstrip("/"))
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o1777, now
            tar.addfile(info)
        for target, host in (folders or {}).items():
            root = Path(host)
            for source in [root, *sorted(root.rglob("*"))]:
                if source.is_symlink() or not (source.is_dir() or source.is_file()):
                    continue
                name = (Path(target.lstrip("/")) / source.relative_to(root)).as_posix()
                info = tar.gettarinfo(str(source), arcname=name)
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                if source.is_dir():
                    tar.addfile(info)
                else:
                    with open(source, "rb") as handle:
                        tar.addfile(info, handle)
        for target, data in files.items():
            info = tarfile.TarInfo(target.lstrip("/"))
            info.size, info.mode, info.mtime = len(data), 0o644, now
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
