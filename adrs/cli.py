"""The `adrs` command line. Thin: parses arguments, calls adrs.api, renders what it returns.

Rendering of archive records lives in adrs/inspect_run.py, of a run's progress in adrs/ui.py; run
settings left unset take RunConfig's defaults (adrs/config.py), which the help texts quote.

Exit codes: 0 done; 1 a user error (bad problem directory, missing archive), with a message that
names the file and field; 2 `adrs doctor` found something wrong; 3 `adrs run` or `adrs resume`
stopped on a failure (`RunFailure`: the initial program or the evaluator failed, evaluations or
proposals kept failing, the LLM endpoint stayed away), with the error printed; 130 interrupted
(Ctrl-C; the run resumes with `adrs resume`).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from adrs import api  # lazy: each command loads only the modules it uses (adrs eval never loads SQLAlchemy)
from adrs.archive.select import STRATEGIES, SelectionConfig
from adrs.config import MUTATORS, RunConfig
from adrs.executors import EXECUTORS
from adrs.printable import markup
from adrs.sandbox import BACKENDS as SANDBOXES
from adrs.serve import DEFAULT_PORT, LOOPBACK

if TYPE_CHECKING:
    from adrs.api import CheckedProgram, MutatorPlan
    from adrs.evaluate.result import Evaluation
    from adrs.problem import Problem

console = Console()
EXIT_RUN_FAILED = 3  # a run that stopped on a failure (see the module docstring)


def _default(name: str, record: type = RunConfig) -> Any:
    """The default of a RunConfig (or SelectionConfig) field, quoted in help texts."""
    return next(f.default for f in dataclasses.fields(record) if f.name == name)


def _at_least_one(text: str) -> int:
    """An argparse type: a whole number of at least 1 (argparse names the option in its error)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _add_run_options(p: argparse.ArgumentParser, resuming: bool) -> None:
    # Every default is None: unset options keep RunConfig's default (run) or the stored value (resume).
    budget_default = (
        "the run's stored budget"
        if resuming
        else f"{_default('budget')}, or an OpenEvolve config.yaml's max_iterations"
    )
    p.add_argument("--budget", type=int, default=None, help=f"evaluations to spend (default: {budget_default})")
    p.add_argument("--workers", type=int, default=None, help="concurrent evaluation slots (default: CPUs)")
    p.add_argument("--max-time", type=float, default=None, dest="max_time_s", help="wall-clock budget, seconds")
    p.add_argument("--target", type=float, default=None, dest="target_score", help="stop at this score")
    p.add_argument("--data", default=None, dest="data_dir", help="real data folder (else the synthetic workload)")
    p.add_argument(
        "--cold-start",
        action="store_const",
        const=False,
        default=None,
        dest="warm_start",
        help="start a fresh worker interpreter per stage instead of forking it from a warm server",
    )
    p.add_argument("--quiet", action="store_true", help="no live view")
    p.add_argument(
        "--llm",
        action="append",
        default=None,
        metavar="NAME[@URL]",
        help="an OpenAI-compatible model (repeat for an ensemble); the key comes from OPENAI_API_KEY",
    )
    p.add_argument("--llm-config", default=None, help="TOML file with an [llm] table: models, prices, selection, ...")
    p.add_argument(
        "--llm-concurrency",
        type=_at_least_one,
        default=None,
        metavar="N",
        help="LLM calls in flight (default: the [llm] table's concurrency, else 4)",
    )
    p.add_argument("--max-cost", type=float, default=None, help="cap on the run's LLM dollars (spent plus in flight)")
    p.add_argument(
        "--offline-share", type=float, default=None, help="share of proposals for the offline mutator (e.g. 0.2)"
    )
    p.add_argument("--mutator", choices=MUTATORS, default=None, help="default auto: the LLM if one is configured")
    p.add_argument(
        "--executor",
        choices=list(EXECUTORS),
        default=None,
        help="where evaluations run: local (default) or ray (Ray tasks; pip install 'adrs[ray]')",
    )
    p.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDR",
        help="an existing Ray cluster (HOST:PORT or auto); default: a local Ray inside the run's directory",
    )
    p.add_argument(
        "--steerable",
        action="store_const",
        const=True,
        default=None,
        help="let `adrs serve --steer` steer the run: hints, pinned and banned parents, pause (kept on resume)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="adrs", description="Evolve systems policies against trusted verifiers.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="start an evolution run")
    p.add_argument("problem", help="problem directory")
    _add_run_options(p, resuming=False)
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help=f"every random choice flows from it (default: {_default('seed')}, or an OpenEvolve config.yaml's "
        f"random_seed)",
    )
    p.add_argument(
        "--islands",
        type=int,
        default=None,
        help=f"independent sub-populations (default: {_default('islands')}, or an OpenEvolve config.yaml's "
        f"database.num_islands)",
    )
    p.add_argument(
        "--selection",
        default=None,
        choices=STRATEGIES,
        help=f"parent selection strategy (default: {_default('strategy', SelectionConfig)})",
    )
    p.add_argument(
        "--novelty", type=float, default=None, help="reject children more similar than this to their island (0-1)"
    )
    p.add_argument("--stagnation", type=int, default=None, help="stop after this many evaluations without a new best")
    p.add_argument(
        "--max-failure-streak",
        type=int,
        default=None,
        help=f"failed evaluations in a row that stop the run as a failure (default: {_default('max_failure_streak')})",
    )
    p.add_argument(
        "--deterministic", action="store_true", help="same archive for any worker count (seeded offline runs)"
    )
    p.add_argument(
        "--lag",
        type=int,
        default=None,
        help=f"deterministic runs: proposals may run this far ahead of results (default: {_default('lag')})",
    )
    p.add_argument(
        "--archive", default=None, help="archive file or SQLAlchemy URL (default archives/<problem>-<time>.sqlite)"
    )
    p.add_argument(
        "--join",
        type=int,
        default=None,
        metavar="RUN_ID",
        help="attach this engine to run RUN_ID of --archive, in progress (PostgreSQL): shared budget and results",
    )
    p.add_argument(
        "--sandbox",
        default=None,
        choices=SANDBOXES,
        help="isolation of candidate processes (default: the problem's [problem] sandbox, else process)",
    )
    p.add_argument("--docker-image", default=None, help="image of the docker sandbox (default adrs-sandbox:latest)")

    p = sub.add_parser("resume", help="continue an archived run")
    p.add_argument("archive")
    _add_run_options(p, resuming=True)
    p.add_argument("--run", type=int, default=None, dest="run_id", help="run id inside the archive (default: latest)")
    p.add_argument(
        "--problem", default=None, dest="problem_dir", help="the problem directory, if it moved since the run"
    )

    p = sub.add_parser("init", help="write a working problem skeleton")
    p.add_argument("directory")

    p = sub.add_parser("check", help="evaluate the initial program and the baselines of a problem")
    p.add_argument("problem")
    p.add_argument("--sandbox", default=None, choices=SANDBOXES)
    p.add_argument("--data", default=None, dest="data_dir")
    p.add_argument("--cold-start", action="store_true", help="a fresh worker interpreter per stage (no warm server)")

    p = sub.add_parser("eval", help="score one program file with the engine's sandbox")
    p.add_argument("problem")
    p.add_argument("program")
    p.add_argument("--sandbox", default=None, choices=SANDBOXES)
    p.add_argument("--stage", default=None, help="one stage (default: the evolution cascade)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=None, dest="data_dir")
    p.add_argument("--cold-start", action="store_true", help="a fresh worker interpreter per stage (no warm server)")

    p = sub.add_parser("status", help="summarise a run")
    p.add_argument("archive")
    p.add_argument("--run", type=int, default=None, dest="run_id")
    p.add_argument(
        "--problem", default=None, dest="problem_dir", help="the problem directory, if it moved since the run"
    )

    p = sub.add_parser("show", help="show one program: code, diffs, metrics, feedback, errors, LLM calls")
    p.add_argument("archive")
    p.add_argument("id", type=int)
    p.add_argument("--call", action="store_true", help="ID is an LLM call: show its prompt, reply, parsed edits, error")

    p = sub.add_parser("export", help="write standalone modules with provenance")
    p.add_argument("archive")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--best", action="store_true")
    which.add_argument("--pareto", action="store_true")
    which.add_argument("--id", type=int, default=None, dest="program_id")
    p.add_argument("--out", required=True)
    p.add_argument("--run", type=int, default=None, dest="run_id")
    p.add_argument(
        "--no-rescore",
        action="store_true",
        help="write without evaluating the programs again first (the provenance then has no re-score)",
    )
    p.add_argument(
        "--problem", default=None, dest="problem_dir", help="the problem directory, if it moved since the run"
    )

    p = sub.add_parser("problems", help="list the built-in problems and their baselines")
    p.add_argument(
        "--dir", default=None, help="folder of problem directories (default: ./problems or the source tree's)"
    )

    p = sub.add_parser("report", help="write one self-contained HTML report of a run (needs adrs[report])")
    p.add_argument("archive", nargs="?", default=None)
    p.add_argument(
        "--compare", nargs="+", default=None, metavar="ARCHIVE", help="runs to show side by side on the same plots"
    )
    p.add_argument("-o", "--output", default="report.html")
    p.add_argument(
        "--no-baselines", action="store_true", help="do not score the problem's baselines (one evaluation each)"
    )
    p.add_argument("--run", type=int, default=None, dest="run_id", help="run id inside the archive (default: latest)")
    p.add_argument(
        "--problem", default=None, dest="problem_dir", help="the problem directory, if it moved since the run"
    )

    p = sub.add_parser("serve", help="a live view of an archive in the browser (loopback, read-only by default)")
    p.add_argument("archive", help="archive path or SQLAlchemy URL")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="0: any free port")
    p.add_argument("--host", default=LOOPBACK, help="address to bind (default: loopback only)")
    p.add_argument(
        "--compare", nargs="+", default=None, metavar="ARCHIVE", help="other archives whose runs to show side by side"
    )
    p.add_argument(
        "--steer",
        action="store_true",
        help="let the page steer runs started --steerable (hints, pin/ban, pause), with a token in the printed URL",
    )

    p = sub.add_parser("data", help="the built-in problems' real data: list, fetch, verify, where it is")
    data = p.add_subparsers(dest="data_command", required=True)
    root_help = "data root (default: ADRS_DATA, else ~/.local/share/adrs/data)"
    q = data.add_parser("list", help="which problems have real data, where it goes, whether it is there and verified")
    q.add_argument("--data", default=None, dest="data_dir", help=root_help)
    q = data.add_parser("fetch", help="fetch problems' real data from their public sources (pinned sha256)")
    q.add_argument("problems", nargs="*", metavar="PROBLEM")
    q.add_argument("--all", action="store_true", help="every problem that has real data")
    q.add_argument("--data", default=None, dest="data_dir", help=root_help)
    q.add_argument(
        "--mirror",
        default=None,
        metavar="DIR_OR_URL",
        help="read sources from a mirror laid out as <repo>/<commit>/<path> instead of GitHub",
    )
    q.add_argument("--force", action="store_true", help="fetch again files already present and verified")
    q = data.add_parser(
        "verify", help="check the files against their pinned sha256 (exit 2 when one is missing or wrong)"
    )
    q.add_argument("problems", nargs="*", metavar="PROBLEM")
    q.add_argument("--data", default=None, dest="data_dir", help=root_help)
    q = data.add_parser("where", help="the data root, and the folder a problem's evaluations read")
    q.add_argument("problem", nargs="?", default=None)
    q.add_argument("--data", default=None, dest="data_dir", help=root_help)

    p = sub.add_parser("doctor", help="check an archive's integrity (exit 2 when something is wrong)")
    p.add_argument("archive")
    p.add_argument("--run", type=int, default=None, dest="run_id")
    p.add_argument(
        "--repair",
        action="store_true",
        help="repair what can be (never deletes a program); only while no engine uses the archive",
    )
    return parser


