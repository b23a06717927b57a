"""Read-only views of an archive for the terminal: `adrs status` and `adrs show`.

Owns: rendering the records adrs.api returns (`StatusReport`, `ProgramView`, an LLM `CallRecord`)
with rich. Code and diffs are never cut at the terminal's width: highlighted and wrapped on a
terminal, plain text (every character, no colour) when the output is a pipe or a file.
Must not: open, query or write an archive (adrs.api loads the records).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from adrs.archive.location import display_location
from adrs.archive.records import CallRecord, ModelUsage, ProgramStatus
from adrs.evaluate.result import Evaluation
from adrs.printable import markup, printable
from adrs.program import unified_diff

if TYPE_CHECKING:  # the records come from adrs.api, which imports this module
    from adrs.api import ProgramView, StatusReport


def _strategies(console: Console, status: StatusReport) -> None:
    """--evolve-selection: each strategy the model wrote, adopted, refused or rolled back, and why."""
    if not status.strategies:
        return
    last = status.strategies[-1]
    in_use = f"strategy {last.get('number')} in use" if last.get("outcome") == "adopted" else "none in use"
    console.print(f"written selection strategies: {in_use}")
    for event in status.strategies:
        console.print(
            f"  strategy {event.get('number')} {event.get('outcome')} at evaluation {event.get('at_evaluation')}: "
            f"{markup(printable(str(event.get('reason', ''))))}",
            soft_wrap=True,
        )


def _steering(console: Console, status: StatusReport) -> None:
    """A steerable run's steering (adrs serve --steer): paused or not, pinned and banned parents, hints."""
    steering = status.steering
    if not status.run.config.get("steerable") and steering.version == 0:
        return
    parts = ["paused by the dashboard" if steering.paused else "not paused"]
    if steering.pinned:
        parts.append("pinned " + ", ".join(f"#{i}" for i in steering.pinned))
    if steering.banned:
        parts.append("banned " + ", ".join(f"#{i}" for i in steering.banned))
    parts.append(f"{len(steering.hints)} hint(s)")
    console.print(f"steering: {'; '.join(parts)}")
    for hint in steering.hints:
        console.print(f"  hint ({hint.at:%Y-%m-%d %H:%M:%S} UTC): {markup(printable(hint.text))}", soft_wrap=True)


def render_status(console: Console, status: StatusReport) -> None:
    run, elites, counts = status.run, status.elites, status.counts
    console.print(
        f"[bold]Run {run.id}[/bold] of [bold]{run.problem_name}[/bold] ({run.status}), seed {run.seed}, created "
        f"{run.created_at:%Y-%m-%d %H:%M}"
    )
    console.print(f"archive: {status.archive_url}")
    if status.stopped:
        console.print(f"stopped: {markup(status.stopped)}")
    console.print(
        f"programs: {counts[ProgramStatus.EVALUATED]} evaluated, {counts[ProgramStatus.FAILED]} failed, "
        f"{counts[ProgramStatus.PENDING]} pending"
    )
    failures = status.failures
    if failures:
        console.print("failures: " + ", ".join(f"{k} {n}" for k, n in failures.most_common()))
    initial = next((p for p in elites.programs.values() if p.mutator == "initial"), None)
    best = elites.best()
    if best is not None:
        delta = (
            ""
            if initial is None or initial.score is None
            else f" ({best.score - initial.score:+.4g} over the initial {initial.score:.4g})"
        )
        best_id = best.original_id
        claim = next((c for c in reversed(status.best_claims) if c.program_id == best_id), None)
        shown = f"{best.score:.6g}"
        if claim is not None:  # a noisy problem: the mean the claim was judged on, with its standard error
            shown = f"{claim.score:.6g} ± {claim.uncertainty:.2g} over {claim.evaluations} evaluations"
        elif status.noise == 0:
            shown += " (deterministic: ± 0)"
        console.print(f"best: program {best_id}, score {shown}{delta}")
    _steering(console, status)
    _strategies(console, status)
    front = f"Pareto front: {len(elites.front)} programs; " if len(status.elites.problem.objectives) > 1 else ""
    console.print(f"{front}MAP-Elites cells per island: {elites.coverage()}")
    table = Table(title="top programs")
    for column in ("id", "score", "complete", "island", "gen", "mutator", "description"):
        table.add_column(column)
    top = sorted(
        (p for p in elites.programs.values() if p.migrated_from is None),
        key=lambda p: (p.complete, p.score or 0),
        reverse=True,
    )
    for p in top[:10]:
        shown = markup(p.description[:60])
        table.add_row(str(p.id), f"{p.score:.6g}", str(p.complete), str(p.island), str(p.generation), p.mutator, shown)
    console.print(table)
    _render_llm_usage(console, status.llm_usage)


def _render_llm_usage(console: Console, usage: list[ModelUsage]) -> None:
    if not usage:
        return
    table = Table(title="LLM usage")
    for column in ("model", "calls", "prompt tokens", "completion tokens", "cost $"):
        table.add_column(column)
    for row in usage:
        table.add_row(
            row.model, str(row.calls), str(row.prompt_tokens), str(row.completion_tokens), f"{row.cost_usd:.4f}"
        )
    console.print(table)


