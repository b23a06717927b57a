"""`adrs run` and `adrs resume`: start, join or continue a run, with its live view.

Owns what these commands do with their options: which are passed to adrs.api (only those given:
unset ones keep RunConfig's default, or the stored run's value on resume and `--join`), the run
header (mutator, sandbox, data), driving the run under the live view (adrs/ui.py), and the exit
code: 0 done, EXIT_RUN_FAILED (3) when the run stopped on a failure, 130 interrupted (nothing
evaluated is lost: the message says how to resume).

Must not: evolve or open an archive itself (adrs.api does), or parse arguments (adrs/cli_parser.py).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
from typing import TYPE_CHECKING, Any

from adrs import api  # lazy: each command loads only the modules it uses (adrs eval never loads SQLAlchemy)
from adrs.archive.select import SelectionConfig
from adrs.cli_console import _warn, console
from adrs.cli_parser import _default
from adrs.config import RunConfig
from adrs.printable import markup
from adrs.search.config import AdaptiveConfig

if TYPE_CHECKING:
    from adrs.api import MutatorPlan

EXIT_RUN_FAILED = 3  # a run that stopped on a failure (see the module docstring)


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
    if args.evolve_selection:
        settings["adaptive"] = _with_written_strategy(problem.run_defaults.get("adaptive"))
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


def _with_written_strategy(defaults: Any) -> AdaptiveConfig:
    """The adaptive settings of `--evolve-selection`: the folder's own (if any), a written strategy on."""
    base = AdaptiveConfig.from_dict(defaults) if isinstance(defaults, dict) else defaults or AdaptiveConfig()
    return dataclasses.replace(base, written_strategy=True)


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
