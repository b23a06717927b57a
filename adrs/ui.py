"""The live terminal view of a run (rich), and the closing summary.

Owns: rendering `Progress` as a budget bar plus a small table (evaluations/min, best score with
its uncertainty and its delta over the initial program, failures by kind, archive and Pareto-front
sizes, a pause while the LLM endpoint is away). Falls back to a line every few seconds when the
output is not a terminal (CI logs, pipes), and at once when a pause begins or ends.

Must not: change the run; it only reads the Progress it is handed.
"""

from __future__ import annotations

import time

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from adrs.progress import Pause, RunSummary
from adrs.progress import Progress as RunProgress


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _score(value: float | None, uncertainty: float | None) -> str:
    """A score with its uncertainty when it has one (a noisy problem): 81.2 ± 0.58."""
    if value is None or not uncertainty:
        return _fmt(value)
    return f"{value:.4g} ± {uncertainty:.2g}"


def pause_line(pause: Pause) -> str:
    now = time.time()
    return (
        f"paused: the LLM endpoint is unreachable ({pause.reason}); since {now - pause.since:.0f} s, "
        f"next try in {max(0.0, pause.next_try_at - now):.0f} s, giving up in {max(0.0, pause.gives_up_at - now):.0f} s"
    )


class LiveView:
    """Context manager: `with LiveView(console, title) as view: engine(on_progress=view.update)`."""

    def __init__(self, console: Console, title: str, budget: int):
        self.console = console
        self.title = title
        self.interactive = console.is_terminal
        self.bar = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
        )
        self.task = self.bar.add_task(title, total=budget)
        self.live = Live(console=console, refresh_per_second=4, transient=False) if self.interactive else None
        self._last_line = 0.0
        self._was_paused = False

    def __enter__(self) -> LiveView:
        if self.live is not None:
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)

    def update(self, progress: RunProgress) -> None:
        self.bar.update(self.task, completed=progress.evaluated)
        if self.live is not None:
            self.live.update(Group(self.bar, self._table(progress)))
        elif (
            time.monotonic() - self._last_line > 5
            or progress.evaluated == progress.budget
            or self._was_paused != (progress.paused is not None)
        ):
            self._last_line = time.monotonic()
            self.console.print(self._line(progress))
        self._was_paused = progress.paused is not None

    def _line(self, p: RunProgress) -> str:
        fails = ", ".join(f"{k} {n}" for k, n in p.failures.most_common()) or "none"
        line = (
            f"[{p.evaluated}/{p.budget}] {p.per_minute:.1f} evals/min "
            f"| best {_score(p.best_score, p.best_uncertainty)} "
            f"(initial {_fmt(p.initial_score)}) | archive {p.archive_size} | front {p.front_size} | failures: {fails}"
        )
        return line if p.paused is None else f"{line} | {pause_line(p.paused)}"

    def _table(self, p: RunProgress) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="dim")
        table.add_column()
        delta = None if p.best_score is None or p.initial_score is None else p.best_score - p.initial_score
        table.add_row("evaluations/min", f"{p.per_minute:.1f}")
        best = _score(p.best_score, p.best_uncertainty)
        sign = "+" if (delta or 0) >= 0 else ""
        table.add_row("best score", f"{best} (program {p.best_id}, {sign}{_fmt(delta)} over initial)")
        if p.paused is not None:
            table.add_row("[yellow]paused[/yellow]", pause_line(p.paused))
        table.add_row("failures", ", ".join(f"{k}: {n}" for k, n in p.failures.most_common()) or "none")
        table.add_row(
            "rejected before evaluation",
            f"{p.duplicates} duplicates, {p.too_similar} too similar, {p.no_edit} without a valid edit",
        )
        table.add_row("archive / Pareto front", f"{p.archive_size} programs / {p.front_size}")
        return table


def print_summary(console: Console, summary: RunSummary, archive_path: str) -> None:
    best = summary.best
    console.print()
    console.print(f"[bold]Stopped:[/bold] {summary.stop_reason or 'done'}; {summary.evaluated} evaluations this session")
    if best is not None:
        original = best.migrated_from or best.id
        delta = "" if summary.initial_score is None or best.score is None else f" ({best.score - summary.initial_score:+.4g} over the initial program)"
        score = _score(best.score, summary.best_uncertainty)
        repeats = f" over {summary.best_evaluations} evaluations" if summary.best_evaluations > 1 else ""
        console.print(f"[bold]Best:[/bold] program {original}, score {score}{repeats}{delta}")
    if summary.holdout_score is not None and best is not None and best.score is not None:
        holdout = _score(summary.holdout_score, summary.holdout_uncertainty)
        console.print(f"[bold]Holdout:[/bold] {holdout} (gap {summary.holdout_score - best.score:+.4g})")
    if summary.rescores:
        console.print(
            f"[bold]Re-scoring:[/bold] {summary.rescores} more evaluations of contenders for the best (noisy problem)"
        )
    console.print(f"[bold]Archive:[/bold] {archive_path}")
