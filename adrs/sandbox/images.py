"""Images built from a problem folder's own Dockerfile: content-addressed, built once, errors in one line.

Owns: the content hash of a build context (every file's relative path, mode and bytes), the image
tag derived from it (`adrs-<kind>-<folder>:<hash>`, so a changed folder gets a new image and an
unchanged one is never rebuilt), building through the daemon the docker backend uses (the legacy
builder API of the docker SDK: no docker CLI or buildx needed), and turning a failed build into
`ImageBuildError`: one line saying what failed (a FROM image missing with no registry answering, a
network fetch in a RUN step, or the builder's own error) and the tail of the build log.

Whether an image runs on the host's /usr: a Dockerfile whose final stage is FROM the docker
backend's offline image (adrs-sandbox:latest, an empty root skeleton) has no programs of its own,
so its containers get the host's /usr read-only, as the backend's own containers do.

Must not: start containers (image_run.py does) or know about problem formats.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adrs.sandbox.docker_image import DEFAULT_IMAGE

LOG_TAIL_LINES = 25
HASH_CHARS = 16
# What a build log says when a step needed the network and found none (daemon pulls, apt, pip, curl).
NETWORK_SIGNS = (
    "no such host",
    "dial tcp",
    "i/o timeout",
    "tls handshake timeout",
    "temporary failure in name resolution",
    "temporary failure resolving",
    "could not resolve",
    "name or service not known",
    "network is unreachable",
    "failed to establish a new connection",
    "failed to fetch",
    "could not find a version that satisfies",
    "no matching distribution found",
)
# What it says when a registry answered but has no such image.
REGISTRY_REFUSALS = ("pull access denied", "repository does not exist", "manifest unknown", "not found: manifest")
_BUILT: dict[str, str] = {}  # tag -> image id, for this process
_LOCK = threading.Lock()


class ImageBuildError(RuntimeError):
    """A build that failed: `line` says why in one line, `tail` is the end of the build log."""

    def __init__(self, line: str, tail: str = ""):
        super().__init__(f"{line}\n{tail}".rstrip())
        self.line = line
        self.tail = tail


@dataclass(frozen=True)
class ImageRecipe:
    """How to build one folder's image: its context, its Dockerfile inside it, and the tag."""

    context: Path
    dockerfile: Path  # inside `context`
    tag: str
    content_hash: str
    build_timeout_s: float = 600.0

    @property
    def on_host_runtime(self) -> bool:
        """The final stage is FROM the offline skeleton: containers need the host's /usr."""
        return uses_offline_image(self.dockerfile)


def recipe(kind: str, context: Path, dockerfile: Path, build_timeout_s: float = 600.0) -> ImageRecipe:
    digest = context_hash(context)
    return ImageRecipe(context, dockerfile, f"adrs-{kind}-{_slug(context)}:{digest}", digest, build_timeout_s)


def context_hash(context: Path) -> str:
    """Hash of a build context: relative paths, modes (the executable bit matters) and contents."""
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(context):
        dirs.sort()
        for name in sorted(files):
            path = Path(root) / name
            relative = path.relative_to(context).as_posix()
            digest.update(relative.encode() + b"\0")
            if path.is_symlink():
                digest.update(b"link:" + os.readlink(path).encode())
                continue
            digest.update(oct(path.stat().st_mode & 0o777).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:HASH_CHARS]


def _slug(context: Path) -> str:
    # an `evaluator/` or `environment/` context is named after the folder that holds it
    name = context.parent.name if context.name in ("evaluator", "environment") else context.name
    return re.sub(r"[^a-z0-9_.-]+", "-", name.lower()).strip("-.")[:60] or "folder"


def _froms(dockerfile: Path) -> list[tuple[str, str]]:
    """(image, stage name) of each FROM line, in order; the stage name is empty when none is given."""
    out = []
    for line in _instructions(dockerfile):
        words = line.split()
        if not words or words[0].upper() != "FROM":
            continue
        args = [w for w in words[1:] if not w.startswith("--")]
        if args:
            out.append((args[0], args[2].lower() if len(args) >= 3 and args[1].upper() == "AS" else ""))
    return out


