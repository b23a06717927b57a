"""What an evaluation needs on another node, and the function a Ray task runs there.

Owns: packing a problem directory into bytes once per run (it travels through Ray's object store,
so each node fetches it once), unpacking it into a per-node cache keyed by the problem's
fingerprint, and `evaluate_on_node`: load the problem there, write the program into a private
temporary file and run the stage cascade in the node's sandbox, exactly as the local executor does.
Both live in the node folder: the run's directory for a local Ray, else `<tmp>/adrs-node`.

Must not: import Ray (this module runs in plain worker processes too), touch the archive, or
import evaluator or candidate code (the sandboxed worker does that, as everywhere).
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import socket
import tarfile
import tempfile
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from adrs.archive.location import sqlite_path
from adrs.evaluate.result import Evaluation
from adrs.evaluate.runner import EvalSettings, evaluate_code
from adrs.problem import Problem, load_problem
from adrs.problemkit import failures

MAX_BUNDLE_BYTES = 64 << 20  # a problem directory is code and small tables; data belongs in --data
_SKIPPED = {"__pycache__", ".git", ".pytest_cache", ".ruff_cache"}


def pack_problem(root: Path) -> bytes:
    """The problem directory as a gzipped tar (caches and version-control folders left out)."""

    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        return None if _SKIPPED & set(Path(info.name).parts) else info

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(root, arcname=root.name, filter=keep)
    data = buffer.getvalue()
    if len(data) > MAX_BUNDLE_BYTES:
        raise ValueError(
            f"{root}: the problem directory packs to {len(data) >> 20} MiB (limit {MAX_BUNDLE_BYTES >> 20} MiB); "
            "keep large data out of it and pass it with --data (the same path on every node)"
        )
    return data


def unpack_problem(bundle: bytes, fingerprint: str, cache_root: Path) -> Path:
    """The unpacked problem directory on this node, unpacked once per fingerprint (atomic rename)."""
    target = cache_root / fingerprint
    if target.is_dir():
        return _only_child(target)
    cache_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{fingerprint}-", dir=cache_root))
    try:
        with tarfile.open(fileobj=io.BytesIO(bundle), mode="r:gz") as tar:
            tar.extractall(staging, filter="data")  # refuses absolute paths, links out, devices
        try:
            os.rename(staging, target)
        except OSError:  # another task on this node unpacked it first: use theirs
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return _only_child(target)


def _only_child(folder: Path) -> Path:
    children = [p for p in folder.iterdir() if p.is_dir()]
    if len(children) != 1:
        raise RuntimeError(f"{folder}: a problem bundle holds one directory, found {len(children)}")
    return children[0]


@lru_cache(maxsize=8)
def _load(root: Path) -> Problem:
    """A Ray worker process serves many tasks: parse each unpacked problem once."""
    return load_problem(root)


def node_settings(settings: EvalSettings) -> EvalSettings:
    """Settings to send to other nodes: no database URL (it may hold a password, and workers never
    write to the archive); a SQLite archive's path stays, so its files stay hidden from candidates
    on this machine."""
    url = settings.archive_url
    return replace(settings, archive_url=url if sqlite_path(url) is not None else None)


def evaluate_on_node(
    bundle: bytes,
    fingerprint: str,
    code: str,
    settings: EvalSettings,
    stage_names: list[str] | None,
    node_root: str | None,
) -> list[dict[str, Any]]:
    """Run the cascade of one program here; the evaluations as dicts (a Ray task's result)."""
    root = Path(node_root) if node_root else Path(tempfile.gettempdir()) / "adrs-node"
    problem = _load(unpack_problem(bundle, fingerprint, root / "problems"))
    stages = tuple(problem.stage(name) for name in stage_names) if stage_names else None
    if settings.data_dir and not Path(settings.data_dir).is_dir():
        first = (stages or problem.evolution_stages)[0].name
        message = (
            f"data folder {settings.data_dir} does not exist on node {socket.gethostname()}: give every node the "
            f"same path"
        )
        return [Evaluation.failure(first, failures.EVALUATOR, message).to_dict()]
    if settings.workdir_root and not Path(settings.workdir_root).is_dir():
        settings = replace(settings, workdir_root=None)
    # Candidates see neither other programs' files and the unpacked problems (the node root) nor
    # Ray's session folder on this node (logs of every task, sockets).
    settings = replace(settings, hidden_paths=(*settings.hidden_paths, str(root), *_ray_session_folders()))
    programs = root / "programs"  # a worker killed mid-evaluation leaves its file here, not in /tmp
    programs.mkdir(parents=True, exist_ok=True)
    evaluations = asyncio.run(evaluate_code(problem, code, settings, stages, directory=programs))
    return [e.to_dict() for e in evaluations]


def _ray_session_folders() -> list[str]:
    """Ray's temporary folder on this node, when this runs inside a Ray worker (else nothing)."""
    try:
        from ray._private import worker  # Ray has no public accessor for the node's temp folder

        node = worker._global_node
        return [node.get_temp_dir_path()] if node is not None else []
    except Exception:  # noqa: BLE001 - outside Ray, or a Ray without this attribute: nothing to add
        return []
