"""The `adrs` command line's console: the one `Console` every command prints to, and the lines
more than one command prints (a peer folder's configuration that adrs does not honour).

One object, shared by adrs/cli_run.py, adrs/cli_problem.py and adrs/cli_archive.py and re-exported
by adrs/cli.py: a caller that redirects `adrs.cli.console.file` redirects every command's output.

Must not: print untrusted text without `markup` (adrs/printable.py), or import adrs.api.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console

from adrs.printable import markup

if TYPE_CHECKING:
    from adrs.problem import Problem

console = Console()


def _warn(problem: Problem, stream: Console | None = None) -> None:
    """Configuration of a peer folder that adrs does not honour, each key named once."""
    for line in problem.warnings:
        (stream or console).print(f"[yellow]warning:[/yellow] {markup(line)}")
