"""The files `adrs data fetch` makes from public files, byte for byte the same on every machine.

Owns: the recipes that turn a fetched public file into the file a problem reads:
- `scored_traces`, `trace_pool`: the cant_be_late traces the evaluator scores (6 envs x 30 files),
  or all 8 envs x 300, repacked from the leaderboard's 3.6 MB tarball without the overhead level
  (every overhead folder holds the same files);
- `selected_traces`: the manifest of the scored files, each with its sha256;
- `multi_region_traces`: the cant_be_late_multi tarball without its macOS metadata (`._*` files
  and extended headers);
- `txn_workloads`: txn_scheduling's three workloads, read from the leaderboard's workloads.py
  with `ast` (never executed) and written as JSON.
Tarballs are GNU tar with sorted names, a fixed time, uid 0 and no names, gzip-compressed without
a name or time: the same input gives the same bytes. Nothing here downloads, executes fetched
code, or extracts to disk (members are read in memory).

Must not: talk to the network or decide where files go (fetch.py does).
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import re
import struct
import tarfile
import zlib
from collections.abc import Callable

MTIME = 1735689600  # 2025-01-01T00:00:00Z, every member's time in a repacked tarball
TRACE_ROOT = "real/ddl=search+task=48+overhead=0.02/real/"  # one overhead folder: the others hold the same files
TRACE_FILE = re.compile(r"^real/ddl=search\+task=48\+overhead=0\.02/real/([^/]+)/traces/random_start/(\d+\.json)$")
SCORED_ENVS = (
    "us-west-2a_k80_8",
    "us-west-2b_k80_1",
    "us-west-2b_k80_8",
    "us-west-2a_v100_1",
    "us-west-2a_v100_8",
    "us-west-2b_v100_1",
)
# The 30 files per env the leaderboard's evaluator scores (its rule: evenly spaced over the files
# in lexicographic order), in that order; the same numbers in every env.
SCORED_FILES = tuple(
    f"{n}.json"
    for n in (
        0,
        107,
        117,
        126,
        135,
        145,
        154,
        163,
        172,
        182,
        191,
        20,
        21,
        219,
        228,
        238,
        247,
        256,
        266,
        275,
        284,
        294,
        33,
        42,
        51,
        61,
        70,
        8,
        9,
        99,
    )
)
MANIFEST_HEAD = {
    "description": "Traces scored by the ADRS-Leaderboard cant_be_late evaluator (f856497). Per env: the 30 files "
    "chosen by the evaluator, in the order the evaluator iterates them (lexicographic file-name order). Each file is "
    "byte-identical under overhead=0.02, 0.05 and 0.10 in the upstream tarball.",
    "upstream_path_template": (
        "data/real/ddl=search+task=48+overhead={0.02|0.05|0.10}/real/{env}/traces/random_start/{file}"
    ),
    "packed_path_template": "real/{env}/traces/random_start/{file}",
    "env_order": list(SCORED_ENVS),
    "job_configs_hours": [{"duration": 48, "deadline": 52}, {"duration": 48, "deadline": 70}],
    "restart_overheads_hours": [0.02, 0.05, 0.1],
    "gap_seconds": 600,
    "ticks_per_trace": 554,
}
MULTI_FOLDER = "converted_multi_region_aligned/"
WORKLOAD_NAMES = ("WORKLOAD_1", "WORKLOAD_2", "WORKLOAD_3")


class DeriveError(ValueError):
    """A fetched file that does not hold what a recipe needs (the message names the member)."""


Member = tuple[str, int, bytes | None]  # name, mode, content (None: a directory)


def _gzip(raw: bytes, level: int) -> bytes:
    """gzip with no name and time 0 (as `gzip -n`), from zlib's deflate at `level`."""
    packer = zlib.compressobj(level, zlib.DEFLATED, -15, 9)
    body = packer.compress(raw) + packer.flush()
    extra_flags = 2 if level == 9 else 4 if level == 1 else 0
    header = b"\x1f\x8b\x08\x00" + struct.pack("<I", 0) + bytes((extra_flags, 3))
    return header + body + struct.pack("<II", zlib.crc32(raw), len(raw) & 0xFFFFFFFF)


def _tar(members: list[Member]) -> bytes:
    """A GNU tar of `members`, in the order given, owned by uid 0 with no names, all at MTIME."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for name, mode, content in members:
            info = tarfile.TarInfo(name)
            info.mtime, info.uid, info.gid, info.uname, info.gname, info.mode = MTIME, 0, 0, "", "", mode
            if content is None:
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            else:
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _with_folders(files: dict[str, bytes], file_mode: int, folder_mode: int) -> list[Member]:
    """Files and every folder above them, depth first with each folder's entries sorted by name."""
    folders = {"/".join(name.split("/")[:depth]) for name in files for depth in range(1, name.count("/") + 1)}
    entries: list[Member] = [(f, folder_mode, None) for f in folders] + [(n, file_mode, c) for n, c in files.items()]
    return sorted(entries, key=lambda entry: entry[0].split("/"))


