"""The real AWS spot-availability traces: reading the tarballs and choosing the scored files.

Owns: reading `real_traces_scored.tar.gz` / `real_traces_pool.tar.gz` (members read directly with
tarfile, nothing extracted), the leaderboard's selection rule (30 evenly spaced files per env,
checked against `selected_traces.json` when present) and the held-out choice (files the leaderboard
never scores, from the pool, including two envs it never uses).

Must not: copy data into the project, fall back silently to synthetic data, or know about stages.
"""

from __future__ import annotations

import json
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

from evaluators.cant_be_late import rules

SCORED_TARBALL = "real_traces_scored.tar.gz"
POOL_TARBALL = "real_traces_pool.tar.gz"
MANIFEST = "selected_traces.json"

# The leaderboard's environments, in its order; the pool also holds two it never scores.
SCORED_ENVS = (
    "us-west-2a_k80_8",
    "us-west-2b_k80_1",
    "us-west-2b_k80_8",
    "us-west-2a_v100_1",
    "us-west-2a_v100_8",
    "us-west-2b_v100_1",
)
POOL_ONLY_ENVS = ("us-west-2a_k80_1", "us-west-2b_v100_8")
TRACES_PER_ENV = 30  # the leaderboard's TRACE_TARGET
HOLDOUT_TRACES_PER_ENV = 15
_MEMBER = re.compile(r"^real/([^/]+)/traces/random_start/([^/]+\.json)$")


@dataclass(frozen=True)
class Trace:
    env: str
    name: str  # the file name ("107.json") or a synthetic id
    bits: str  # one character per 600 s tick: "1" = spot NOT available (the files' convention)
    # Where the window starts on its env's underlying trace (ticks; the file's metadata.start_time):
    # real windows of one env overlap, so the tick-by-tick feed (feed.py) runs them on that clock.
    # Synthetic traces are independent draws and all start at 0.
    start: int = 0


def read_tarball(path: Path) -> dict[str, dict[str, tuple[str, int]]]:
    """env -> file name -> (bits, start tick on the env's underlying trace), for every trace file."""
    traces: dict[str, dict[str, tuple[str, int]]] = {}
    with tarfile.open(path, "r:gz") as archive:
        for member in archive:
            match = _MEMBER.match(member.name)
            if not match or not member.isfile():
                continue
            record = json.load(archive.extractfile(member))  # type: ignore[arg-type]
            gap = record.get("metadata", {}).get("gap_seconds")
            if gap != rules.GAP_SECONDS:
                raise ValueError(f"{path}:{member.name}: gap_seconds {gap!r}, expected {rules.GAP_SECONDS:g}")
            bits = "".join("1" if value else "0" for value in record["data"])
            start = record["metadata"].get("start_time")
            if not isinstance(start, int) or isinstance(start, bool) or start < 0:
                raise ValueError(f"{path}:{member.name}: metadata.start_time {start!r}, expected a tick index")
            traces.setdefault(match.group(1), {})[match.group(2)] = (bits, start)
    return traces


def select_evenly(names: list[str], count: int) -> list[str]:
    """The leaderboard's rule: `count` evenly spaced items (round-half-even), kept increasing."""
    if len(names) <= count:
        return list(names)
    last = len(names) - 1
    chosen, previous = [], -1
    for j in range(count):
        index = min(max(round(j * last / max(count - 1, 1)), previous + 1), last)
        chosen.append(names[index])
        previous = index
    return chosen


def _eligible(files: dict[str, tuple[str, int]]) -> list[str]:
    """File names in lexicographic order whose trace covers the largest deadline."""
    needed = max(rules.DEADLINES_HOURS) * 3600 / rules.GAP_SECONDS
    return [name for name in sorted(files) if len(files[name][0]) + 1e-9 >= needed]


def _trace(env: str, name: str, found: tuple[str, int]) -> Trace:
    return Trace(env, name, found[0], found[1])


def _open_any(folder: Path) -> dict[str, dict[str, tuple[str, int]]]:
    for name in (SCORED_TARBALL, POOL_TARBALL):
        if (folder / name).exists():
            return read_tarball(folder / name)
    raise FileNotFoundError(f"{folder} holds neither {SCORED_TARBALL} nor {POOL_TARBALL}")


def scored_traces(folder: Path) -> dict[str, list[Trace]]:
    """The 30 traces per env the leaderboard scores, in its order (same rule on either tarball)."""
    files = _open_any(folder)
    chosen: dict[str, list[Trace]] = {}
    for env in SCORED_ENVS:
        names = select_evenly(_eligible(files.get(env, {})), TRACES_PER_ENV)
        if len(names) != TRACES_PER_ENV:
            raise ValueError(f"{folder}: env {env} has {len(names)} usable traces, expected {TRACES_PER_ENV}")
        chosen[env] = [_trace(env, name, files[env][name]) for name in names]
    _check_manifest(folder, chosen)
    return chosen


def _check_manifest(folder: Path, chosen: dict[str, list[Trace]]) -> None:
    """Fail loudly if the selection drifts from the published list of scored files."""
    path = folder / MANIFEST
    if not path.exists():
        return
    listed = json.loads(path.read_text())["selected"]
    for env, traces in chosen.items():
        expected = [entry["file"] for entry in listed[env]]
        if [trace.name for trace in traces] != expected:
            raise ValueError(f"{path}: the selection for {env} differs from the manifest")


def holdout_traces(folder: Path) -> dict[str, list[Trace]]:
    """15 traces per env of all 8 pool envs, none of them among the files the leaderboard scores."""
    pool = folder / POOL_TARBALL
    if not pool.exists():
        raise FileNotFoundError(f"the holdout stage on real data needs {pool} (traces the leaderboard never scores)")
    files = read_tarball(pool)
    chosen: dict[str, list[Trace]] = {}
    for env in SCORED_ENVS + POOL_ONLY_ENVS:
        eligible = _eligible(files.get(env, {}))
        scored = set(select_evenly(eligible, TRACES_PER_ENV))
        names = select_evenly([name for name in eligible if name not in scored], HOLDOUT_TRACES_PER_ENV)
        if len(names) != HOLDOUT_TRACES_PER_ENV:
            raise ValueError(f"{pool}: env {env} has too few unscored traces for the holdout stage")
        chosen[env] = [_trace(env, name, files[env][name]) for name in names]
    return chosen
