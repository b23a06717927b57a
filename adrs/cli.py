"""The `adrs` command line. Thin: parses arguments and calls adrs.api, adrs.export, adrs.inspect_run.

Exit codes: 0 done; 1 a user error (bad problem directory, missing archive), with a message that
names the file and field; 130 interrupted (Ctrl-C; the run resumes with `adrs resume`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from adrs import api
from adrs.archive.select import STRATEGIES, SelectionConfig
from adrs.archive.store import Archive, ArchiveError
from adrs.evaluate.backends import SandboxUnavailable
from adrs.evaluate.runner import EvalSettings, evaluate_code_sync
from adrs.executors import EXECUTORS, ExecutorError
from adrs.export import ExportError, choose, export_program
from adrs.inspect_run import load_elites, render_llm_call, render_program, render_status
from adrs.mutate.models import LLMConfigError, LLMError
from adrs.problem import Problem, ProblemError, load_problem

SKELETON = Path(__file__).with_name("templates") / "skeleton"
console = Console()


def _add_run_options(p: argparse.ArgumentParser, defaults: bool) -> None:
    p.add_argument("--budget", type=int, default=None,
                   help="evaluations to spend (default 100, or an OpenEvolve config.yaml's max_iterations)" if defaults else "evaluations to spend")
    p.add_argument("--workers", type=int, default=None, help="concurrent evaluation slots (default: CPUs)")
    p.add_argument("--max-time", type=float, default=None, dest="max_time_s", help="wall-clock budget, seconds")
    p.add_argument("--target", type=float, default=None, dest="target_score", help="stop at this score")
    p.add_argument("--data", default=None, dest="data_dir", help="real data folder (else the synthetic workload)")
    p.add_argument("--quiet", action="store_true", help="no live view")
    p.add_argument("--llm", action="append", default=None, metavar="NAME[@URL]",
                   help="an OpenAI-compatible model (repeat for an ensemble); the key comes from OPENAI_API_KEY")
    p.add_argument("--llm-config", default=None, help="TOML file with an [llm] table: models, prices, selection, ...")
    p.add_argument("--max-cost", type=float, default=None, help="cap on the run's LLM dollars (spent plus in flight)")
    p.add_argument("--offline-share", type=float, default=None, help="share of proposals for the offline mutator (e.g. 0.2)")
    p.add_argument("--mutator", choices=["auto", "offline", "llm"], default=None, help="default auto: the LLM if one is configured")
    p.add_argument("--executor", choices=list(EXECUTORS), default=None,
                   help="where evaluations run: local (default) or ray (Ray tasks; pip install 'adrs[ray]')")
    p.add_argument("--ray-address", default=None, metavar="ADDR",
                   help="an existing Ray cluster (HOST:PORT or auto); default: a local Ray inside the run's directory")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="adrs", description="Evolve systems policies against trusted verifiers.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="start an evolution run")
    p.add_argument("problem", help="problem directory")
    _add_run_options(p, defaults=True)
    p.add_argument("--seed", type=int, default=None, help="default 0, or an OpenEvolve config.yaml's random_seed")
    p.add_argument("--islands", type=int, default=None, help="default 3, or an OpenEvolve config.yaml's database.num_islands")
    p.add_argument("--selection", default="mixed", choices=STRATEGIES, help="parent selection strategy")
    p.add_argument("--novelty", type=float, default=None, help="reject children more similar than this to their island (0-1)")
    p.add_argument("--stagnation", type=int, default=None, help="stop after this many evaluations without a new best")
    p.add_argument("--deterministic", action="store_true", help="same archive for any worker count (seeded offline runs)")
    p.add_argument("--lag", type=int, default=4, help="deterministic runs: proposals may run this far ahead of results")
    p.add_argument("--archive", default=None, help="archive file or SQLAlchemy URL (default archives/<problem>-<time>.sqlite)")
    p.add_argument("--join", type=int, default=None, metavar="RUN_ID",
                   help="attach this engine to run RUN_ID of --archive, in progress (PostgreSQL): shared budget and results")
    p.add_argument("--sandbox", default=None, choices=["process", "bwrap", "docker"],
                   help="isolation of candidate processes (default: the problem's [problem] sandbox, else process)")
    p.add_argument("--docker-image", default=None, help="image of the docker sandbox (default adrs-sandbox:latest)")

    p = sub.add_parser("resume", help="continue an archived run")
    p.add_argument("archive")
    _add_run_options(p, defaults=False)
    p.add_argument("--run", type=int, default=None, dest="run_id", help="run id inside the archive (default: latest)")

    p = sub.add_parser("init", help="write a working problem skeleton")
    p.add_argument("directory")

    p = sub.add_parser("check", help="evaluate the initial program and the baselines of a problem")
    p.add_argument("problem")
    p.add_argument("--sandbox", default=None, choices=["process", "bwrap", "docker"])
    p.add_argument("--data", default=None, dest="data_dir")

    p = sub.add_parser("eval", help="score one program file with the engine's sandbox")
    p.add_argument("problem")
    p.add_argument("program")
    p.add_argument("--sandbox", default=None, choices=["process", "bwrap", "docker"])
    p.add_argument("--stage", default=None, help="one stage (default: the evolution cascade)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=None, dest="data_dir")

    p = sub.add_parser("status", help="summarise a run")
    p.add_argument("archive")
    p.add_argument("--run", type=int, default=None, dest="run_id")

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

    p = sub.add_parser("problems", help="list the built-in problems and their baselines")
    p.add_argument("--dir", default=None, help="folder of problem directories (default: ./problems or the source tree's)")

    p = sub.add_parser("report", help="write one self-contained HTML report of a run (needs adrs[report])")
    p.add_argument("archive", nargs="?", default=None)
    p.add_argument("--compare", nargs="+", default=None, metavar="ARCHIVE", help="runs to show side by side on the same plots")
    p.add_argument("-o", "--output", default="report.html")
    p.add_argument("--no-baselines", action="store_true", help="do not score the problem's baselines (one evaluation each)")
    p.add_argument("--run", type=int, default=None, dest="run_id", help="run id inside the archive (default: latest)")
    p.add_argument("--problem", default=None, dest="problem_dir", help="the problem directory, if it moved since the run")

    p = sub.add_parser("doctor", help="check an archive's integrity (exit 2 when something is wrong)")
    p.add_argument("archive")
    p.add_argument("--run", type=int, default=None, dest="run_id")
    p.add_argument("--repair", action="store_true", help="repair what can be (never deletes a program); only while no engine uses the archive")
    return parser


# What `adrs resume` and `adrs run --join` may change of a stored run's configuration.
_OVERRIDE_KEYS = ("budget", "workers", "max_time_s", "target_score", "data_dir", "executor", "ray_address")


def cmd_run(args: argparse.Namespace) -> int:
    problem = load_problem(args.problem)
    _warn(problem)
    if args.join is not None:
        return _join(args, problem)
    archive = args.archive or str(api.default_archive_path(problem))
    settings = {k: getattr(args, k) for k in ("max_time_s", "target_score", "data_dir", "sandbox")}
    # --budget, --seed, --islands: the flag, else the folder's own setting (run_defaults), else adrs's default
    run_defaults = {"budget": 100, "seed": 0, "islands": 3, **problem.run_defaults}
    settings.update({k: getattr(args, k) if getattr(args, k) is not None else run_defaults[k] for k in run_defaults})
    settings["docker_image"] = args.docker_image
    settings.update(
        selection=SelectionConfig(strategy=args.selection),
        novelty=args.novelty,
        stagnation=args.stagnation,
        deterministic=args.deterministic,
        lag=args.lag,
    )
    _require_sandbox(args.sandbox or problem.sandbox)
    if args.workers:
        settings["workers"] = args.workers
    settings.update({k: getattr(args, k) for k in ("executor", "ray_address") if getattr(args, k)})
    settings.update(_mutation_settings(args, {}))
    console.print(f"Evolving [bold]{problem.name}[/bold] with {_mutator_line(problem, settings)}; archive {archive}")
    return _drive(
        lambda on_progress: api.evolve(problem, archive=archive, on_progress=on_progress, **settings),
        args.quiet,
        settings["budget"],
        archive,
        problem.name,
    )


def _join(args: argparse.Namespace, problem: Problem) -> int:
    """`adrs run PROBLEM --archive URL --join RUN_ID`: one more engine on a run in progress."""
    if not args.archive:
        raise ArchiveError("--join needs --archive: the URL of the database holding the run")
    overrides = {k: getattr(args, k) for k in _OVERRIDE_KEYS}
    overrides["budget"] = args.budget if args.budget is not None else 100  # this engine's share
    console.print(f"Joining run {args.join} of [bold]{problem.name}[/bold] in {args.archive}")
    return _drive(
        lambda on_progress: api.join(args.archive, run_id=args.join, problem_dir=args.problem, on_progress=on_progress, **overrides),
        args.quiet,
        overrides["budget"],
        args.archive,
        problem.name,
    )


def cmd_resume(args: argparse.Namespace) -> int:
    overrides = {k: getattr(args, k) for k in _OVERRIDE_KEYS}
    store = Archive.open(args.archive, create=False)
    try:
        run = store.run(args.run_id)
    finally:
        store.close()
    budget = args.budget or int(run.config.get("budget", 0))
    overrides.update(_mutation_settings(args, run.config.get("llm", {})))
    console.print(f"Resuming run {run.id} of [bold]{run.problem_name}[/bold] from {args.archive}")
    return _drive(
        lambda on_progress: api.resume(args.archive, run_id=run.id, on_progress=on_progress, **overrides),
        args.quiet,
        budget,
        args.archive,
        run.problem_name,
    )


def _mutation_settings(args: argparse.Namespace, stored_llm: dict) -> dict:
    """RunConfig values from the LLM options; only those given (resume keeps the stored ones)."""
    from adrs.mutate.models import load_llm_file, parse_model_flag

    out: dict = {}
    if args.llm or args.llm_config:
        table = dict(stored_llm)
        if args.llm_config:
            table.update(load_llm_file(args.llm_config))
        if args.llm:
            table["models"] = [parse_model_flag(flag) for flag in args.llm]
        out["llm"] = table
    for key in ("max_cost", "offline_share", "mutator"):
        if getattr(args, key) is not None:
            out[key] = getattr(args, key)
    return out


def _mutator_line(problem: Problem, settings: dict) -> str:
    from adrs.config import RunConfig

    config = RunConfig(**settings)
    if api.chosen_mutator(config, problem) == "offline":
        return "the offline mutator"
    from adrs.mutate.models import llm_settings

    llm = llm_settings(problem, config.llm)
    text = "LLM " + (escape(", ".join(m.label for m in llm.models)) if llm else "(no model)")
    if config.offline_share:
        text += f" + offline mutator ({config.offline_share:.0%})"
    if config.max_cost is not None:
        text += f", cost cap ${config.max_cost:.2f}"
        unpriced = [m.label for m in llm.models if not m.priced] if llm else []
        if unpriced:
            text += f" [yellow](no price for {escape(', '.join(unpriced))}: counted as $0; set price_in/price_out)[/yellow]"
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
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    target = Path(args.directory)
    if target.exists() and any(target.iterdir()):
        raise ProblemError(f"{target}: exists and is not empty; choose a new directory")
    shutil.copytree(SKELETON, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    name = target.resolve().name
    for path in (target / "problem.toml", target / "README.md"):
        path.write_text(path.read_text().replace("{name}", name))
    console.print(f"Wrote a problem skeleton in {target}. Next: adrs check {target}")
    return 0


def _metrics_line(evaluation) -> str:
    if not evaluation.ok:
        return f"[red]failed ({evaluation.error_kind})[/red]: {escape(evaluation.error.strip().splitlines()[-1]) if evaluation.error.strip() else ''}"
    shown = ", ".join(f"{k}={v:.6g}" for k, v in sorted(evaluation.metrics.items()) if k != "score")
    return f"score [bold]{evaluation.score:.6g}[/bold] ({evaluation.duration_s:.2f} s) {shown}"


def _warn(problem: Problem, stream: Console | None = None) -> None:
    """Configuration of a peer folder that adrs does not honour, each key named once."""
    for line in problem.warnings:
        (stream or console).print(f"[yellow]warning:[/yellow] {escape(line)}")


def cmd_check(args: argparse.Namespace) -> int:
    problem = load_problem(args.problem)
    _warn(problem)
    settings = EvalSettings(data_dir=args.data_dir, sandbox=args.sandbox)
    _require_sandbox(args.sandbox or problem.sandbox)
    console.print(f"[bold]{problem.name}[/bold]: stages {[s.name for s in problem.stages]}, objectives {[o.name for o in problem.objectives]}")
    initial = evaluate_code_sync(problem, problem.initial_code(), settings, problem.stages)
    for evaluation in initial:
        console.print(f"  {problem.initial_path.name} \\[{evaluation.stage}]: {_metrics_line(evaluation)}")
    failed = next((e for e in initial if not e.ok), None)
    if failed is not None:
        console.print(f"[red]error:[/red] the initial program fails at stage {failed.stage!r}:\n{escape(failed.error)}")
        return 1
    from adrs.formats.scoring import check_notes

    for line in check_notes(problem, initial):  # peer folders: how they were read and scored
        console.print(f"  [dim]note:[/dim] {escape(line)}")
    problems = _unknown_names(problem, initial[-1])
    if problems:
        for line in problems:
            console.print(f"[red]error:[/red] {problem.root / ('problem.toml' if problem.peer is None else 'config.yaml')}: {line}")
        return 1
    for baseline in problem.baselines():
        for evaluation in evaluate_code_sync(problem, baseline.read_text(), settings, problem.stages):
            console.print(f"  baselines/{baseline.name} \\[{evaluation.stage}]: {_metrics_line(evaluation)}")
    console.print("[green]ok[/green]")
    return 0


def _unknown_names(problem: Problem, evaluation) -> list[str]:
    known = set(evaluation.metrics) | {"score"}
    out = [f"objective {o.name!r} is not among the evaluator's metrics {sorted(known)}" for o in problem.objectives if o.name not in known]
    feature_names = known | set(evaluation.features) | {"code_lines"}  # code_lines: measured by the archive
    out += [f"feature {f.name!r} is not among the evaluator's metrics or features" for f in problem.features if f.name not in feature_names]
    return out


def cmd_eval(args: argparse.Namespace) -> int:
    problem = load_problem(args.problem)
    _warn(problem, Console(stderr=True))
    program = Path(args.program)
    if not program.is_file():
        raise ProblemError(f"{program}: no such program file")
    stages = (problem.stage(args.stage),) if args.stage else None
    _require_sandbox(args.sandbox or problem.sandbox)
    settings = EvalSettings(seed=args.seed, data_dir=args.data_dir, sandbox=args.sandbox)
    evaluations = evaluate_code_sync(problem, program.read_text(), settings, stages)
    if args.json:
        print(json.dumps({"program": str(program), "ok": all(e.ok for e in evaluations), "stages": [e.to_dict() for e in evaluations]}, indent=2))
    else:
        for evaluation in evaluations:
            console.print(f"\\[{evaluation.stage}] {_metrics_line(evaluation)}")
            if evaluation.feedback:
                console.print("  " + escape(evaluation.feedback).replace("\n", "\n  "))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    store = Archive.open(args.archive, create=False)
    try:
        run = store.run(args.run_id)
        render_status(console, store, run, load_elites(store, run, load_problem(run.problem_root)))
    finally:
        store.close()
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    store = Archive.open(args.archive, create=False)
    try:
        if args.call:
            render_llm_call(console, store, args.id)
            return 0
        program = store.program(args.id)
        render_program(console, store, store.run(program.run_id), args.id)
    finally:
        store.close()
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    store = Archive.open(args.archive, create=False)
    try:
        run = store.run(args.run_id)
        elites = load_elites(store, run, load_problem(run.problem_root))
        chosen = choose(store, run, elites, best=args.best, pareto=args.pareto, program_id=args.program_id)
        for program in chosen:
            exported = export_program(store, run, program, Path(args.out))
            console.print(f"program {program.id} (score {program.score}) -> {exported.module} + {exported.provenance.name}")
    finally:
        store.close()
    return 0


def problems_dir(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit)
    local = Path("problems")
    return local if local.is_dir() else Path(__file__).resolve().parents[1] / "problems"


def cmd_problems(args: argparse.Namespace) -> int:
    folder = problems_dir(args.dir)
    table = Table(title=f"problems in {folder}")
    for column in ("problem", "description", "baselines (published score)"):
        table.add_column(column)
    for directory in sorted(p for p in folder.iterdir() if (p / "problem.toml").exists()):
        try:
            problem = load_problem(directory)
        except ProblemError as exc:
            table.add_row(directory.name, f"[red]{exc}[/red]", "")
            continue
        baselines = []
        for path in problem.baselines():
            key = f"baselines/{path.name}"
            reference = problem.references.get(key)
            baselines.append(path.stem + (f" ({reference:g})" if reference is not None else ""))
        summary = problem.description.strip().splitlines()[0] if problem.description.strip() else ""
        table.add_row(problem.name, summary, ", ".join(baselines))
    console.print(table)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from adrs.report import ReportError, ReportOptions, build_report

    archives = ([args.archive] if args.archive else []) + (args.compare or [])
    if not archives or (args.compare is not None and len(archives) < 2):
        console.print("[red]error:[/red] give an archive, or two or more with --compare A.sqlite B.sqlite")
        return 1
    options = ReportOptions(baselines=not args.no_baselines, run_id=args.run_id, problem_dir=args.problem_dir)
    try:
        path = build_report(archives, args.output, options, say=lambda line: console.print(escape(line)))
    except ReportError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        return 1
    console.print(f"Report: {path}")
    return 0


def _require_sandbox(name: str | None) -> None:
    """Fail before anything runs when the chosen sandbox cannot work here (the message says why)."""
    from adrs.evaluate import backends

    backends.require(name or "process")


def cmd_doctor(args: argparse.Namespace) -> int:
    from adrs.doctor import check, repair

    report = repair(args.archive, args.run_id) if args.repair else check(args.archive, args.run_id)
    for line in report.repaired:
        console.print(f"[green]repaired[/green] {escape(line)}")
    for finding in report.findings:
        fixable = "" if finding.repairable else " [dim](not repairable)[/dim]"
        console.print(f"[red]{finding.kind}[/red] {escape(finding.detail)}{fixable}")
    for note in report.notes:
        console.print(f"[dim]note[/dim] {escape(note)}")
    if report.clean:
        console.print("[green]ok[/green]: no inconsistency found")
        return 0
    if not args.repair and any(f.repairable for f in report.findings):
        console.print(f"{len(report.findings)} problem(s); `adrs doctor {args.archive} --repair` fixes the repairable ones")
    return 2


COMMANDS = {
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
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ProblemError, ArchiveError, ExportError, FileNotFoundError, LLMConfigError, LLMError, SandboxUnavailable, ExecutorError) as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
