"""The report's sections about programs: the best against the baselines, its lineage, the top programs, the diffs.

Owns: the baseline table (the best evolved program above the baselines, on the scoring stage and
the holdout), the best program's change against the initial program inline, the lineage table
beside its figure, the top complete programs, and every embedded program's diff against its
parent (and against the initial program) in a <details> that links to the others.

Must not: lay out the page (html.py), read the archive or draw figures; it receives RunData and
PNG bytes.
"""

from __future__ import annotations

from html import escape

from adrs.report.data import BaselineScore, ProgramView, RunData
from adrs.report.html_parts import anchor, fmt, img, link, note, table, td


def _baseline_table(run: RunData) -> str:
    def row(b: BaselineScore) -> list[str]:
        return [td(b.name), td(fmt(b.score), True), td(fmt(b.holdout), True), td(b.error or "")]

    rows = [row(b) for b in run.baselines]
    if run.best_score is not None:
        rows.insert(
            0,
            [
                td("best evolved program", raw=False),
                td(fmt(run.best_score), True),
                td(fmt(run.holdout_score), True),
                td(""),
            ],
        )
    stage = escape(run.baseline_stage or run.problem.evolution_stages[-1].name)
    holdout = ", ".join(s.name for s in run.problem.holdout_stages) or "none"
    return table(["program", f"score ({stage})", f"holdout ({escape(holdout)})", "error"], rows)


def best(runs: list[RunData]) -> str:
    parts = []
    for i, run in enumerate(runs):
        if len(runs) > 1:
            parts.append(f"<h3>{escape(run.label)}</h3>")
        if run.baselines:
            parts.append(_baseline_table(run))
        if run.baseline_note:
            parts.append(note(f"{run.label}: {run.baseline_note}"))
        view = run.best_view
        if view is None:
            parts.append(note(f"{run.label}: no program passed every evolution stage yet."))
            continue
        parts.append(
            f"<p>Best complete program {link(i, view.id)}: score {fmt(view.score)}, "
            f"{escape(view.mutator)}, generation {view.generation}. {escape(view.description[:300])}</p>"
        )
        if view.diff_to_initial:
            parts.append("<p>Its change against the initial program:</p>" + _diff_html(view.diff_to_initial))
        else:
            parts.append("<p>The best program is the initial program: no evolved program beat it.</p>")
    return "".join(parts)


def lineage(runs: list[RunData], figures: dict[str, bytes]) -> str:
    parts = [img(figures.get("lineage"), "lineage of the best program")]
    for i, run in enumerate(runs):
        rows = [
            [
                td(str(k), True),
                td(link(i, s.program_id), raw=True),
                td(fmt(s.score), True),
                td("yes" if s.complete else "no"),
                td(str(s.island), True),
                td(s.mutator),
                td(s.description[:120] + (f" [{s.note}]" if s.note else "")),
                td(f"{len(s.sibling_scores) + s.failed_siblings} ({s.failed_siblings} failed)", True),
            ]
            for k, s in enumerate(run.lineage)
        ]
        parts.append(f"<p>{escape(run.label)}:</p>")
        parts.append(table(["step", "program", "score", "complete", "island", "mutator", "change", "siblings"], rows))
    return "".join(parts)


def top(runs: list[RunData]) -> str:
    parts = []
    for i, run in enumerate(runs):
        rows = [
            [
                td(link(i, v.id), raw=True),
                td(fmt(v.score), True),
                td(fmt(v.holdout_score), True),
                td(str(v.island), True),
                td(str(v.generation), True),
                td(v.mutator),
                td(v.description[:120]),
                td(link(i, v.id, "diff"), raw=True),
            ]
            for v in run.top
        ]
        parts.append(f"<p>{escape(run.label)}: the {len(run.top)} best complete programs</p>")
        parts.append(table(["program", "score", "holdout", "island", "gen", "mutator", "change", ""], rows))
    return "".join(parts)


def _diff_html(diff: str) -> str:
    lines = []
    for line in diff.splitlines():
        if line.startswith(("---", "+++", "@@")):
            css = "hunk"
        else:
            css = "add" if line.startswith("+") else "del" if line.startswith("-") else ""
        lines.append(f'<span class="{css}">{escape(line)}</span>' if css else escape(line))
    return '<pre class="diff">' + "\n".join(lines) + "</pre>"


def _diff_block(run_index: int, view: ProgramView, embedded: set[int]) -> str:
    parent = "no parent" if view.parent_id is None else f"parent #{view.parent_id}"
    summary = f"program #{view.id}: score {fmt(view.score)}, {view.mutator}, {parent}"
    parts = [f'<details id="{anchor(run_index, view.id)}"><summary>{escape(summary)}</summary>']
    if view.description:
        parts.append(f"<p>{escape(view.description)}</p>")
    if view.diff_to_parent:
        parent = link(run_index, view.parent_id) if view.parent_id in embedded else f"#{view.parent_id}"
        parts.append(f"<p>against its parent {parent}:</p>" + _diff_html(view.diff_to_parent))
    else:
        parts.append("<p>no diff against a parent (the initial program).</p>")
    if view.diff_to_initial and view.diff_to_initial != view.diff_to_parent:
        parts.append(
            "<details><summary>against the initial program</summary>" + _diff_html(view.diff_to_initial) + "</details>"
        )
    parts.append("</details>")
    return "".join(parts)


def diffs(runs: list[RunData]) -> str:
    parts = []
    for i, run in enumerate(runs):
        parts.append(f"<h3>{escape(run.label)}</h3>")
        parts.extend(_diff_block(i, view, set(run.diffs)) for _, view in sorted(run.diffs.items()))
    return "".join(parts)
