"""The Python API: one function per `adrs` command, each returning plain dataclass records.

    import adrs
    summary = adrs.evolve("problems/prism", budget=50, seed=0)
    status = adrs.run_status(summary.archive_url)
    adrs.export_programs(summary.archive_url, "out", best=True)

| command          | function                         | returns                      |
|------------------|----------------------------------|------------------------------|
| `adrs run`       | `evolve` (`join` with --join)    | `RunSummary`                 |
| `adrs resume`    | `resume`                         | `RunSummary`                 |
| `adrs check`     | `check_problem`                  | `CheckReport`                |
| `adrs eval`      | `evaluate_program`               | `list[Evaluation]`           |
| `adrs init`      | `init_problem`                   | the directory                |
| `adrs problems`  | `list_problems`                  | `list[ProblemEntry]`         |
| `adrs status`    | `run_status`                     | `StatusReport`                  |
| `adrs show`      | `show_program`, `show_call`      | `ProgramView`, `CallRecord`  |
| `adrs export`    | `export_programs`                | `list[Exported]`             |
| `adrs report`    | `write_report`                   | the HTML file                |
| `adrs doctor`    | `check_archive`                  | `DoctorReport`               |
| `adrs serve`     | `open_server`, `serve_archive`   | `ArchiveServer`, blocks      |
| `adrs data`      | `data_status`, `fetch_data`, `data_root` | `DataOverview`, `list[ProblemStatus]`, a folder |

Functions are named for what they do rather than after their command, since several command
names (evaluate, export, report, doctor) are already modules of adrs: `adrs.evaluate` must stay
the package. runs.py starts and continues runs, problems.py works on problem directories,
archives.py reads archives, data.py fetches and checks the problems' real data. The command line
(adrs/cli.py) parses arguments, calls these, and renders the records (adrs/inspect_run.py, adrs/ui.py).

Must not: be imported by code that runs in a sandboxed worker (it loads the engine).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Each name loads its module on first use, so a command imports only what it needs: `adrs eval`
# never loads the archive (SQLAlchemy), `adrs status` never loads the engine.
_HOMES = {
    "adrs.api.archives": (
        "ProgramView",
        "StatusReport",
        "check_archive",
        "export_programs",
        "run_status",
        "show_call",
        "show_program",
        "write_report",
    ),
    "adrs.api.data": ("DataOverview", "data_in_use", "data_root", "data_status", "fetch_data"),
    "adrs.api.problems": (
        "CheckedProgram",
        "CheckReport",
        "ProblemEntry",
        "check_problem",
        "default_sandbox_line",
        "evaluate_program",
        "init_problem",
        "list_problems",
        "problems_dir",
        "require_sandbox",
        "sandbox_line",
    ),
    "adrs.api.runs": (
        "MutatorPlan",
        "chosen_mutator",
        "default_archive_path",
        "evolve",
        "join",
        "llm_table",
        "make_source",
        "mutator_plan",
        "resume",
        "stored_run",
    ),
    "adrs.problem": ("load_problem",),
    "adrs.serve.server": ("ArchiveServer", "open_server", "serve_archive"),
    "adrs.validation": ("SettingError",),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

# Errors that mean bad input or an unusable setting, not a bug: the message names the file, field
# or value, and the command line prints it and exits 1. (module, class) pairs, loaded on first use.
_USER_ERRORS = (
    ("adrs.problem", "ProblemError"),
    ("adrs.archive.errors", "ArchiveError"),
    ("adrs.export", "ExportError"),
    ("builtins", "FileNotFoundError"),
    ("adrs.mutate.llm.models", "LLMConfigError"),
    ("adrs.mutate.llm.models", "LLMError"),
    ("adrs.sandbox", "SandboxUnavailable"),
    ("adrs.executors", "ExecutorError"),
    ("adrs.report", "ReportError"),
    ("adrs.validation", "SettingError"),
    ("adrs.datasets.fetch", "DataError"),
)


def __getattr__(name: str) -> Any:
    if name == "USER_ERRORS":
        return tuple(getattr(importlib.import_module(module), cls) for module, cls in _USER_ERRORS)
    if name in _HOME_OF:
        return getattr(importlib.import_module(_HOME_OF[name]), name)
    raise AttributeError(f"module 'adrs.api' has no attribute {name!r}")


if TYPE_CHECKING:  # what type checkers and editors see; at run time __getattr__ loads these
    from adrs.api.archives import (
        ProgramView,
        StatusReport,
        check_archive,
        export_programs,
        run_status,
        show_call,
        show_program,
        write_report,
    )
    from adrs.api.data import DataOverview, data_in_use, data_root, data_status, fetch_data
    from adrs.api.problems import (
        CheckedProgram,
        CheckReport,
        ProblemEntry,
        check_problem,
        default_sandbox_line,
        evaluate_program,
        init_problem,
        list_problems,
        problems_dir,
        require_sandbox,
        sandbox_line,
    )
    from adrs.api.runs import (
        MutatorPlan,
        chosen_mutator,
        default_archive_path,
        evolve,
        join,
        llm_table,
        make_source,
        mutator_plan,
        resume,
        stored_run,
    )
    from adrs.problem import load_problem
    from adrs.serve.server import ArchiveServer, open_server, serve_archive
    from adrs.validation import SettingError

    USER_ERRORS: tuple[type[Exception], ...]

__all__ = [
    "USER_ERRORS",
    "SettingError",
    "ArchiveServer",
    "CheckReport",
    "CheckedProgram",
    "DataOverview",
    "MutatorPlan",
    "ProblemEntry",
    "ProgramView",
    "StatusReport",
    "check_archive",
    "check_problem",
    "data_in_use",
    "data_root",
    "data_status",
    "chosen_mutator",
    "default_archive_path",
    "evaluate_program",
    "evolve",
    "export_programs",
    "fetch_data",
    "init_problem",
    "join",
    "list_problems",
    "llm_table",
    "load_problem",
    "make_source",
    "mutator_plan",
    "open_server",
    "problems_dir",
    "require_sandbox",
    "default_sandbox_line",
    "sandbox_line",
    "resume",
    "run_status",
    "serve_archive",
    "show_call",
    "show_program",
    "stored_run",
    "write_report",
]