# What `adrs resume` and `adrs run --join` may change of a stored run's configuration.
_OVERRIDE_KEYS = (
    "budget",
    "workers",
    "max_time_s",
    "target_score",
    "data_dir",
    "executor",
    "ray_address",
    "steerable",
    "warm_start",
)
# `adrs run` options named as RunConfig fields: given ones are passed, unset ones (None) keep the default.
_RUN_KEYS = (
    "budget",
    "seed",
    "islands",
    "max_time_s",
    "target_score",
    "data_dir",
    "sandbox",
    "docker_image",
    "novelty",
    "stagnation",
    "lag",
    "max_failure_streak",
    "steerable",
    "warm_start",
)


def cmd_run(args: argparse.Namespace) -> int:
    problem = api.load_problem(args.problem)
    _warn(problem)
    if args.join is not None:
        return _join(args, problem.name)
    archive = args.archive or str(api.default_archive_path(problem))
    settings: dict[str, Any] = {k: getattr(args, k) for k in _RUN_KEYS if getattr(args, k) is not None}
    settings["deterministic"] = args.deterministic
    if args.selection is not None:
        settings["selection"] = SelectionConfig(strategy=args.selection)
    api.require_sandbox(problem, args.sandbox)
    given = ("workers", "executor", "ray_address")
    settings.update({k: getattr(args, k) for k in given if getattr(args, k) is not None})  # 0 too: checked
    settings.update(_mutation_settings(args, {}))
    plan = api.mutator_plan(problem, **settings)
    console.print(f"Evolving [bold]{problem.name}[/bold] with {_mutator_line(plan)}; archive {archive}")
    console.print(f"Sandbox: {markup(api.sandbox_line(problem, args.sandbox))}")
    console.print(f"Data: {markup(api.data_in_use(problem.name, args.data_dir))}")
    return _drive(
        lambda on_progress: api.evolve(problem, archive=archive, on_progress=on_progress, **settings),
        args.quiet,
        RunConfig(**{**problem.run_defaults, **settings}).budget,
        archive,
        problem.name,
    )


