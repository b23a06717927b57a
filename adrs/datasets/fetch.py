"""`adrs data`: fetch a problem's real data from its public sources, verify it, say where it is.

Owns: reading a source (https://, http://, file:// or a mirror folder laid out as
`<repo>/<commit>/<path>`) into memory with a size bound, checking its pinned sha256 before
anything is made from it, making each file (as is, or by its recipe), checking the result, and
writing it into `<root>/<problem>/` atomically (a temporary name, then a rename): an interrupted
fetch leaves no half file. Files already present and verified are kept. Also the status of each
problem's folder (present, verified, or what is wrong), which reads and never writes.

Must not: run at evaluation time (nothing downloads on its own: only `adrs data fetch` does), or
execute anything it fetched.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from adrs.datasets import derive
from adrs.datasets.catalog import CATALOG, RAW_GITHUB, DataFile, ProblemData, Source

TIMEOUT_S = 120  # per source: a 3.6 MB tarball on a slow link
SLACK_BYTES = 1 << 20  # a source may not exceed its pinned size by more than this before its hash is checked


class DataError(RuntimeError):
    """A fetch or check that cannot be done; the message names the problem, file or source."""


@dataclass(frozen=True)
class FileStatus:
    name: str
    path: Path
    state: str  # "verified", "missing", "unverified: <why>"
    derived: bool  # made here by a recipe (not a byte copy of the public file)
    optional: bool


@dataclass(frozen=True)
class ProblemStatus:
    problem: str
    about: str
    folder: Path
    files: list[FileStatus]

    @property
    def complete(self) -> bool:
        """Every required file is present and verified (optional ones may be missing)."""
        return all(f.state == "verified" or (f.optional and f.state == "missing") for f in self.files)

    @property
    def present(self) -> bool:
        return any(f.state != "missing" for f in self.files)


def entry(problem: str) -> ProblemData:
    try:
        return CATALOG[problem]
    except KeyError:
        raise DataError(
            f"{problem}: no public real data is known for this problem (problems with data: "
            f"{', '.join(sorted(CATALOG))})"
        ) from None


def verify_bytes(spec: DataFile, content: bytes) -> str | None:
    """Why `content` is not a good copy of `spec`, or None."""
    digest = hashlib.sha256(content).hexdigest()
    if digest == spec.sha256 or digest in spec.accepted:
        return None
    if spec.content_sha256 and spec.name.endswith(".tar.gz"):
        try:
            if derive.tar_content_sha256(content) == spec.content_sha256:
                return None
        except Exception:  # noqa: BLE001 - not gzip at all: reported below as a wrong sha256
            pass
    return f"sha256 {digest[:12]}… is not the pinned {spec.sha256[:12]}…"


def status(problem: str, root: Path) -> ProblemStatus:
    """What `<root>/<problem>/` holds of the problem's real data (reads, never writes)."""
    data = entry(problem)
    folder = root / problem
    files = []
    for spec in data.files:
        path = folder / spec.name
        if not path.is_file():
            state = "missing"
        else:
            why = verify_bytes(spec, path.read_bytes())
            state = "verified" if why is None else f"unverified: {why}"
        files.append(FileStatus(spec.name, path, state, spec.derived, spec.optional))
    return ProblemStatus(problem, data.about, folder, files)


def source_url(source: Source, mirror: str | None = None) -> str:
    """Where a source is read from: raw.githubusercontent.com, or `mirror` (a URL or a folder)."""
    if mirror is None:
        return f"{RAW_GITHUB}/{source.relative_url}"
    if "://" in mirror:
        return f"{mirror.rstrip('/')}/{source.relative_url}"
    return Path(mirror, source.relative_url).resolve().as_uri()


def read_source(source: Source, mirror: str | None = None) -> bytes:
    """The bytes of a public file, checked against its pinned sha256."""
    import urllib.request  # here: with http.client and email, ≈ 15 ms that `adrs check` and `run` never need

    url = source_url(source, mirror)
    limit = source.size + SLACK_BYTES
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:  # noqa: S310 - pinned URL, checked hash
            content = response.read(limit + 1)
    except (OSError, ValueError) as exc:  # urllib.error.URLError is an OSError
        raise DataError(f"{url}: cannot read it ({getattr(exc, 'reason', exc)})") from exc
    if len(content) > limit:
        raise DataError(f"{url}: larger than the pinned {source.size} bytes; refusing it")
    digest = hashlib.sha256(content).hexdigest()
    if digest != source.sha256:
        raise DataError(
            f"{url}: sha256 {digest} is not the pinned {source.sha256} ({source.size} bytes expected, "
            f"got {len(content)})"
        )
    return content


def fetch(
    problem: str,
    root: Path,
    mirror: str | None = None,
    force: bool = False,
    say: Callable[[str], None] = lambda _line: None,
) -> ProblemStatus:
    """Make `<root>/<problem>/` hold the problem's real data, verified; returns its status."""
    data = entry(problem)
    folder = root / problem
    before = status(problem, root)
    wanted = [spec for spec, seen in zip(data.files, before.files, strict=True) if force or seen.state != "verified"]
    sources: dict[Source, bytes] = {}
    for spec in wanted:
        if spec.source not in sources:
            say(f"{problem}: reading {source_url(spec.source, mirror)}")
            sources[spec.source] = read_source(spec.source, mirror)
        content = sources[spec.source]
        made = content if not spec.derived else derive.RECIPES[spec.recipe](content)
        why = verify_bytes(spec, made)
        if why is not None:
            raise DataError(f"{problem}/{spec.name}: made from {spec.source.relative_url}, but its {why}")
        _write(folder / spec.name, made)
        say(f"{problem}: wrote {folder / spec.name}" + (" (derived here: see docs/data.md)" if spec.derived else ""))
    return status(problem, root)


def _write(path: Path, content: bytes) -> None:
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(content)
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise DataError(f"{path}: cannot write it ({exc.strerror or exc}); choose another folder with --data") from exc
