"""The `adrs` command line's argument parser: every command, option, default and help text.

Owns `build_parser` and its helpers: the options `adrs run` and `adrs resume` share
(`_add_run_options`), the argparse types, and the defaults the help texts quote, read from
RunConfig and SelectionConfig (adrs/config.py), so a help text never disagrees with the default
the run takes. Every run option defaults to None: an unset option keeps RunConfig's default (run)
or the stored value (resume); the commands (adrs/cli_run.py) pass on only the options given.

Must not: run a command, print, or import what a command needs (adrs.api, rich's renderers): the
parser is built on every start, `adrs status` included (adrs/cli.py's start-up).
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from adrs.archive.select import STRATEGIES, SelectionConfig
from adrs.config import MUTATORS, RunConfig
from adrs.executors import EXECUTORS
from adrs.sandbox import BACKENDS as SANDBOXES
from adrs.serve import DEFAULT_PORT, LOOPBACK


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
        "--evolve-selection",
        action="store_true",
        help="with --selection adaptive and a model: a stalled run has the model write its parent-selection "
        "function, run in the sandbox, rolled back when it fails or stalls",
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
