"""What a candidate must see of the host to run at all, and what it must never see.

Owns: the fresh root every backend builds for a candidate (/usr, the merged-/usr links, the two
host files the loader and the clock need, the Python runtime's folders: base prefix, virtual
environment, the interpreter's real location); the closure of packages a trusted driver imports
from outside the runtime (for example `evaluators.cant_be_late` in an editable install, and no
other part of the project tree); the GPU device nodes; and the paths to hide where they lie inside
a folder that is shown (archive, credentials, the docker socket).

Must not: start processes or decide limits.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import os
import sys
from collections.abc import Iterable
from pathlib import Path

SYSTEM_ROOTS = (Path("/usr"),)  # mounted read-only by every backend that builds a fresh root
ROOT_LINKS = ("bin", "lib", "lib32", "lib64", "libx32", "sbin")  # merged-/usr symlinks, or folders
HOST_FILES = ("/etc/ld.so.cache", "/etc/localtime")  # read-only: how libraries are found, the time zone
DEVICE_NODES = ("null", "zero", "full", "random", "urandom")  # the /dev every candidate gets
GPU_DEVICE_GLOBS = ("nvidia*", "nvidia-caps/*", "dri/*")  # only for problems that declare [resources] gpus
# Credentials and keys under the engine user's home, hidden from `process` candidates.
HOME_SECRETS = (
    ".ssh",
    ".aws",
    ".azure",
    ".gnupg",
    ".netrc",
    ".docker",
    ".kube",
    ".pypirc",
    ".git-credentials",
    ".config",
)
# Root daemons' sockets give root to whoever connects (a uid-0 candidate passes the owner check).
SYSTEM_SECRETS = (
    "/etc/shadow", "/etc/gshadow", "/var/run/docker.sock", "/run/docker.sock", "/run/docker", "/var/run/docker",
    "/run/containerd", "/var/run/containerd",
)  # fmt: skip
SHARED_RUNTIME_FOLDERS = ("/run", "/var/run", "/tmp", "/var/tmp", "/")
MAX_SCANNED_FILES = 400


@functools.cache  # fixed for the life of the process; asked for at every candidate launch
def runtime_paths() -> tuple[Path, ...]:
    """Folders the interpreter needs (outside /usr): the base prefix, the venv, the binary's home."""
    found: list[Path] = []
    executable = Path(os.path.realpath(sys.executable))
    for path in (Path(sys.base_prefix), Path(sys.prefix), executable.parent.parent):
        path = Path(os.path.realpath(path))
        if path.is_dir() and not _covered(path, (*SYSTEM_ROOTS, *found)):
            found = [p for p in found if not _inside(p, path)] + [path]
    return tuple(found)


def root_links() -> list[tuple[str, Path]]:
    """(target, link) for each merged-/usr symlink at the root (bin -> usr/bin), to recreate as is."""
    return [(os.readlink(p), p) for p in (Path("/") / n for n in ROOT_LINKS) if p.is_symlink()]


def shown_paths(readonly: tuple[Path, ...] = ()) -> tuple[Path, ...]:
    """Everything a candidate sees read-only, at its real path: /usr, root folders that are not
    links, the loader's cache and the time zone, the Python runtime and `readonly`."""
    folders = [p for p in (Path("/") / n for n in ROOT_LINKS) if p.is_dir() and not p.is_symlink()]
    files = [Path(f) for f in HOST_FILES if os.path.exists(f)]
    return (*SYSTEM_ROOTS, *folders, *files, *runtime_paths(), *readonly)


def gpu_devices() -> tuple[Path, ...]:
    """The host's GPU device nodes (NVIDIA, DRI), for candidates of problems that declare GPUs."""
    dev = Path("/dev")
    return tuple(sorted(p for pattern in GPU_DEVICE_GLOBS for p in dev.glob(pattern) if not p.is_dir()))


def hidden_inside(hidden: tuple[Path, ...], visible: tuple[Path, ...]) -> tuple[Path, ...]:
    """The hidden paths that lie inside a shown folder (and so must be covered there)."""
    return tuple(p for p in hidden if _covered(p, visible) and os.path.lexists(p))


def _inside(path: Path, folder: Path) -> bool:
    # On the strings, not `folder in path.parents`: the same answer for the normalised paths Path
    # holds, at a fraction of the cost (this runs hundreds of times per candidate launch).
    if path == folder:
        return True
    inner, outer = str(path), str(folder)
    if outer == ".":
        return not path.is_absolute()
    return inner.startswith(outer if outer.endswith("/") else outer + "/")


def _covered(path: Path, roots: Iterable[Path]) -> bool:
    return any(_inside(path, root) for root in roots)


