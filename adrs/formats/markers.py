"""EVOLVE-BLOCK markers of a peer folder's initial program, checked when the folder is loaded.

Owns: the one-line error naming the file. Must not: edit the program.
"""

from __future__ import annotations

from pathlib import Path

from adrs.problem import ProblemError
from adrs.program import MarkerError, find_regions


def check_markers(path: Path) -> None:
    try:
        find_regions(path.read_text())
    except MarkerError as exc:
        raise ProblemError(f"{path}: EVOLVE-BLOCK markers: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ProblemError(f"{path}: cannot read: {exc}") from exc
