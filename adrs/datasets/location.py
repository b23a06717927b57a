"""Where real data lives when no --data is given: the user's data folder.

Owns: the default data root (`$ADRS_DATA`, else `$XDG_DATA_HOME/adrs/data`, else
`~/.local/share/adrs/data`) and the rule that picks a problem's data folder for an evaluation: an
explicit --data wins, then ADRS_DATA, then the user's data folder when it holds a folder named
after the problem (as `adrs data fetch` leaves it). Without any of these a problem uses its seeded
synthetic workload. Imports nothing heavy: the evaluation runner calls it for every stage.

Must not: download, verify or create anything.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

ENV_ROOT = "ADRS_DATA"


def user_data_root() -> Path:
    """The per-user data folder (XDG base directories), whether it exists or not."""
    return _data_root(os.environ.get("XDG_DATA_HOME") or "", os.path.expanduser("~"))


@functools.lru_cache(maxsize=8)
def _data_root(xdg_data_home: str, home: str) -> Path:
    base = xdg_data_home or str(Path(home) / ".local" / "share")
    return Path(base).expanduser() / "adrs" / "data"


def default_root() -> Path:
    """Where `adrs data` fetches to and looks by default: ADRS_DATA, else the user's data folder."""
    chosen = os.environ.get(ENV_ROOT)
    return Path(chosen).expanduser() if chosen else user_data_root()


def data_dir_for(problem_name: str, explicit: str | None = None) -> str | None:
    """The data folder an evaluation of `problem_name` gets: `explicit` (--data), else ADRS_DATA,
    else the user's data folder if it holds `<problem_name>/`, else None (synthetic data)."""
    if explicit:
        return explicit
    if os.environ.get(ENV_ROOT):
        return os.environ[ENV_ROOT]
    root = user_data_root()
    return str(root) if (root / problem_name).is_dir() else None