def from_images(dockerfile: Path) -> list[str]:
    """The images the Dockerfile's FROM lines name, stages built earlier in the file left out."""
    images, stages = [], set()
    for image, stage in _froms(dockerfile):
        if image.lower() not in stages:
            images.append(image)
        stages.add(stage)
    return images


def uses_offline_image(dockerfile: Path) -> bool:
    """Whether the final stage stands on the offline skeleton (following FROM <earlier stage>)."""
    froms = _froms(dockerfile)
    by_stage = {stage: image for image, stage in froms if stage}
    image = froms[-1][0] if froms else ""
    for _ in froms:  # each step goes one stage back
        if image.lower() not in by_stage:
            break
        image = by_stage[image.lower()]
    return bool(image) and _same_image(image, DEFAULT_IMAGE)


def _same_image(a: str, b: str) -> bool:
    def full(name: str) -> str:
        return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"

    return full(a) == full(b)


def _instructions(dockerfile: Path) -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    try:
        text = dockerfile.read_text()
    except (OSError, UnicodeDecodeError):
        return []
    joined, current = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        joined.append(current + line)
        current = ""
    if current:
        joined.append(current)
    return joined


def ensure_image(docker_client: Any, image: ImageRecipe) -> str:
    """The image's id, building it first when the daemon does not have the tag (once per process)."""
    with _LOCK:
        if image.tag in _BUILT:
            return _BUILT[image.tag]
        try:
            found = docker_client.images.get(image.tag)
        except Exception:  # noqa: BLE001 - not present (or unreadable): build it
            found = None
        _BUILT[image.tag] = found.id if found is not None else build(docker_client, image)
        return _BUILT[image.tag]


def build(docker_client: Any, image: ImageRecipe) -> str:
    """Build the image; raises ImageBuildError with a one-line reason and the log's tail."""
    log: list[str] = []
    error = ""
    dockerfile = image.dockerfile.relative_to(image.context).as_posix()
    try:
        stream = docker_client.api.build(
            path=str(image.context),
            dockerfile=dockerfile,
            tag=image.tag,
            rm=True,
            forcerm=True,
            decode=True,
            timeout=int(image.build_timeout_s),
        )
        for chunk in stream:
            if "stream" in chunk:
                log.extend(str(chunk["stream"]).splitlines())
            elif "status" in chunk:
                log.append(str(chunk["status"]))
            if "error" in chunk:
                error = str(chunk["error"]).strip()
                log.append(error)
    except Exception as exc:  # noqa: BLE001 - the daemon refused or the stream broke: report it
        error = f"{type(exc).__name__}: {exc}".strip()
        log.append(error)
    if error:
        tail = "\n".join(log[-LOG_TAIL_LINES:])
        raise ImageBuildError(failure_line(docker_client, image, error, log), f"build log tail:\n{tail}")
    return docker_client.images.get(image.tag).id


def failure_line(docker_client: Any, image: ImageRecipe, error: str, log: list[str]) -> str:
    """One line: what the build needed that it could not have, else the builder's error."""
    where = f"{image.dockerfile}: the image failed to build"
    missing = [name for name in from_images(image.dockerfile) if not _present(docker_client, name)]
    sign = _last_line_with(log, NETWORK_SIGNS)
    if missing and sign:
        return (
            f"{where}: it needs the internet to build: FROM {missing[0]} is not on this Docker daemon and no registry"
            f" answered ({_short(sign)}); pull or `docker load` it where a registry answers"
        )
    refusal = _last_line_with(log, REGISTRY_REFUSALS)
    if missing and refusal:
        return (
            f"{where}: FROM {missing[0]} is not on this Docker daemon and its registry has no such image"
            f" ({_short(refusal)})"
        )
    if sign:
        return f"{where}: it needs the internet to build: a step fetched from the network and failed ({_short(sign)})"
    return f"{where}: {_short(error)}"


def _last_line_with(log: list[str], signs: tuple[str, ...]) -> str:
    return next((line.strip() for line in reversed(log) if any(s in line.lower() for s in signs)), "")


def _present(docker_client: Any, name: str) -> bool:
    try:
        docker_client.images.get(name)
    except Exception:  # noqa: BLE001
        return False
    return True


def _short(text: str, limit: int = 240) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."
