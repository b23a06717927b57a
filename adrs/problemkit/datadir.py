"""Where a problem's real data lives, when the user gave any.

Problems generate seeded synthetic workloads by default. `adrs run/eval/check --data DIR` (or the
ADRS_DATA environment variable) points at real files; DIR may be the problem's own folder
(e.g. shared/data/cant_be_late) or a root holding one folder per problem (e.g. shared/data).
"""

from __future__ import annotations

import os
from pathlib import Path


def find_data(data_dir: str | os.PathLike | None, problem_subdir: str, marker: str) -> Path | None:
    """The folder holding `marker` (a file name or relative path) for this problem, or None.

    Looks in DIR itself, then in DIR/problem_subdir. None means: use the synthetic workload.
    A root that has no folder for this problem (ADRS_DATA set once for all problems, and this one
    ships no real data) also gives None. A folder that is this problem's but lacks the marker is
    an error, not a silent fallback to synthetic data.
    """
    chosen = data_dir if data_dir is not None else os.environ.get("ADRS_DATA")
    if not chosen:
        return None
    root = Path(chosen).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"data directory {root} does not exist")
    for candidate in (root, root / problem_subdir):
        if (candidate / marker).exists():
            return candidate
    looks_like_root = any(child.is_dir() for child in root.iterdir())  # one folder per problem
    if root.name == problem_subdir or (root / problem_subdir).exists() or not looks_like_root:
        raise FileNotFoundError(
            f"data directory {root} holds no {marker!r} (looked in {root} and {root / problem_subdir})"
        )
    return None
