"""adrs: an evolutionary engine for AI-driven systems research.

    import adrs
    summary = adrs.evolve("problems/prism", budget=50, seed=0)
    status = adrs.run_status(summary.archive_url)
    archive = adrs.Archive.open(summary.archive_url)

One function per command of the `adrs` command line (adrs/api/__init__.py has the table), plus
`Archive` and `load_problem`. Names load lazily so that `python -m adrs.evaluate.worker` (started
once per evaluation) does not import the engine.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
_API = (
    "check_archive",
    "check_problem",
    "data_root",
    "data_status",
    "evaluate_program",
    "evolve",
    "export_programs",
    "fetch_data",
    "init_problem",
    "join",
    "list_problems",
    "open_server",
    "resume",
    "run_status",
    "serve_archive",
    "show_call",
    "show_program",
    "write_report",
)
__all__ = ["Archive", "load_problem", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        from adrs import api

        return getattr(api, name)
    if name == "Archive":
        from adrs.archive.store import Archive

        return Archive
    if name == "load_problem":
        from adrs.problem import load_problem

        return load_problem
    raise AttributeError(f"module 'adrs' has no attribute {name!r}")