def _join(args: argparse.Namespace, problem_name: str) -> int:
    """`adrs run PROBLEM --archive URL --join RUN_ID`: one more engine on a run in progress."""
    if not args.archive:
        from adrs.archive.store import ArchiveError

        raise ArchiveError("--join needs --archive: the URL of the database holding the run")
    overrides = {k: getattr(args, k) for k in _OVERRIDE_KEYS}
    if overrides["budget"] is None:  # `adrs run`'s default: this engine's own share, not the run's stored budget
        overrides["budget"] = _default("budget")
    console.print(f"Joining run {args.join} of [bold]{problem_name}[/bold] in {args.archive}")
    return _drive(
        lambda on_progress: api.join(
            args.archive, run_id=args.join, problem_dir=args.problem, on_progress=on_progress, **overrides
        ),
        args.quiet,
        overrides["budget"],
        args.archive,
        problem_name,
    )


def cmd_resume(args: argparse.Namespace) -> int:
    overrides = {k: getattr(args, k) for k in _OVERRIDE_KEYS}
    run = api.stored_run(args.archive, args.run_id)
    overrides.update(_mutation_settings(args, run.config.get("llm", {})))
    budget = RunConfig.from_dict(run.config, **overrides).budget  # a bad value is refused here, before any output
    console.print(f"Resuming run {run.id} of [bold]{run.problem_name}[/bold] from {args.archive}")
    with contextlib.suppress(*api.USER_ERRORS):  # a problem folder that moved: resume says so itself
        problem_root = args.problem_dir or run.problem_root
        console.print(f"Sandbox: {markup(api.sandbox_line(problem_root, run.config.get('sandbox')))}")
    return _drive(
        lambda on_progress: api.resume(
            args.archive, run_id=run.id, on_progress=on_progress, problem_dir=args.problem_dir, **overrides
        ),
        args.quiet,
        budget,
        args.archive,
        run.problem_name,
    )


