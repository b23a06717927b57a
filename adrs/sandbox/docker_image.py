"""The offline image the `docker` backend runs candidates in, and how to reach the daemon.

Owns: which daemon (ADRS_DOCKER_HOST, else DOCKER_HOST, else the default socket), which image
(ADRS_DOCKER_IMAGE, else `adrs-sandbox:latest`), and building that image without a registry:
a root skeleton (top-level folders, merged-/usr symlinks, /etc/passwd and /etc/group with
nobody, the host's /etc/ld.so.cache) imported as a tarball. Programs and libraries are not in the
image: the backend mounts the host's /usr and Python runtime read-only, as bwrap does.

    python -m adrs.sandbox.docker_image   # build (or rebuild) the image

Must not: start containers (it lists and removes them: `containers_where`, `remove_containers`).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

DEFAULT_IMAGE = "adrs-sandbox:latest"
DEFAULT_SOCKET = "unix:///var/run/docker.sock"
FOLDERS = ("usr", "tmp", "proc", "dev", "sys", "etc", "root", "home", "work", "run", "var", "opt", "mnt")
LINKS = {"bin": "usr/bin", "lib": "usr/lib", "lib64": "usr/lib64", "sbin": "usr/sbin"}
PASSWD = "root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
GROUP = "root:x:0:\nnogroup:x:65534:\n"


def docker_host() -> str:
    return os.environ.get("ADRS_DOCKER_HOST") or os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET


def image_name() -> str:
    return os.environ.get("ADRS_DOCKER_IMAGE") or DEFAULT_IMAGE


def client(timeout: int = 60) -> Any:
    """A docker SDK client for the configured daemon (raises ImportError without the SDK)."""
    import docker

    return docker.DockerClient(base_url=docker_host(), version="auto", timeout=timeout)


def containers_where(docker_client: Any, **filters: str) -> list[dict[str, Any]]:
    """The containers (running or not) that match `filters`, as the daemon's one list call gives them
    (keys "Id", "Names", "Labels", "State", ...).

    Not `containers.list`: docker-py inspects every container it lists, one call each, and a
    container removed in between (by its own engine, by a reaper) raises NotFound there, so a
    sweep racing another sweep would fail and leave the rest standing.
    """
    return docker_client.api.containers(all=True, filters=filters)


def remove_containers(docker_client: Any, containers: list[dict[str, Any]]) -> None:
    """Force-remove each container; one already gone (or failing) does not stop the others."""
    for container in containers:
        with contextlib.suppress(Exception):
            docker_client.api.remove_container(container["Id"], force=True)


def skeleton_tar() -> bytes:
    """The image's whole root filesystem, as an uncompressed tarball."""
    buffer = io.BytesIO()
    now = time.time()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name in FOLDERS:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o1777 if name == "tmp" else 0o755, now
            tar.addfile(info)
        for name, target in LINKS.items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.mtime = tarfile.SYMTYPE, target, now
            tar.addfile(info)
        files = {"etc/passwd": PASSWD.encode(), "etc/group": GROUP.encode()}
        cache = Path("/etc/ld.so.cache")
        if cache.exists():
            files["etc/ld.so.cache"] = cache.read_bytes()
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, now
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def build_image(docker_client: Any, name: str = DEFAULT_IMAGE) -> str:
    """Import the skeleton as `name` (no registry involved); returns the image id."""
    repository, _, tag = name.partition(":")
    docker_client.api.import_image_from_data(skeleton_tar(), repository=repository, tag=tag or "latest")
    return docker_client.images.get(name).id


def main() -> int:
    name = sys.argv[1] if len(sys.argv) > 1 else image_name()
    try:
        image = build_image(client(), name)
    except Exception as exc:  # noqa: BLE001 - a command-line tool: say what went wrong
        print(f"could not build {name} on {docker_host()}: {exc}", file=sys.stderr)
        return 1
    print(f"built {name} ({image[:19]}) on {docker_host()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
