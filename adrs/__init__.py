"""adrs: an evolutionary engine for AI-driven systems research.

    import adrs
    summary = adrs.evolve("problems/prism", budget=50, seed=0)
    archive = adrs.Archive.open(summary.archive_url)

Names load lazily so that `python -m adrs.evaluate.worker` (started once per evaluation) does
not import the engine.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["Archive", "evolve", "join", "load_problem", "resume"]


def __getattr__(name: str) -> Any:
    if name in ("evolve", "join", "resume"):
        from adrs import api

        return getattr(api, name)
    if name == "Archive":
        from adrs.archive.store import Archive

        return Archive
    if name == "load_problem":
        from adrs.problem import load_problem

        return load_problem
    raise AttributeError(f"module 'adrs' has no attribute {name!r}")
