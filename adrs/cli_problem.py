"""The `adrs` commands about problem folders and the built-in problems: init, check, eval, problems, data.

Owns what they print and their exit codes: `adrs check` (the initial program and the baselines
scored, notes and warnings; 1 when the initial program fails, or when problem.toml names a metric
the evaluator does not report), `adrs eval`
(one program's stages, or a JSON record with `--json`, whose warnings go to stderr so the output
stays parseable), `adrs init`, the table of `adrs problems`, and `adrs data` (list, fetch, verify,
where; `verify` exits 2 when a file is missing or wrong).

Must not: evaluate or load anything itself (adrs.api does, through the sandbox), or import the
archive: `adrs eval` and `adrs check` never load SQLAlchemy or the engine (tests/test_api.py).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from adrs import api  # lazy: each command loads only the modules it uses (adrs eval never loads SQLAlchemy)
from adrs.cli_console import _warn, console
from adrs.printable import markup

if TYPE_CHECKING:
    from adrs.api import CheckedProgram
    from adrs.evaluate.result import Evaluation


def cmd_init(args: argparse.Namespace) -> int:
    target = api.init_problem(args.directory)
    console.print(f"Wrote a problem skeleton in {target}. Next: adrs check {target}")
    return 0


def _metrics_line(evaluation: Evaluation) -> str:
    if not evaluation.ok:
        last_line = markup(evaluation.error.strip().splitlines()[-1]) if evaluation.error.strip() else ""
        return f"[red]failed ({evaluation.error_kind})[/red]: {last_line}"
    shown = ", ".join(f"{k}={v:.6g}" for k, v in sorted(evaluation.metrics.items()) if k != "score")
    return f"score [bold]{evaluation.score:.6g}[/bold] ({evaluation.duration_s:.2f} s) {shown}"


def _print_checked(checked: CheckedProgram) -> None:
    for evaluation in checked.evaluations:
        console.print(f"  {checked.label} \\[{evaluation.stage}]: {_metrics_line(evaluation)}")


def cmd_check(args: argparse.Namespace) -> int:
    problem = api.load_problem(args.problem)
    api.require_sandbox(problem, args.sandbox)
    _warn(problem)
    console.print(
        f"[bold]{problem.name}[/bold]: stages {[s.name for s in problem.stages]}, objectives "
        f"{[o.name for o in problem.objectives]}"
    )
    console.print(f"Sandbox: {markup(api.sandbox_line(problem, args.sandbox))}")
    console.print(f"data: {markup(api.data_in_use(problem.name, args.data_dir))}")
    report = api.check_problem(
        problem, sandbox=args.sandbox, data_dir=args.data_dir, on_program=_print_checked, warm=not args.cold_start
    )
    for note in report.notes:  # no EVOLVE-BLOCK markers; how a peer folder was read and scored
        console.print(f"[cyan]note:[/cyan] {markup(note)}")
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/yellow] {markup(warning)}")
    failed = report.initial.failed
    if failed is not None:
        if report.missing_module:
            console.print(f"[red]error:[/red] missing module: {markup(report.missing_module)}")
        console.print(f"[red]error:[/red] the initial program fails at stage {failed.stage!r}:\n{markup(failed.error)}")
        return 1
    if report.unknown_names:
        settings_file = "problem.toml" if problem.peer is None else "config.yaml"
        for line in report.unknown_names:
            console.print(f"[red]error:[/red] {problem.root / settings_file}: {line}")
        return 1
    console.print("[green]ok[/green]")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    problem = api.load_problem(args.problem)
    _warn(problem, Console(stderr=True))  # --json output stays parseable
    evaluations = api.evaluate_program(
        problem,
        args.program,
        stage=args.stage,
        seed=args.seed,
        sandbox=args.sandbox,
        data_dir=args.data_dir,
        warm=not args.cold_start,
    )
    if args.json:
        record = {
            "program": str(Path(args.program)),
            "ok": all(e.ok for e in evaluations),
            "stages": [e.to_dict() for e in evaluations],
        }
        print(json.dumps(record, indent=2))
    else:
        console.print(f"Sandbox: {markup(api.sandbox_line(args.problem, args.sandbox))}")
        for evaluation in evaluations:
            console.print(f"\\[{evaluation.stage}] {_metrics_line(evaluation)}")
            if evaluation.feedback:
                console.print("  " + markup(evaluation.feedback).replace("\n", "\n  "))
    return 0


def cmd_problems(args: argparse.Namespace) -> int:
    folder = api.problems_dir(args.dir)
    table = Table(title=f"problems in {folder}")
    for column in ("problem", "description", "baselines (published score)"):
        table.add_column(column)
    for entry in api.list_problems(folder):
        if entry.error is not None:
            table.add_row(markup(entry.directory.name), f"[red]{markup(entry.error)}[/red]", "")
            continue
        baselines = [
            stem + (f" ({reference:g})" if reference is not None else "") for stem, reference in entry.baselines
        ]
        table.add_row(markup(entry.name), markup(entry.summary), markup(", ".join(baselines)))
    console.print(table)
    return 0


def _data_state(entry: Any) -> str:
    if entry.complete:
        return "[green]verified[/green]"
    return "[yellow]partial[/yellow]" if entry.present else "absent"


def _render_data(entries: list[Any], root: Path, details: bool) -> None:
    console.print(f"data root: {markup(str(root))}")
    table = Table(box=None, pad_edge=False)
    for column in ("problem", "real data", "files verified", "what it is"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        verified = sum(1 for f in entry.files if f.state == "verified")
        optional = sum(1 for f in entry.files if f.optional)
        count = f"{verified}/{len(entry.files)}" + (f" ({optional} optional)" if optional else "")
        table.add_row(entry.problem, _data_state(entry), count, markup(entry.about))
    console.print(table)
    for entry in entries:
        for f in entry.files:
            if details and f.state != "verified" and not (f.optional and f.state == "missing"):
                console.print(f"  {markup(str(f.path))}: {markup(f.state)}")


def cmd_data(args: argparse.Namespace) -> int:
    if args.data_command == "where":
        root = api.data_root(args.data_dir)
        console.print(str(root), markup=False, highlight=False, soft_wrap=True)
        if args.problem:
            entry = api.data_status([args.problem], root=root).problems[0]
            found = "verified" if entry.complete else f"not complete: adrs data fetch {args.problem}"
            console.print(f"{args.problem}: {entry.folder} ({found})", markup=False, highlight=False, soft_wrap=True)
        return 0
    if args.data_command == "fetch":
        if not args.problems and not args.all:
            console.print("[red]error:[/red] name the problems to fetch (adrs data list shows them), or pass --all")
            return 1
        fetched = api.fetch_data(
            args.problems,
            root=args.data_dir,
            mirror=args.mirror,
            force=args.force,
            say=lambda line: console.print(markup(line), soft_wrap=True),
        )
        _render_data(fetched, api.data_root(args.data_dir), details=True)
        return 0
    overview = api.data_status(args.problems if args.data_command == "verify" else (), root=args.data_dir)
    _render_data(overview.problems, overview.root, details=args.data_command == "verify")
    if args.data_command == "verify":
        return 0 if all(entry.complete for entry in overview.problems) else 2
    if overview.synthetic_only:
        console.print(f"synthetic data only (no public real data): {', '.join(overview.synthetic_only)}")
    missing = [e.problem for e in overview.problems if not e.complete]
    if missing:
        console.print(f"fetch with: adrs data fetch {' '.join(missing)}   (or --all)")
    return 0
