"""The report's figures, drawn with matplotlib (the optional extra `adrs[report]`) into PNG bytes.

Owns: one function per figure, each taking the runs to show (one, or several to compare on the
same axes) and returning PNG bytes. Uses matplotlib's object API on the Agg canvas (no pyplot,
so no global figure state and no display is ever needed). Figures of one row of plots have fixed
margins in inches, wide enough for tick labels of a few digits and the axis labels: a layout
engine (constrained, or a "tight" bounding box) measures every text first and costs about as much
as drawing. The coverage and outcome figures (legends and colour bars beside the plots) keep
matplotlib's constrained layout. Where the timeline carries score uncertainties, best-score curves
get a band of one standard error.

Must not: read the archive or write HTML; deciding whether a figure is meaningful (e.g. dollars
spent by an offline run) is the page's job.
"""

from __future__ import annotations

import io
import math

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from adrs.report.data import COMPLETE, ParetoAxes, RunData
from adrs.report.grids import cell_matrix, tick_labels

DPI = 100
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
OUTCOME_COLOURS = {COMPLETE: "#2ca02c", "threshold": "#9ecae1"}
FAILURE_COLOURS = ("#d62728", "#ff7f0e", "#8c564b", "#e377c2", "#bcbd22", "#7f7f7f", "#17becf", "#9467bd", "#000000")


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


MARGINS_IN = {"left": 0.85, "right": 0.2, "bottom": 0.6, "top": 0.4}  # inches around one row of plots


def _figure(width: float, height: float, columns: int = 1) -> Figure:
    """A figure for one row of `columns` plots, with fixed margins (no layout pass)."""
    figure = Figure(figsize=(width, height))
    figure.subplots_adjust(
        left=MARGINS_IN["left"] / width,
        right=1 - MARGINS_IN["right"] / width,
        bottom=MARGINS_IN["bottom"] / height,
        top=1 - MARGINS_IN["top"] / height,
        wspace=0.3 if columns > 1 else 0.2,
    )
    return figure


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    # zlib level 1: PNG encoding was a third of the drawing time at the default level; files grow ~10 %.
    figure.savefig(buffer, format="png", dpi=DPI, pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


def _legend(axes, **options) -> None:
    """A legend only where something is labelled (a run with no complete program draws no curve)."""
    if axes.get_legend_handles_labels()[0]:
        axes.legend(**options)


def _finish(figure, axes, xlabel: str, ylabel: str, title: str, **legend) -> bytes:
    """Labels, title, grid and legend of a one-axes plot, as PNG bytes."""
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title, fontsize=10)
    axes.grid(alpha=0.3)
    _legend(axes, fontsize=8, **legend)
    return _png(figure)


def _best_so_far(values: list[tuple[float, float | None]]) -> tuple[list[float], list[float]]:
    xs, ys, _ = _best_with_uncertainty([(x, y, None) for x, y in values])
    return xs, ys


def _best_with_uncertainty(
    values: list[tuple[float, float | None, float | None]],
) -> tuple[list[float], list[float], list[float | None]]:
    """The best score so far at each x, with the uncertainty of the program that holds it."""
    xs, ys, us = [], [], []
    best: float | None = None
    spread: float | None = None
    for x, y, u in values:
        if y is not None and (best is None or y > best):
            best, spread = y, u
        if best is not None:
            xs.append(x)
            ys.append(best)
            us.append(spread)
    return xs, ys, us


def _best_curve(axes, xs: list[float], ys: list[float], us: list[float | None], colour_: str, label: str) -> None:
    """The best-so-far step curve, with a band of one standard error where the scores carry one."""
    axes.step(xs, ys, where="post", color=colour_, linewidth=2, label=label)
    if any(u is not None for u in us):
        low = [y - (u or 0.0) for y, u in zip(ys, us, strict=True)]
        high = [y + (u or 0.0) for y, u in zip(ys, us, strict=True)]
        axes.fill_between(xs, low, high, step="post", color=colour_, alpha=0.18, linewidth=0)


