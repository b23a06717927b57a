"""The report's sections about how the run went: progress, front, coverage, failures, times, steering.

Owns: the best-score curves over evaluations, wall-clock time and dollars (`wants_dollar_plot`:
the dollars curve only where an LLM call cost something), the Pareto front and the MAP-Elites
coverage with what their figures leave out, failures over time and by cause, the evaluation time
of each stage, the breakthrough calls of a stalled adaptive run and the selection strategies its
model wrote (`--evolve-selection`), and what a person steering the run asked; each with the note
that replaces a figure when it would mean nothing (dollars of an offline run, a front of one
objective).

Must not: lay out the page (html.py), read the archive or draw figures; it receives RunData and
PNG bytes.
"""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import UTC
from html import escape

from adrs.report.data import COMPLETE, RunData
from adrs.report.html_parts import fmt, img, link, note, table, td


def wants_dollar_plot(runs: list[RunData]) -> bool:
    return any(run.dollars > 0 for run in runs)


def progress(runs: list[RunData], figures: dict[str, bytes]) -> str:
    parts = [
        img(figures.get("progress"), "best score over evaluations"),
        img(figures.get("time"), "best score over wall-clock time"),
    ]
    for run in runs:
        if not any(p.complete for p in run.timeline):
            parts.append(
                note(f"{run.label}: no program passed every evolution stage yet, so there is no best-score curve.")
            )
    if any(p.uncertainty is not None for run in runs for p in run.timeline):
        parts.append("<p>Shaded: one standard error of the best program's score on either side.</p>")
    if wants_dollar_plot(runs):
        parts.append(img(figures.get("dollars"), "best score over dollars"))
        free = [r.label for r in runs if r.dollars <= 0]
        if free:
            parts.append(note(f"{', '.join(free)}: no LLM dollars spent, so not on the dollars plot."))
    else:
        why = (
            "no LLM call was made (offline mutator)"
            if all(r.llm_calls == 0 for r in runs)
            else "every LLM call cost $0"
        )
        parts.append(
            note(
                f"Best score over dollars: not drawn, since {why}: every proposal was free, so the "
                "curve would be a vertical line at $0. Best score over evaluations above is the measure."
            )
        )
    return "".join(parts)


def pareto(runs: list[RunData], figures: dict[str, bytes]) -> str:
    objectives = runs[0].objectives
    parts = [img(figures.get("pareto"), "Pareto front")]
    if len(objectives) == 1:
        parts.append(
            note(
                f"This problem has one objective ({objectives[0].name}), so the front is the best complete "
                f"program; it is drawn against the descriptor {runs[0].descriptor_names[0]} to show the spread."
            )
        )
    for run in runs:
        if run.baselines:
            parts.append(f"<p>Stars: the baselines of {escape(run.label)} (scores in the first section).</p>")
        members = ", ".join(p.label for p in run.front) or "none"
        parts.append(f"<p>Front of {escape(run.label)} ({len(run.front)}): {escape(members)}</p>")
    return "".join(parts)


def coverage(runs: list[RunData], figures: dict[str, bytes]) -> str:
    parts = [img(figures.get("coverage"), "MAP-Elites coverage per island")]
    features = runs[0].grids[0].features if runs[0].grids else ()
    if len(features) > 2:
        parts.append(
            note(
                f"The map has {len(features)} features; the heat map shows the first two and the best "
                "elite across the others."
            )
        )
    if not runs[0].problem.features:
        parts.append(note("The problem declares no [[features]]: cells are by code size (code_lines)."))
    return "".join(parts)