def driver_import_paths(driver: str | os.PathLike, visible: tuple[Path, ...] = ()) -> tuple[Path, ...]:
    """Files and folders of the modules `driver` imports (transitively) from outside `visible`.

    For `from evaluators.cant_be_late.episode import run_payload` in an editable install this is
    evaluators/__init__.py and the folder evaluators/cant_be_late/, not the rest of the tree.
    Only modules actually imported are followed (not every file of an exposed folder). What
    `remember_driver_view` worked out for this very file (same identity) is taken as it is.
    """
    if _remembered and not visible:
        known = _remembered.get(_file_key(driver))
        if known is not None:
            return known
    visible = (*SYSTEM_ROOTS, *runtime_paths(), *visible)
    exposed: list[Path] = []
    queue: list[tuple[Path, str]] = [(Path(driver), "")]
    scanned: set[Path] = set()
    while queue and len(scanned) < MAX_SCANNED_FILES:
        source, package = queue.pop()
        if source in scanned:
            continue
        scanned.add(source)
        for name in _imported_names(source, package):
            origin = _origin(name)
            if origin is None or _covered(origin, visible):
                continue
            for path in _module_paths(name):
                if not _covered(path, (*visible, *exposed)):
                    exposed = [p for p in exposed if not _inside(p, path)] + [path]
            is_package = origin.name == "__init__.py"
            queue.append((origin, name if is_package else name.rpartition(".")[0]))
    return tuple(exposed)


def remember_driver_view(driver: str | os.PathLike) -> None:
    """Work out `driver_import_paths(driver)` now and keep it for this process and those it forks,
    for as long as the file keeps its identity (device, inode, size, mtime). A warm server does it
    for its problem's drivers before its first worker (adrs/evaluate/evaluator_imports.py): each
    worker would otherwise parse the driver and every module it imports from the project again, at
    each stage (2-14 ms for the built-in problems' drivers). An edit to a module the driver imports
    during a run is seen by the next run, as the server's preloaded modules are."""
    key = _file_key(driver)
    if key is not None:
        _remembered[key] = driver_import_paths(driver)


_remembered: dict[tuple, tuple[Path, ...]] = {}


def _file_key(path: str | os.PathLike) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (os.path.realpath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _imported_names(source: Path, package: str) -> set[str]:
    """Absolute names of the modules `source` imports (`from a import b` also tries a.b)."""
    try:
        tree = ast.parse(source.read_text(), str(source))
    except (OSError, SyntaxError, ValueError):
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join([*parts, base] if base else parts)
            if not base:
                continue
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return {n for n in names if n.split(".")[0] not in sys.stdlib_module_names}


def _origin(name: str) -> Path | None:
    """The file a module is loaded from (a package's __init__.py), or None."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError, AttributeError):
        return None
    if spec is None or not spec.origin or spec.origin in ("built-in", "frozen") or not os.path.exists(spec.origin):
        return None
    return Path(spec.origin)


def _module_paths(name: str) -> list[Path]:
    """For a.b.c: a's __init__.py (if any) and a.b's folder or file; for a: its folder or file."""
    parts = name.split(".")
    out: list[Path] = []
    top = _find(parts[0])
    if top is None:
        return out
    if len(parts) == 1:
        return [top]
    init = top / "__init__.py"
    if top.is_dir() and init.exists():
        out.append(init)
    second = _find(".".join(parts[:2]))
    if second is not None:
        out.append(second)
    return out


def _find(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError, AttributeError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        locations = list(spec.submodule_search_locations)
        return Path(locations[0]) if locations else None
    if spec.origin and spec.origin not in ("built-in", "frozen") and os.path.exists(spec.origin):
        return Path(spec.origin)
    return None


def secret_paths() -> tuple[Path, ...]:
    """Credentials of the engine's user and the system that a `process` candidate must not read."""
    return tuple(Path(p) for p in secret_path_names())


def secret_path_names() -> list[str]:
    """`secret_paths` as strings, looked for again at every call (the runner asks once per stage)."""
    return [p for p in _secret_candidates(os.path.expanduser("~")) if os.path.lexists(p)]


@functools.lru_cache(maxsize=8)
def _secret_candidates(home: str) -> tuple[str, ...]:
    return (*(os.path.join(home, name) for name in HOME_SECRETS), *SYSTEM_SECRETS)


def socket_folder(socket_path: str) -> Path:
    """What to hide for a daemon's socket: its private folder (a dockerd started with its own
    socket, data and exec roots keeps containerd's socket beside it), else the socket alone."""
    path = Path(socket_path)
    return path.parent if str(path.parent) not in SHARED_RUNTIME_FOLDERS else path