def _baseline_lines(axes, runs: list[RunData]) -> None:
    drawn = set()
    for run in runs:
        for baseline in run.baselines:
            if baseline.score is None or (baseline.name, round(baseline.score, 6)) in drawn:
                continue
            drawn.add((baseline.name, round(baseline.score, 6)))
            axes.axhline(baseline.score, color="#555555", linestyle=":", linewidth=1)
            axes.annotate(
                f"baseline {baseline.name} ({baseline.score:.4g})",
                (0.01, baseline.score),
                xycoords=("axes fraction", "data"),
                fontsize=8,
                color="#333333",
                va="bottom",
            )


def best_over_evaluations(runs: list[RunData]) -> bytes:
    figure = _figure(8, 4.2)
    axes = figure.add_subplot()
    for i, run in enumerate(runs):
        complete = [(p.index, p.score) for p in run.timeline if p.complete and p.score is not None]
        partial = [(p.index, p.score) for p in run.timeline if not p.complete and p.score is not None]
        if complete:
            axes.scatter(*zip(*complete, strict=True), s=10, color=colour(i), alpha=0.35, linewidths=0)
        if partial:
            axes.scatter(*zip(*partial, strict=True), s=10, facecolors="none", edgecolors=colour(i), alpha=0.35)
        xs, ys, us = _best_with_uncertainty(
            [(p.index, p.score if p.complete else None, p.uncertainty) for p in run.timeline]
        )
        if xs:
            _best_curve(axes, xs, ys, us, colour(i), f"{run.label}: best complete")
    _baseline_lines(axes, runs)
    return _finish(
        figure,
        axes,
        "evaluations (in the order they finished)",
        f"score ({runs[0].problem.evolution_stages[-1].name} stage)",
        "Best score over evaluations (dots: every program; hollow: stopped at a threshold)",
        loc="lower right",
    )


def time_unit(seconds: float) -> tuple[str, float]:
    """The unit a wall-clock axis spanning `seconds` reads best in, and its size in seconds."""
    if seconds > 2 * 3600:
        return "hours", 3600.0
    if seconds > 120:
        return "minutes", 60.0
    return "seconds", 1.0


def best_over_time(runs: list[RunData]) -> bytes:
    """Best complete score against wall-clock time since each run was created (pauses between
    sessions of a resumed run included)."""
    figure = _figure(8, 4.2)
    axes = figure.add_subplot()
    span = max((p.elapsed_s for run in runs for p in run.timeline), default=0.0)
    unit, size = time_unit(span)
    for i, run in enumerate(runs):
        complete = [(p.elapsed_s / size, p.score) for p in run.timeline if p.complete and p.score is not None]
        if complete:
            axes.scatter(*zip(*complete, strict=True), s=10, color=colour(i), alpha=0.35, linewidths=0)
        xs, ys, us = _best_with_uncertainty(
            [(p.elapsed_s / size, p.score if p.complete else None, p.uncertainty) for p in run.timeline]
        )
        if xs:
            _best_curve(axes, xs, ys, us, colour(i), f"{run.label}: best complete")
    _baseline_lines(axes, runs)
    return _finish(
        figure,
        axes,
        f"wall-clock {unit} since the run was created",
        "best complete score",
        "Best score over wall-clock time",
        loc="lower right",
    )


def best_over_dollars(runs: list[RunData]) -> bytes:
    figure = _figure(8, 4.2)
    axes = figure.add_subplot()
    for i, run in enumerate(runs):
        if run.dollars <= 0:
            continue
        xs, ys = _best_so_far([(p.dollars, p.score if p.complete else None) for p in run.timeline])
        if xs:
            axes.step(
                xs, ys, where="post", color=colour(i), linewidth=2, label=f"{run.label} (${run.dollars:.2f} in all)"
            )
    _baseline_lines(axes, runs)
    return _finish(
        figure, axes, "LLM dollars spent", "best complete score", "Best score over dollars", loc="lower right"
    )


