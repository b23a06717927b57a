"""The `adrs` commands that read an archive: status, show, export, report, doctor, serve.

Owns what they print and their exit codes: the rendering of status and show is adrs/inspect_run.py's
(loaded by those commands alone), the lines of each exported program and its re-score, the report's
path, `adrs doctor`'s findings and repairs (2 when something is wrong), and `adrs serve`'s address,
its warnings off loopback and the end on Ctrl-C.

Must not: open an archive itself (adrs.api does; `adrs status` and `adrs show` read a SQLite archive
without SQLAlchemy), or import a renderer at module level (each command loads its own).
"""

from __future__ import annotations

import argparse
import sys

from adrs import api  # lazy: each command loads only the modules it uses (adrs eval never loads SQLAlchemy)
from adrs.cli_console import console
from adrs.printable import markup


def cmd_status(args: argparse.Namespace) -> int:
    from adrs.inspect_run import render_status

    render_status(console, api.run_status(args.archive, args.run_id, problem_dir=args.problem_dir))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from adrs.inspect_run import render_llm_call, render_program

    if args.call:
        render_llm_call(console, api.show_call(args.archive, args.id))
    else:
        render_program(console, api.show_program(args.archive, args.id))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    exported = api.export_programs(
        args.archive,
        args.out,
        best=args.best,
        pareto=args.pareto,
        program_id=args.program_id,
        run_id=args.run_id,
        rescored=not args.no_rescore,
        problem_dir=args.problem_dir,
    )
    for item in exported:
        console.print(
            f"program {item.program_id} (score {_estimate(item.score, item.uncertainty, item.evaluations)}) "
            f"-> {item.module} + {item.provenance.name} + {item.bundle.readme.name} (how to plug it in)"
        )
        again = item.rescore
        if again is None:
            continue
        line = f"  re-scored at stage {again.stage!r}: {_estimate(again.mean, again.uncertainty, again.evaluations)}"
        if not again.agrees:
            line += " [yellow]- differs from the run's score by more than the noise allows[/yellow]"
        if not again.fingerprint_matches:
            line += " [yellow](the problem changed since the run)[/yellow]"
        console.print(line)
    return 0


def _estimate(score: float | None, uncertainty: float | None, evaluations: int) -> str:
    if score is None:
        return "none"
    text = f"{score:.6g}"
    if uncertainty:
        text += f" ± {uncertainty:.2g}"
    return text + (f" over {evaluations} evaluations" if evaluations > 1 else "")


def cmd_report(args: argparse.Namespace) -> int:
    archives = ([args.archive] if args.archive else []) + (args.compare or [])
    if not archives or (args.compare is not None and len(archives) < 2):
        console.print("[red]error:[/red] give an archive, or two or more with --compare A.sqlite B.sqlite")
        return 1
    path = api.write_report(
        archives,
        args.output,
        baselines=not args.no_baselines,
        run_id=args.run_id,
        problem_dir=args.problem_dir,
        say=lambda line: console.print(markup(line)),
    )
    console.print(f"Report: {path}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    report = api.check_archive(args.archive, args.run_id, repair=args.repair)
    console.print(f"[dim]sandbox[/dim] default here: {markup(api.default_sandbox_line())}")
    for line in report.repaired:
        console.print(f"[green]repaired[/green] {markup(line)}")
    for finding in report.findings:
        fixable = "" if finding.repairable else " [dim](not repairable)[/dim]"
        console.print(f"[red]{finding.kind}[/red] {markup(finding.detail)}{fixable}")
    for note in report.notes:
        console.print(f"[dim]note[/dim] {markup(note)}")
    if report.clean:
        console.print("[green]ok[/green]: no inconsistency found")
        return 0
    if not args.repair and any(f.repairable for f in report.findings):
        console.print(
            f"{len(report.findings)} problem(s); `adrs doctor {args.archive} --repair` fixes the repairable ones"
        )
    return 2


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        server = api.open_server(args.archive, args.host, args.port, compare=args.compare, steer=args.steer)
    except OSError as exc:
        reason = markup(exc.strerror or str(exc))
        console.print(f"[red]error:[/red] cannot listen on {markup(args.host)}:{args.port}: {reason}")
        return 1
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        host = markup(args.host)
        console.print(f"[yellow]warning:[/yellow] serving on {host}: anyone who reaches it can read the archive")
        if args.steer:
            console.print("[yellow]warning:[/yellow] steering there is protected by the token alone (plain HTTP)")

    def ready(url: str) -> None:
        shown = " and ".join(markup(str(a)) for a in [args.archive, *(args.compare or [])])
        console.print(f"Serving {shown} at {markup(url)} (Ctrl-C stops)", soft_wrap=True)
        if args.steer:
            console.print(
                f"Steering is on for the runs of {markup(str(args.archive))} started --steerable: open the address"
                " above (it holds the token)",
                soft_wrap=True,
            )
        sys.stdout.flush()  # a script waiting for the address reads it now, not when the buffer fills

    try:
        api.serve_archive(server, ready)
    except KeyboardInterrupt:
        pass
    return 0
