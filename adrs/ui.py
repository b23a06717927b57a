"""The live terminal view of a run (rich), and the closing summary.

Owns: rendering `Progress` as a budget bar plus a small table (evaluations/min, best score with
its uncertainty and its delta over the initial program, time since the best changed, time left and
which budget ends the run, LLM calls in flight, failed and dollars spent, failures by kind, the
archive's size and, for problems with several objectives, the Pareto front's, a pause while the LLM
endpoint is away or one a person asked for from `adrs serve --steer`). The table is re-rendered
from the live `Progress` at every refresh, so clocks and calls in flight move between evaluations.
Falls back to a line every few seconds when the output is not a terminal (CI logs, pipes), and at
once when a pause begins or ends. On a terminal only rich's refresh thread draws (four times a
second): the engine's thread never waits on a slow terminal, and a Ctrl-C never lands in the middle
of a frame the engine's thread was writing (rich would write that frame again, one copy below the
other). While the view is drawn, the terminal neither echoes control characters (an echoed "^C" at
the end of the last line can wrap it, after which rich's redraw leaves a stale copy of the bar
behind) nor discards the output not yet shown when Ctrl-C is typed (NOFLSH: a discarded part of a
frame leaves the cursor rows away from where rich believes it is).

Must not: change the run; it only reads the Progress it is handed.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from adrs.printable import markup
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


STEERING_PAUSE_LINE = "paused by the dashboard: no new proposals until it resumes the run (those under way finish)"


def _paused(progress: RunProgress) -> bool:
    return progress.paused is not None or progress.steering_paused


def duration(seconds: float) -> str:
    """3 s, 4m 05s, 2h 10m."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


def llm_line(p: RunProgress) -> str | None:
    if p.llm is None:
        return None
    spent = f"${p.llm.dollars:.4f} spent" + (f" of ${p.llm.cap:.2f}" if p.llm.cap is not None else "")
    return f"{p.llm.in_flight} in flight, {p.llm.calls} answered, {p.llm.failed} failed; {spent}"


def improvement_line(p: RunProgress) -> str:
    since = p.since_best_changed_s
    if since is None or p.best_id is None:
        return "no complete program yet"
    return f"{duration(since)} ago (program {p.best_id})"


def eta_line(p: RunProgress) -> str:
    left = p.time_left()
    if left is None:
        return "after the first evaluation"
    seconds, which = left
    return f"~{duration(seconds)} ({which})"


class _QuietTerminal:
    """While a live view is drawn: no echo of control characters (ECHOCTL off) and no flush of the
    pending output on Ctrl-C (NOFLSH on); the terminal's settings come back afterwards."""

    def __init__(self) -> None:
        self._saved: tuple[int, Any] | None = None

    def __enter__(self) -> None:
        try:
            import termios

            fd = sys.stdin.fileno()
            if not sys.stdin.isatty():
                return
            attributes = termios.tcgetattr(fd)
            quiet = list(attributes)
            quiet[3] = (quiet[3] & ~termios.ECHOCTL) | termios.NOFLSH
            termios.tcsetattr(fd, termios.TCSANOW, quiet)
            self._saved = (fd, attributes)
        except (ImportError, AttributeError, OSError, ValueError):
            self._saved = None  # no terminal to quieten (a pipe, a closed stdin, another platform)

    def __exit__(self, *exc: object) -> None:
        if self._saved is not None:
            import termios

            fd, attributes = self._saved
            try:
                termios.tcsetattr(fd, termios.TCSANOW, attributes)
            except OSError:
                pass


class LiveView:
    """Context manager: `with LiveView(console, title) as view: engine(on_progress=view.update)`."""

    def __init__(self, console: Console, title: str, budget: int):
        self.console = console
        self.title = title
        self.interactive = console.is_terminal
        self.bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self.task = self.bar.add_task(title, total=budget)
        self.progress: RunProgress | None = None
        self.live = (
            Live(console=console, refresh_per_second=4, transient=False, get_renderable=self._renderable)
            if self.interactive
            else None
        )
        self._terminal = _QuietTerminal()
        self._drawn = Group(self.bar)
        self._last_line = 0.0
        self._was_paused = False

    def __enter__(self) -> LiveView:
        if self.live is not None:
            self._terminal.__enter__()
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            try:
                self.live.__exit__(*exc)
            finally:
                self._terminal.__exit__(*exc)

    def update(self, progress: RunProgress) -> None:
        """Called on the engine's thread. On a terminal it only hands the progress over: rich's
        refresh thread draws it, and the last state is drawn when the view closes."""
        self.progress = progress
        self.bar.update(self.task, completed=progress.evaluated)
        if self.live is None and (
            time.monotonic() - self._last_line > 5
            or progress.evaluated == progress.budget
            or self._was_paused != _paused(progress)
        ):
            self._last_line = time.monotonic()
            self.console.print(self.line(progress), markup=False, highlight=False)
            if progress.paused is not None:  # its own line, so the console's wrapping never splits it
                self.console.print(pause_line(progress.paused), markup=False, highlight=False)
            if progress.steering_paused:
                self.console.print(STEERING_PAUSE_LINE, markup=False, highlight=False)
        self._was_paused = _paused(progress)

    def _renderable(self) -> Group:
        if self.progress is None:
            return Group(self.bar)
        try:
            self._drawn = Group(self.bar, self.table(self.progress))
        except RuntimeError:  # the engine changed a counter while this (refresh) thread read it
            pass
        return self._drawn

    def line(self, p: RunProgress) -> str:
        fails = ", ".join(f"{k} {n}" for k, n in p.failures.most_common()) or "none"
        parts = [
            f"[{p.evaluated}/{p.budget}] {p.per_minute:.1f} evals/min",
            f"best {_score(p.best_score, p.best_uncertainty)} (initial {_fmt(p.initial_score)}), "
            f"changed {improvement_line(p)}",
            f"ETA {eta_line(p)}",
            f"archive {p.archive_size}" + (f", front {p.front_size}" if p.objectives > 1 else ""),
            f"failures: {fails}",
        ]
        llm = llm_line(p)
        if llm is not None:
            parts.insert(3, f"LLM {llm}")
        return " | ".join(parts)

    def table(self, p: RunProgress) -> Table:
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
        if p.steering_paused:
            table.add_row("[yellow]paused[/yellow]", STEERING_PAUSE_LINE)
        table.add_row("best changed", improvement_line(p))
        table.add_row("time left", eta_line(p))
        llm = llm_line(p)
        if llm is not None:
            table.add_row("LLM calls", llm)
        table.add_row("failures", ", ".join(f"{k}: {n}" for k, n in p.failures.most_common()) or "none")
        table.add_row(
            "rejected before evaluation",
            f"{p.duplicates} duplicates, {p.too_similar} too similar, {p.no_edit} without a valid edit",
        )
        if p.objectives > 1:
            table.add_row("archive / Pareto front", f"{p.archive_size} programs / {p.front_size}")
        else:
            table.add_row("archive", f"{p.archive_size} programs")
        return table


def print_summary(console: Console, summary: RunSummary, archive_path: str) -> None:
    best = summary.best
    console.print()
    stopped = markup(summary.stop_reason or "done")
    console.print(f"[bold]Stopped:[/bold] {stopped}; {summary.evaluated} evaluations this session")
    if best is not None:
        original = best.original_id
        delta = (
            ""
            if summary.initial_score is None or best.score is None
            else f" ({best.score - summary.initial_score:+.4g} over the initial program)"
        )
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