def pareto(runs: list[RunData]) -> bytes:
    """Two objectives: the first two against each other. One objective: it against the first descriptor."""
    axes_of = ParetoAxes.of(runs[0].objectives, runs[0].descriptor_names)
    x_label, y_label, coords = axes_of.x_label, axes_of.y_label, axes_of.coords
    figure = _figure(8, 5)
    axes = figure.add_subplot()
    for i, run in enumerate(runs):
        cloud = [coords(p.objectives, p.descriptors) for p in run.complete_points]
        cloud = [c for c in cloud if None not in c]
        if cloud:
            axes.scatter(*zip(*cloud, strict=True), s=16, color=colour(i), alpha=0.4, linewidths=0)
        front = sorted(c for c in (coords(p.objectives, p.descriptors) for p in run.front) if None not in c)
        if front:
            axes.plot(
                *zip(*front, strict=True), marker="o", color=colour(i), linewidth=1.5, label=f"{run.label}: front"
            )
    drawn = set()
    for run in runs:
        for baseline in run.baselines:
            point = coords(baseline.objectives, baseline.descriptors)
            if None in point or (baseline.name, point) in drawn:
                continue
            drawn.add((baseline.name, point))
            axes.scatter([point[0]], [point[1]], marker="*", s=160, color="black", zorder=5)
            axes.annotate(f" {baseline.name}", point, fontsize=8, va="center")
    return _finish(
        figure,
        axes,
        x_label,
        y_label,
        "Pareto front of the final archive (stars: baselines; faint: every complete program)",
    )


def coverage(runs: list[RunData]) -> bytes:
    """One heat map per island and run: each occupied MAP-Elites cell coloured by its elite's score."""
    columns, rows = max(len(run.grids) for run in runs), len(runs)
    row_height = 3.0 if len(runs[0].grids[0].features) > 1 else 1.8
    width, height = 3.3 * columns + 1.2, row_height * rows + 0.4
    # Fixed margins (inches): rotated bin labels and the feature name below each map, its title above,
    # the shared colour bar on the right.
    below, above, left, right, gap = 0.85, 0.35, 0.75, 1.1, 1.25
    axes_height = (height - below - above - gap * (rows - 1)) / rows
    figure = Figure(figsize=(width, height))
    figure.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        bottom=below / height,
        top=1 - above / height,
        wspace=0.12,
        hspace=gap / axes_height,
    )
    scores = [s for run in runs for grid in run.grids for s in grid.elite_scores.values()]
    low, high = (min(scores), max(scores)) if scores else (0.0, 1.0)
    if low == high:
        low, high = low - 0.5, high + 0.5
    image = None
    for row, run in enumerate(runs):
        for col, grid in enumerate(run.grids):
            axes = figure.add_subplot(len(runs), columns, row * columns + col + 1)
            matrix, x_feature, y_feature = cell_matrix(grid)
            image = axes.imshow(matrix, origin="lower", cmap="viridis", vmin=low, vmax=high, aspect="auto")
            axes.set_xticks(range(len(matrix[0])), tick_labels(x_feature), rotation=60, fontsize=6)
            if y_feature is None:
                axes.set_yticks([])
            elif col == 0:  # one row of islands shares its y axis: label it once
                axes.set_yticks(range(len(matrix)), tick_labels(y_feature), fontsize=6)
                axes.set_ylabel(y_feature.name, fontsize=7)
            else:
                axes.set_yticks(range(len(matrix)), [])
            axes.set_xlabel(x_feature.name, fontsize=7)
            title = f"island {grid.island}: {len(grid.elite_scores)}/{grid.capacity} cells"
            axes.set_title(f"{run.tag} · {title}" if run.tag else title, fontsize=8)
    if image is not None:
        bar = figure.add_axes((1 - 0.85 / width, below / height, 0.15 / width, 1 - (below + above) / height))
        figure.colorbar(image, cax=bar, label="elite score")
    return _png(figure)