def _mutation_settings(args: argparse.Namespace, stored_llm: dict) -> dict:
    """RunConfig values from the LLM options; only those given (resume keeps the stored ones)."""
    out: dict = {}
    if args.llm or args.llm_config or args.llm_concurrency is not None:
        out["llm"] = api.llm_table(
            stored_llm, models=args.llm or (), config_file=args.llm_config, concurrency=args.llm_concurrency
        )
    for key in ("max_cost", "offline_share", "mutator"):
        if getattr(args, key) is not None:
            out[key] = getattr(args, key)
    return out


def _mutator_line(plan: MutatorPlan) -> str:
    if plan.kind == "offline":
        return "the offline mutator"
    text = "LLM " + (markup(", ".join(plan.models)) if plan.models else "(no model)")
    if plan.offline_share:
        text += f" + offline mutator ({plan.offline_share:.0%})"
    if plan.max_cost is not None:
        text += f", cost cap ${plan.max_cost:.2f}"
        if plan.unpriced:
            unpriced = markup(", ".join(plan.unpriced))
            text += f" [yellow](no price for {unpriced}: counted as $0; set price_in/price_out)[/yellow]"
    return text


def _drive(start, quiet: bool, budget: int, archive: str, title: str) -> int:
    from adrs.ui import LiveView, print_summary

    try:
        if quiet:
            summary = start(None)
        else:
            with LiveView(console, title, budget) as view:
                summary = start(view.update)
    except KeyboardInterrupt:
        console.print(f"\n[yellow]Interrupted.[/yellow] Nothing evaluated is lost: adrs resume {archive}")
        return 130
    print_summary(console, summary, archive)
    if summary.failure is not None:
        console.print(f"[red]error:[/red] {markup(summary.failure.message)}")
        return EXIT_RUN_FAILED
    return 0


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


def _warn(problem: Problem, stream: Console | None = None) -> None:
    """Configuration of a peer folder that adrs does not honour, each key named once."""
    for line in problem.warnings:
        (stream or console).print(f"[yellow]warning:[/yellow] {markup(line)}")


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