def _traces(upstream: bytes) -> dict[tuple[str, str], bytes]:
    """(env, file) -> bytes of every trace file in one overhead folder of the leaderboard's tarball."""
    found = {}
    with tarfile.open(fileobj=io.BytesIO(upstream), mode="r:gz") as archive:
        for member in archive:
            match = TRACE_FILE.match(member.name)
            if match and member.isfile():
                handle = archive.extractfile(member)
                if handle is not None:
                    found[(match.group(1), match.group(2))] = handle.read()
    if not found:
        raise DeriveError(f"no trace file under {TRACE_ROOT} in the cant_be_late tarball")
    return found


def _scored(traces: dict[tuple[str, str], bytes]) -> dict[tuple[str, str], bytes]:
    missing = [f"{env}/{name}" for env in SCORED_ENVS for name in SCORED_FILES if (env, name) not in traces]
    if missing:
        raise DeriveError(f"the cant_be_late tarball lacks scored traces, e.g. {missing[0]}")
    return {(env, name): traces[(env, name)] for env in SCORED_ENVS for name in SCORED_FILES}


def _packed(traces: dict[tuple[str, str], bytes]) -> dict[str, bytes]:
    return {f"real/{env}/traces/random_start/{name}": content for (env, name), content in traces.items()}


def scored_traces(upstream: bytes) -> bytes:
    """real_traces_scored.tar.gz: the 180 scored traces (files rw-rw-r--, as upstream)."""
    return _gzip(_tar(_with_folders(_packed(_scored(_traces(upstream))), 0o664, 0o755)), 9)


def trace_pool(upstream: bytes) -> bytes:
    """real_traces_pool.tar.gz: every trace of every env, once (the held-out stage draws from it)."""
    return _gzip(_tar(_with_folders(_packed(_traces(upstream)), 0o644, 0o755)), 9)


def selected_traces(upstream: bytes) -> bytes:
    """selected_traces.json: the scored files per env, in the evaluator's order, with their sha256."""
    scored = _scored(_traces(upstream))
    selected = {
        env: [{"file": name, "sha256": hashlib.sha256(scored[(env, name)]).hexdigest()} for name in SCORED_FILES]
        for env in SCORED_ENVS
    }
    return json.dumps({**MANIFEST_HEAD, "selected": selected}, indent=1).encode()


def multi_region_traces(upstream: bytes) -> bytes:
    """cant_be_late_multi's real_traces.tar.gz: the 900 traces under ./converted_multi_region_aligned/,
    without macOS AppleDouble files (`._*`) or extended-attribute headers; modes as upstream."""
    members: list[Member] = []
    with tarfile.open(fileobj=io.BytesIO(upstream), mode="r:gz") as archive:
        for member in archive:
            name = member.name.removeprefix("./")
            if not name.startswith(MULTI_FOLDER.rstrip("/")) or any(part.startswith("._") for part in name.split("/")):
                continue
            if member.isdir():
                members.append((f"./{name}", member.mode, None))
            elif member.isfile():
                handle = archive.extractfile(member)
                members.append((f"./{name}", member.mode, handle.read() if handle is not None else b""))
    if not any(content is not None for _, _, content in members):
        raise DeriveError(f"no trace file under {MULTI_FOLDER} in the cant_be_late_multi tarball")
    members.sort(key=lambda entry: entry[0][2:].split("/"))
    return _gzip(_tar([(".", 0o755, None), *members]), 6)


def txn_workloads(upstream: bytes) -> bytes:
    """workloads.json: the three workloads of the leaderboard's workloads.py (module-level JSON
    strings, read with ast and never executed), each a list of {id, ops} in transaction order."""
    try:
        tree = ast.parse(upstream.decode("utf-8"))
    except (SyntaxError, UnicodeDecodeError) as exc:
        raise DeriveError(f"workloads.py does not parse: {exc}") from exc
    strings = {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    missing = [name for name in WORKLOAD_NAMES if name not in strings]
    if missing:
        raise DeriveError(f"workloads.py defines no string {missing[0]}")
    document = {
        "description": "Transaction workloads of the ADRS-Leaderboard txn_scheduling problem, converted by "
        "`adrs data fetch` from resources/workloads.py (three module-level JSON strings WORKLOAD_1..3, read with "
        "ast, never executed). Transaction i of a workload is the i-th entry (ids txn0..txn99 in order); 'ops' is "
        "the exact space-separated op string: r-<key> read, w-<key> write, '*' a non-key step. The evaluator "
        "indexes transactions by this order.",
        "source_sha256_of_json_string": {
            name: hashlib.sha256(strings[name].encode()).hexdigest() for name in WORKLOAD_NAMES
        },
        "workloads": {
            name: [{"id": key, "ops": ops} for key, ops in json.loads(strings[name]).items()] for name in WORKLOAD_NAMES
        },
    }
    return json.dumps(document, indent=1).encode()


RECIPES: dict[str, Callable[[bytes], bytes]] = {
    "scored_traces": scored_traces,
    "trace_pool": trace_pool,
    "selected_traces": selected_traces,
    "multi_region_traces": multi_region_traces,
    "txn_workloads": txn_workloads,
}


def tar_content_sha256(gzipped: bytes) -> str:
    """sha256 of a .tar.gz's uncompressed bytes: the same whichever deflate implementation packed it."""
    return hashlib.sha256(zlib.decompress(gzipped, 31)).hexdigest()
