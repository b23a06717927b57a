"""`adrs report`: from archives to one HTML file. Wires extraction, baselines, figures and the page.

Owns: opening the archives, loading each run's problem, scoring the baselines when asked,
checking that matplotlib is there (with a message naming the `adrs[report]` extra), rendering
every figure and writing the page.

Must not: compute series itself (data.py), draw (figures.py) or lay out HTML (html.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from adrs.archive.store import Archive, ArchiveError
from adrs.problem import ProblemError, load_run_problem
from adrs.report.data import RunData, archive_label, load_run_data

INSTALL_HINT = "pip install 'adrs[report]'  (or: uv pip install matplotlib)"


class ReportError(RuntimeError):
    """A report that cannot be made; the message says what to do."""


@dataclass(frozen=True)
class ReportOptions:
    baselines: bool = True  # score the problem's baselines (one evaluation per stage each; successes are cached)
    run_id: int | None = None  # which run of a single archive (default: the latest)
    problem_dir: str | None = None  # where the problem lives now, if it moved since the run


def require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ReportError(
            f"adrs report draws its figures with matplotlib, which is not installed: {INSTALL_HINT}"
        ) from exc


def collect(archives: list[str], options: ReportOptions, say: Callable[[str], None] = lambda _m: None) -> list[RunData]:
    runs = []
    for index, location in enumerate(archives):
        try:
            store = Archive.open(location, create=False, read_only=True)
        except ArchiveError as exc:
            raise ReportError(str(exc)) from exc
        try:
            run = store.run(options.run_id if len(archives) == 1 else None)
            try:
                problem = load_run_problem(run.problem_root, options.problem_dir)
            except ProblemError as exc:
                raise ReportError(str(exc)) from exc
            label = archive_label(location, run)
            tag = chr(ord("A") + index) if len(archives) > 1 else ""
            data = load_run_data(store, run, problem, f"{tag}: {label}" if tag else label)
            data.tag = tag
            if problem.fingerprint() != run.problem_fingerprint:
                data.baseline_note = (
                    "the problem's files changed since this run; baselines are scored with the current evaluator."
                )
            if options.baselines:
                _add_baselines(data, say)
            else:
                data.baseline_note = (
                    data.baseline_note + " " if data.baseline_note else ""
                ) + "baselines not scored (--no-baselines)."
            runs.append(data)
        finally:
            store.close()
    names = {run.problem.name for run in runs}
    if len(names) > 1:
        raise ReportError(f"--compare needs runs of one problem; these are of {sorted(names)}")
    return runs


def _add_baselines(data: RunData, say: Callable[[str], None]) -> None:
    from adrs.report.baselines import baseline_scores

    if not data.problem.baselines():
        data.baseline_note = (
            data.baseline_note + " " if data.baseline_note else ""
        ) + "the problem has no baselines/ folder."
        return
    data.baselines, data.baseline_stage = baseline_scores(data.run, data.problem, say)


def render(runs: list[RunData]) -> str:
    require_matplotlib()
    from adrs.report import figures
    from adrs.report.html import render_page
    from adrs.report.run_sections import wants_dollar_plot

    drawn = {
        "progress": figures.best_over_evaluations(runs),
        "time": figures.best_over_time(runs),
        "pareto": figures.pareto(runs),
        "coverage": figures.coverage(runs),
        "lineage": figures.lineage(runs),
        "outcomes": figures.outcomes(runs),
        "times": figures.evaluation_times(runs),
    }
    if wants_dollar_plot(runs):
        drawn["dollars"] = figures.best_over_dollars(runs)
    return render_page(runs, drawn)


def build_report(
    archives: list[str],
    output: str | Path,
    options: ReportOptions | None = None,
    say: Callable[[str], None] = lambda _m: None,
) -> Path:
    """Write the report of one archive (or several, compared on the same plots) to `output`."""
    if not archives:
        raise ReportError("no archive given")
    require_matplotlib()  # before any baseline evaluation is spent
    runs = collect(archives, options or ReportOptions(), say)
    if not any(run.timeline for run in runs):
        raise ReportError(f"{', '.join(archives)}: no evaluated program yet; nothing to report")
    page = render(runs)
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