def print_code(console: Console, text: str, lexer: str, line_numbers: bool = False) -> None:
    """Program text, whole: wrapped at the width on a terminal, verbatim when the output is not one;
    control characters shown escaped either way (adrs/printable.py: the text is untrusted)."""
    text = printable(text)
    if console.is_terminal:
        from rich.syntax import Syntax  # pygments: only `adrs show` highlights code

        console.print(Syntax(text, lexer, line_numbers=line_numbers, word_wrap=True))
    else:
        console.print(
            text, markup=False, highlight=False, emoji=False, soft_wrap=True, end="" if text.endswith("\n") else "\n"
        )


def _render_evaluation(console: Console, e: Evaluation) -> None:
    if e.ok:
        metrics = ", ".join(f"{k}={v:.6g}" for k, v in sorted(e.metrics.items()))
        console.print(f"  [green]{e.stage}[/green] score {e.score:.6g} in {e.duration_s:.2f} s: {metrics}")
        if e.features:
            console.print("    features: " + ", ".join(f"{k}={v:.4g}" for k, v in e.features.items()))
        if e.feedback:
            console.print("    feedback: " + markup(e.feedback).replace("\n", "\n      "))
    else:
        console.print(f"  [red]{e.stage}[/red] failed ({e.error_kind}) in {e.duration_s:.2f} s")
        console.print("    " + markup(e.error.strip()).replace("\n", "\n    "))


def render_program(console: Console, view: ProgramView) -> None:
    program = view.program
    console.print(
        f"[bold]Program {program.id}[/bold]: {program.status}, score {program.score}, island {program.island}, "
        f"generation {program.generation}, parent {program.parent_id}, mutator {program.mutator}"
    )
    if program.description:
        console.print(f"description: {markup(program.description)}")
    if program.inspiration_ids:
        console.print(f"inspirations: {program.inspiration_ids}")
    if view.cited is not None:
        number, paradigm = view.cited
        console.print(
            f"[bold]Breakthrough {number}[/bold] approach its prompt followed: {markup(paradigm.name)}: "
            f"{markup(paradigm.approach)}" + (f" (why: {markup(paradigm.why)})" if paradigm.why else "")
        )
    console.print("[bold]Evaluations[/bold]")
    for evaluation in view.evaluations:
        _render_evaluation(console, evaluation)
    console.print("[bold]Code[/bold]")
    print_code(console, program.code, "python", line_numbers=True)
    if program.diff:
        console.print("[bold]Diff against parent[/bold]")
        print_code(console, program.diff, "diff")
    initial = view.initial
    if initial is not None and initial.id != program.id:
        console.print("[bold]Diff against the initial program[/bold]")
        print_code(console, unified_diff(initial.code, program.code, "initial", f"program {program.id}"), "diff")
    _render_llm_history(console, view)


# LLM calls ------------------------------------------------------------------------------------
def _render_llm_history(console: Console, view: ProgramView) -> None:
    """The call that produced this program, and the refused proposals made from it."""
    for record in view.llm_calls:
        console.print(f"[bold]LLM call {record.id}[/bold] that produced this program")
        _render_call_body(console, record)
    refused = view.refused
    if refused:
        console.print(f"[bold]Proposals from this program that yielded no program[/bold] ({len(refused)})")
        for payload in refused:
            call_id = payload.get("llm_call_id")
            more = f" (adrs show {display_location(view.archive_url)} {call_id} --call)" if call_id else ""
            console.print(
                f"  [red]{markup(str(payload.get('kind')))}[/red] {markup(str(payload.get('mutator', '')))}: "
                f"{markup(str(payload.get('error', ''))[:300])}{markup(more)}"
            )


def render_llm_call(console: Console, record: CallRecord) -> None:
    """`adrs show ARCHIVE ID --call`: one LLM call with its prompt, raw reply, parsed edits and outcome."""
    produced = f"produced program {record.program_id}" if record.program_id else "produced no program"
    console.print(f"[bold]LLM call {record.id}[/bold] ({record.model}) {produced}")
    _render_call_body(console, record)


def _render_call_body(console: Console, record: CallRecord) -> None:
    from adrs.edits_parse import parse_reply

    console.print(
        f"  model {markup(record.model)}, {record.prompt_tokens} prompt + "
        f"{record.completion_tokens} completion tokens, ${record.cost_usd:.4f}, {record.latency_s:.1f} s"
    )
    if record.error:
        console.print(f"  [red]why it yielded no program:[/red] {markup(record.error)}")
    console.print("[bold]Prompt[/bold]")
    console.print(markup(record.prompt), soft_wrap=True)
    console.print("[bold]Raw response[/bold]")
    console.print(markup(record.response) or "(empty)", soft_wrap=True)
    parsed = parse_reply(record.response)
    console.print("[bold]Parsed edits[/bold]")
    if parsed.problem:
        console.print(f"  [red]unreadable:[/red] {markup(parsed.problem)}")
    for number, block in enumerate(parsed.blocks, 1):
        console.print(f"  SEARCH/REPLACE block {number}:")
        print_code(console, f"<<<<<<< SEARCH\n{block.search}\n=======\n{block.replace}\n>>>>>>> REPLACE", "python")
    if parsed.rewrite is not None:
        console.print("  full rewrite:")
        print_code(console, parsed.rewrite, "python", line_numbers=True)
    if not parsed.blocks and parsed.rewrite is None and not parsed.problem:
        console.print("  (none found)")