def lineage(runs: list[RunData]) -> bytes:
    figure = _figure(8, 4.5)
    axes = figure.add_subplot()
    for i, run in enumerate(runs):
        steps = run.lineage
        for step_index, step in enumerate(steps):
            if step.sibling_scores:
                axes.scatter(
                    [step_index] * len(step.sibling_scores), step.sibling_scores, s=8, color="#999999", alpha=0.5
                )
        points = [(k, s.score) for k, s in enumerate(steps) if s.score is not None]
        if not points:
            continue
        axes.plot(
            *zip(*points, strict=True), color=colour(i), linewidth=1.5, label=f"{run.label}: lineage of #{run.best_id}"
        )
        for k, step in enumerate(steps):
            if step.score is None:
                continue
            filled = colour(i) if step.complete else "none"
            axes.scatter([k], [step.score], s=36, facecolors=filled, edgecolors=colour(i), zorder=4)
            axes.annotate(f"#{step.program_id}", (k, step.score), textcoords="offset points", xytext=(3, 5), fontsize=7)
    _baseline_lines(axes, runs)
    longest = max(len(run.lineage) for run in runs)
    axes.set_xlim(-0.5, max(1, longest) - 0.5)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    return _finish(
        figure,
        axes,
        "step from the initial program",
        "score",
        "Lineage of the best program (grey: the other children of each step's parent)",
        loc="lower right",
    )


def outcomes(runs: list[RunData]) -> bytes:
    """Outcome of each evaluation over time, stacked per window of evaluations."""
    kinds = sorted(
        {p.outcome for run in runs for p in run.timeline} - {COMPLETE}, key=lambda k: (k.startswith("below"), k)
    )
    order = [COMPLETE] + [k for k in kinds if k.startswith("below")] + [k for k in kinds if not k.startswith("below")]
    failure_index = {k: n for n, k in enumerate(k for k in order if k != COMPLETE and not k.startswith("below"))}
    figure = Figure(figsize=(8, 2.6 * len(runs) + 0.6), layout="constrained")
    for row, run in enumerate(runs):
        axes = figure.add_subplot(len(runs), 1, row + 1)
        total = len(run.timeline)
        width = max(1, math.ceil(total / 15))
        windows = max(1, math.ceil(total / width))
        bottoms = [0] * windows
        for kind in order:
            counts = [0] * windows
            for p in run.timeline:
                if p.outcome == kind:
                    counts[(p.index - 1) // width] += 1
            if not any(counts):
                continue
            if kind == COMPLETE:
                shade = OUTCOME_COLOURS[COMPLETE]
            elif kind.startswith("below"):
                shade = OUTCOME_COLOURS["threshold"]
            else:
                shade = FAILURE_COLOURS[failure_index[kind] % len(FAILURE_COLOURS)]
            lefts = [w * width + 1 for w in range(windows)]
            axes.bar(lefts, counts, width=width * 0.9, bottom=bottoms, align="edge", color=shade, label=kind)
            bottoms = [b + c for b, c in zip(bottoms, counts, strict=True)]
        axes.set_ylabel(f"per {width} evals", fontsize=8)
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_title(run.label if len(runs) > 1 else "Outcome of each evaluation over time", fontsize=9)
        _legend(axes, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.axes[-1].set_xlabel("evaluation number")
    return _png(figure)


def evaluation_times(runs: list[RunData]) -> bytes:
    stages = []
    for run in runs:
        for t in run.stage_times:
            if t.stage not in stages:
                stages.append(t.stage)
    figure = _figure(3.2 * max(1, len(stages)) + 0.5, 3.2, columns=max(1, len(stages)))
    for col, stage in enumerate(stages):
        axes = figure.add_subplot(1, len(stages), col + 1)
        values = [t.duration_s for run in runs for t in run.stage_times if t.stage == stage]
        low, high = min(values), max(values)
        edges = [low + (high - low) * k / 20 for k in range(21)] if high > low else 10
        for i, run in enumerate(runs):
            mine = [t.duration_s for t in run.stage_times if t.stage == stage]
            if mine:
                axes.hist(mine, bins=edges, histtype="step", linewidth=1.5, color=colour(i), label=run.label)
        axes.set_title(f"stage {stage} ({len(values)} evaluations)", fontsize=9)
        axes.set_xlabel("seconds", fontsize=8)
        axes.tick_params(labelsize=7)
    figure.axes[0].set_ylabel("evaluations")
    if len(runs) > 1:
        _legend(figure.axes[-1], fontsize=7)
    return _png(figure)
