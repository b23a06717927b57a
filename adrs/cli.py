"""The `adrs` command line. Thin: parses arguments, calls adrs.api, renders what it returns.

Rendering of archive records lives in adrs/inspect_run.py, of a run's progress in adrs/ui.py; run
settings left unset take RunConfig's defaults (adrs/config.py), which the help texts quote.

Exit codes: 0 done; 1 a user error (bad problem directory, missing archive), with a message that
names the file and field; 2 `adrs doctor` found something wrong; 3 `adrs run` or `adrs resume`
stopped on a failure (`RunFailure`: the initial program or the evaluator failed, evaluations or
proposals kept failing, the LLM endpoint stayed away), with the error printed; 130 interrupted
(Ctrl-C; the run resumes with `adrs resume`).

This module is the entry point (`adrs = "adrs.cli:main"`, and `python -m adrs.cli`): `main` and
`COMMANDS`, the function of each command. The parser is adrs/cli_parser.py; the commands are
adrs/cli_run.py (run, resume), adrs/cli_problem.py (init, check, eval, problems, data) and
adrs/cli_archive.py (status, show, export, report, doctor, serve); the console they all print to is
adrs/cli_console.py's, re-exported here with `build_parser` and `EXIT_RUN_FAILED`.

Must not: import at start-up what a command does not use. The command modules import adrs.api,
whose names load their modules on first use, rich, and the small modules whose names and defaults
the parser quotes: `adrs eval` and `adrs check` never load SQLAlchemy or the engine, `adrs status`
and `adrs show` neither (tests/test_api.py).
"""

from __future__ import annotations

import sys

from adrs import api  # lazy: each command loads only the modules it uses (adrs eval never loads SQLAlchemy)
from adrs.cli_archive import cmd_doctor, cmd_export, cmd_report, cmd_serve, cmd_show, cmd_status
from adrs.cli_console import console
from adrs.cli_parser import build_parser
from adrs.cli_problem import cmd_check, cmd_data, cmd_eval, cmd_init, cmd_problems
from adrs.cli_run import EXIT_RUN_FAILED, cmd_resume, cmd_run
from adrs.printable import markup

__all__ = ["COMMANDS", "EXIT_RUN_FAILED", "build_parser", "console", "main"]


COMMANDS = {
    "data": cmd_data,
    "doctor": cmd_doctor,
    "run": cmd_run,
    "resume": cmd_resume,
    "init": cmd_init,
    "check": cmd_check,
    "eval": cmd_eval,
    "status": cmd_status,
    "show": cmd_show,
    "export": cmd_export,
    "problems": cmd_problems,
    "report": cmd_report,
    "serve": cmd_serve,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except api.USER_ERRORS as exc:
        console.print(f"[red]error:[/red] {markup(str(exc))}", soft_wrap=True)  # one line, however long
        return 1


if __name__ == "__main__":
    sys.exit(main())
