"""Read-only views of an archive for the terminal: `adrs status` and `adrs show`.

Owns: rendering runs, programs and evaluations with rich. Must not: write to the archive.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.syntax import Syntax
from rich.table import Table
from sqlalchemy import func, select

from adrs.archive.elites import Elites
from adrs.archive.schema import LLMCall
from adrs.archive.store import Archive, RunRecord
from adrs.evaluate.result import Evaluation
from adrs.problem import Problem
from adrs.program import unified_diff


def load_elites(archive: Archive, run: RunRecord, problem: Problem) -> Elites:
    elites = Elites(problem, int(run.config.get("islands", 1)))
    for program in archive.programs(run.id):
        if program.status != "pending":
            elites.add(program)
    return elites


def render_status(console: Console, archive: Archive, run: RunRecord, elites: Elites) -> None:
    counts = archive.status_counts(run.id)
    console.print(f"[bold]Run {run.id}[/bold] of [bold]{run.problem_name}[/bold] ({run.status}), seed {run.seed}, created {run.created_at:%Y-%m-%d %H:%M}")
    console.print(f"archive: {archive.url}")
    console.print(
        f"programs: {counts.get('evaluated', 0)} evaluated, {counts.get('failed', 0)} failed, {counts.get('pending', 0)} pending"
    )
    failures = archive.failure_counts(run.id)
    if failures:
        console.print("failures: " + ", ".join(f"{k} {n}" for k, n in failures.most_common()))
    initial = next((p for p in elites.programs.values() if p.mutator == "initial"), None)
    best = elites.best()
    if best is not None:
        delta = "" if initial is None or initial.score is None else f" ({best.score - initial.score:+.4g} over the initial {initial.score:.4g})"
        console.print(f"best: program {best.migrated_from or best.id}, score {best.score:.6g}{delta}")
    console.print(f"Pareto front: {len(elites.front)} programs; MAP-Elites cells per island: {elites.coverage()}")
    table = Table(title="top programs")
    for column in ("id", "score", "complete", "island", "gen", "mutator", "description"):
        table.add_column(column)
    top = sorted(
        (p for p in elites.programs.values() if p.migrated_from is None), key=lambda p: (p.complete, p.score or 0), reverse=True
    )
    for p in top[:10]:
        table.add_row(str(p.id), f"{p.score:.6g}", str(p.complete), str(p.island), str(p.generation), p.mutator, p.description[:60])
    console.print(table)
    _render_llm_usage(console, archive, run)


def _render_llm_usage(console: Console, archive: Archive, run: RunRecord) -> None:
    with archive._session() as s:
        rows = list(
            s.execute(
                select(
                    LLMCall.model,
                    func.count(),
                    func.sum(LLMCall.prompt_tokens),
                    func.sum(LLMCall.completion_tokens),
                    func.sum(LLMCall.cost_usd),
                )
                .where(LLMCall.run_id == run.id)
                .group_by(LLMCall.model)
            )
        )
    if not rows:
        return
    table = Table(title="LLM usage")
    for column in ("model", "calls", "prompt tokens", "completion tokens", "cost $"):
        table.add_column(column)
    for model, calls, prompt, completion, cost in rows:
        table.add_row(model, str(calls), str(prompt or 0), str(completion or 0), f"{cost or 0:.4f}")
    console.print(table)


def _render_evaluation(console: Console, e: Evaluation) -> None:
    if e.ok:
        metrics = ", ".join(f"{k}={v:.6g}" for k, v in sorted(e.metrics.items()))
        console.print(f"  [green]{e.stage}[/green] score {e.score:.6g} in {e.duration_s:.2f} s: {metrics}")
        if e.features:
            console.print("    features: " + ", ".join(f"{k}={v:.4g}" for k, v in e.features.items()))
        if e.feedback:
            console.print("    feedback: " + escape(e.feedback).replace("\n", "\n      "))
    else:
        console.print(f"  [red]{e.stage}[/red] failed ({e.error_kind}) in {e.duration_s:.2f} s")
        console.print("    " + escape(e.error.strip()).replace("\n", "\n    "))


def render_program(console: Console, archive: Archive, run: RunRecord, program_id: int) -> None:
    program = archive.program(program_id)
    console.print(
        f"[bold]Program {program.id}[/bold]: {program.status}, score {program.score}, island {program.island}, "
        f"generation {program.generation}, parent {program.parent_id}, mutator {program.mutator}"
    )
    if program.description:
        console.print(f"description: {escape(program.description)}")
    if program.inspiration_ids:
        console.print(f"inspirations: {program.inspiration_ids}")
    console.print("[bold]Evaluations[/bold]")
    for evaluation in archive.evaluations(program.migrated_from or program.id):
        _render_evaluation(console, evaluation)
    console.print("[bold]Code[/bold]")
    console.print(Syntax(program.code, "python", line_numbers=True))
    if program.diff:
        console.print("[bold]Diff against parent[/bold]")
        console.print(Syntax(program.diff, "diff"))
    initial = next((p for p in archive.programs(run.id) if p.mutator == "initial"), None)
    if initial is not None and initial.id != program.id:
        console.print("[bold]Diff against the initial program[/bold]")
        console.print(Syntax(unified_diff(initial.code, program.code, "initial", f"program {program.id}"), "diff"))