def outcomes(runs: list[RunData], figures: dict[str, bytes]) -> str:
    parts = [img(figures.get("outcomes"), "outcome of each evaluation over time")]
    for run in runs:
        failed = Counter(p.outcome for p in run.timeline if p.outcome != COMPLETE and not p.outcome.startswith("below"))
        if not failed:
            parts.append(note(f"{run.label}: no evaluation failed."))
            continue
        rows = [
            [
                td(c.kind),
                td(c.cause),
                td(str(c.count), True),
                td(", ".join(f"{stage} {n}" for stage, n in c.stages.items())),
                td(", ".join(f"#{pid}" for pid in c.examples) + (" …" if c.count > len(c.examples) else "")),
            ]
            for c in run.failure_causes
        ]
        parts.append(f"<p>{escape(run.label)}: failures by cause (the last line of each message; numbers blurred)</p>")
        parts.append(table(["kind", "cause", "programs", "failed at stage", "examples (adrs show ARCHIVE ID)"], rows))
    return "".join(parts)


def times(runs: list[RunData], figures: dict[str, bytes]) -> str:
    rows = []
    for run in runs:
        stages: dict[str, list[float]] = {}
        for t in run.stage_times:
            stages.setdefault(t.stage, []).append(t.duration_s)
        for stage, values in stages.items():
            ordered = sorted(values)
            p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
            rows.append(
                [
                    td(run.label),
                    td(stage),
                    td(str(len(values)), True),
                    td(f"{statistics.median(values):.3f}", True),
                    td(f"{p90:.3f}", True),
                    td(f"{ordered[-1]:.3f}", True),
                ]
            )
    times_table = table(["run", "stage", "evaluations", "median s", "p90 s", "max s"], rows)
    return img(figures.get("times"), "evaluation time per stage") + times_table


def breakthroughs(runs: list[RunData]) -> str:
    """The approaches a stalled adaptive LLM run asked for, and the programs that followed each."""
    parts = []
    for i, run in enumerate(runs):
        if not run.breakthroughs:
            parts.append(note(f"{run.label}: no breakthrough calls (only adaptive LLM runs that stall make them)."))
            continue
        rows = [
            [
                td(str(b.number), True),
                td(str(b.at_evaluation), True),
                td(fmt(b.best_score), True),
                td(p.name),
                td(p.approach[:300]),
                td(
                    ", ".join(link(i, pid) if pid in run.diffs else f"#{pid}" for pid in b.cited_by.get(p.name, []))
                    or "none stored",
                    raw=True,
                ),
            ]
            for b in run.breakthroughs
            for p in b.paradigms
        ]
        parts.append(f"<p>{escape(run.label)}: {len(run.breakthroughs)} breakthrough call(s)</p>")
        parts.append(table(["#", "at evaluation", "best then", "approach", "what", "programs that followed it"], rows))
    return "".join(parts)


def strategies(runs: list[RunData]) -> str:
    """The selection strategies a model wrote for a stalled run: adopted, refused or rolled back, and why."""
    parts = []
    for run in runs:
        if not run.strategies:
            parts.append(note(f"{run.label}: no written selection strategy."))
            continue
        rows = [
            [
                td(str(e.get("number")), True),
                td(str(e.get("outcome", ""))),
                td(str(e.get("at_evaluation")), True),
                td(fmt(e.get("best_score")), True),
                td(str(e.get("reason", ""))[:300]),
                f"<td><pre>{escape(str(e.get('code', ''))[:3000])}</pre></td>" if e.get("code") else td(""),
            ]
            for e in run.strategies
        ]
        parts.append(
            f"<p>{escape(run.label)}: {sum(e.get('outcome') != 'rolled_back' for e in run.strategies)} written</p>"
        )
        parts.append(table(["#", "outcome", "at evaluation", "best then", "why", "code"], rows))
    return "".join(parts)


def steering(runs: list[RunData]) -> str:
    """What a person steering the run asked from `adrs serve --steer`, with the time of each action."""
    parts = []
    for run in runs:
        if not run.steering:
            parts.append(note(f"{run.label}: not steered."))
            continue
        rows = [
            [td(e.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")), td(e.action), td(e.detail)]
            for e in run.steering
        ]
        hints = sum(1 for e in run.steering if e.action == "hint")
        parts.append(f"<p>{escape(run.label)}: {len(run.steering)} steering action(s), {hints} hint(s)</p>")
        parts.append(table(["time", "action", "hint or program"], rows))
    return "".join(parts)
