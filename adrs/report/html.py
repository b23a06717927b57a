"""The report page: one self-contained HTML file, figures embedded as data: URIs, diffs in <details>.

Owns: the page's layout, its tables (summary, the best program against the baselines with its diff
inline, lineage, top programs, stage times, failures by cause), the notes that replace a figure
when it would mean nothing (dollars of an offline run), and escaping everything that comes from
the archive (program text, descriptions, error kinds and messages are untrusted).

Must not: read the archive or draw figures; it receives RunData and PNG bytes.
"""

from __future__ import annotations

import base64
import statistics
from collections import Counter
from datetime import UTC, datetime
from html import escape

from adrs.report.data import COMPLETE, BaselineScore, ProgramView, RunData

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 1em 2em; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; margin: .6em 0; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: left; }
th { background: #f5f5f5; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; display: block; margin: .5em 0; }
.note { background: #fff8e1; border-left: 4px solid #f0b400; padding: .5em .8em; }
pre.diff { background: #fafafa; border: 1px solid #eee; padding: .5em; overflow-x: auto; font-size: 12px; }
.add { color: #1a7f37; } .del { color: #cf222e; } .hunk { color: #6f42c1; }
details { margin: .4em 0; } summary { cursor: pointer; } nav a { margin-right: 1em; }
"""

# Opens a <details> when a link targets it (browsers differ in doing it themselves), and records
# on <body> how many figures the browser decoded, so a headless check can read it from the DOM.
SCRIPT = """
function openTarget() { var el = document.getElementById(location.hash.slice(1));
  if (el && el.tagName === 'DETAILS') { el.open = true; } }
function countImages() { var ok = 0;
  for (var img of document.images) { if (img.complete && img.naturalWidth > 0) ok++; }
  document.body.setAttribute('data-images-decoded', ok + '/' + document.images.length); }
window.addEventListener('hashchange', openTarget);
window.addEventListener('load', function () { openTarget(); countImages(); });
"""

SECTIONS = (
    ("best", "Best program against the baselines"),
    ("progress", "Best score over evaluations, wall-clock time and dollars"),
    ("pareto", "Pareto front"),
    ("coverage", "MAP-Elites coverage"),
    ("lineage", "Lineage of the best program"),
    ("outcomes", "Failures over time"),
    ("times", "Evaluation time"),
    ("top", "Top programs"),
    ("breakthroughs", "Breakthroughs"),
    ("steering", "Steering: hints, pinned and banned parents, pauses"),
    ("diffs", "Diffs"),
)


def wants_dollar_plot(runs: list[RunData]) -> bool:
    return any(run.dollars > 0 for run in runs)


def _fmt(value: float | None, digits: int = 6) -> str:
    return "–" if value is None else f"{value:.{digits}g}"


def _img(png: bytes | None, alt: str) -> str:
    if png is None:
        return ""
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def _note(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'


def anchor(run_index: int, program_id: int) -> str:
    return f"r{run_index}-p{program_id}"


def _link(run_index: int, program_id: int | None, text: str | None = None) -> str:
    if program_id is None:
        return "–"
    return f'<a href="#{anchor(run_index, program_id)}">{escape(text or f"#{program_id}")}</a>'


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _td(text: str, numeric: bool = False, raw: bool = False) -> str:
    return f"<td{' class=num' if numeric else ''}>{text if raw else escape(text)}</td>"


def _summary(runs: list[RunData]) -> str:
    fields: list[tuple[str, list[str]]] = []

    def add(name: str, values: list[str]) -> None:
        fields.append((name, values))

    add("problem", [escape(r.problem.name) for r in runs])
    add("archive", [escape(r.archive) for r in runs])
    add(
        "run",
        [
            escape(f"{r.run.id} ({r.run.status}), seed {r.run.seed}, created {r.run.created_at:%Y-%m-%d %H:%M}")
            for r in runs
        ],
    )
    add("stopped because", [escape("; ".join(r.stop_reasons) or "–") for r in runs])
    counts = [Counter(p.outcome for p in r.timeline) for r in runs]
    add("evaluations", [str(len(r.timeline)) + (f" ({r.pending} pending)" if r.pending else "") for r in runs])
    add("outcomes", [escape(", ".join(f"{k} {n}" for k, n in c.most_common())) or "–" for c in counts])
    add("initial score", [_fmt(r.initial_score) for r in runs])
    add("best complete score", [f"{_fmt(r.best_score)} ({_link(i, r.best_id)})" for i, r in enumerate(runs)])
    add("holdout score of the best", [_fmt(r.holdout_score) for r in runs])
    add("against the best baseline", [escape(_against_baseline(r)) for r in runs])
    add("LLM calls / dollars", [f"{r.llm_calls} / ${r.dollars:.4f}" for r in runs])
    header = ["", *[escape(r.label) for r in runs]] if len(runs) > 1 else ["", "value"]
    rows = [[f"<th>{escape(name)}</th>", *[f"<td>{v}</td>" for v in values]] for name, values in fields]
    return _table(header, rows)


def _against_baseline(run: RunData) -> str:
    """Did the run beat the state of the art? The best complete score against the best baseline's."""
    bar = run.best_baseline
    if bar is None or bar.score is None:
        return "no baseline scored" if run.baselines or run.baseline_note else "–"
    if run.best_score is None:
        return f"no complete program yet; best baseline {bar.name} scores {_fmt(bar.score)}"
    gap = run.best_score - bar.score
    verdict = "beats" if gap > 0 else "does not beat"
    text = f"{verdict} {bar.name} ({_fmt(bar.score)}) by {gap:+.4g}"
    if run.holdout_score is not None and bar.holdout is not None:
        text += f"; holdout {_fmt(run.holdout_score)} vs {_fmt(bar.holdout)} ({run.holdout_score - bar.holdout:+.4g})"
    return text


def _baseline_table(run: RunData) -> str:
    def row(b: BaselineScore) -> list[str]:
        return [_td(b.name), _td(_fmt(b.score), True), _td(_fmt(b.holdout), True), _td(b.error or "")]

    rows = [row(b) for b in run.baselines]
    if run.best_score is not None:
        rows.insert(
            0,
            [
                _td("best evolved program", raw=False),
                _td(_fmt(run.best_score), True),
                _td(_fmt(run.holdout_score), True),
                _td(""),
            ],
        )
    stage = escape(run.baseline_stage or run.problem.evolution_stages[-1].name)
    holdout = ", ".join(s.name for s in run.problem.holdout_stages) or "none"
    return _table(["program", f"score ({stage})", f"holdout ({escape(holdout)})", "error"], rows)


def _best(runs: list[RunData]) -> str:
    parts = []
    for i, run in enumerate(runs):
        if len(runs) > 1:
            parts.append(f"<h3>{escape(run.label)}</h3>")
        if run.baselines:
            parts.append(_baseline_table(run))
        if run.baseline_note:
            parts.append(_note(f"{run.label}: {run.baseline_note}"))
        view = run.best_view
        if view is None:
            parts.append(_note(f"{run.label}: no program passed every evolution stage yet."))
            continue
        parts.append(
            f"<p>Best complete program {_link(i, view.id)}: score {_fmt(view.score)}, "
            f"{escape(view.mutator)}, generation {view.generation}. {escape(view.description[:300])}</p>"
        )
        if view.diff_to_initial:
            parts.append("<p>Its change against the initial program:</p>" + _diff_html(view.diff_to_initial))
        else:
            parts.append("<p>The best program is the initial program: no evolved program beat it.</p>")
    return "".join(parts)


def _progress(runs: list[RunData], figures: dict[str, bytes]) -> str:
    parts = [
        _img(figures.get("progress"), "best score over evaluations"),
        _img(figures.get("time"), "best score over wall-clock time"),
    ]
    for run in runs:
        if not any(p.complete for p in run.timeline):
            parts.append(
                _note(f"{run.label}: no program passed every evolution stage yet, so there is no best-score curve.")
            )
    if any(p.uncertainty is not None for run in runs for p in run.timeline):
        parts.append("<p>Shaded: one standard error of the best program's score on either side.</p>")
    if wants_dollar_plot(runs):
        parts.append(_img(figures.get("dollars"), "best score over dollars"))
        free = [r.label for r in runs if r.dollars <= 0]
        if free:
            parts.append(_note(f"{', '.join(free)}: no LLM dollars spent, so not on the dollars plot."))
    else:
        why = (
            "no LLM call was made (offline mutator)"
            if all(r.llm_calls == 0 for r in runs)
            else "every LLM call cost $0"
        )
        parts.append(
            _note(
                f"Best score over dollars: not drawn, since {why}: every proposal was free, so the "
                "curve would be a vertical line at $0. Best score over evaluations above is the measure."
            )
        )
    return "".join(parts)


def _pareto(runs: list[RunData], figures: dict[str, bytes]) -> str:
    objectives = runs[0].objectives
    parts = [_img(figures.get("pareto"), "Pareto front")]
    if len(objectives) == 1:
        parts.append(
            _note(
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


def _coverage(runs: list[RunData], figures: dict[str, bytes]) -> str:
    parts = [_img(figures.get("coverage"), "MAP-Elites coverage per island")]
    features = runs[0].grids[0].features if runs[0].grids else ()
    if len(features) > 2:
        parts.append(
            _note(
                f"The map has {len(features)} features; the heat map shows the first two and the best "
                "elite across the others."
            )
        )
    if not runs[0].problem.features:
        parts.append(_note("The problem declares no [[features]]: cells are by code size (code_lines)."))
    return "".join(parts)


def _lineage(runs: list[RunData], figures: dict[str, bytes]) -> str:
    parts = [_img(figures.get("lineage"), "lineage of the best program")]
    for i, run in enumerate(runs):
        rows = [
            [
                _td(str(k), True),
                _td(_link(i, s.program_id), raw=True),
                _td(_fmt(s.score), True),
                _td("yes" if s.complete else "no"),
                _td(str(s.island), True),
                _td(s.mutator),
                _td(s.description[:120] + (f" [{s.note}]" if s.note else "")),
                _td(f"{len(s.sibling_scores) + s.failed_siblings} ({s.failed_siblings} failed)", True),
            ]
            for k, s in enumerate(run.lineage)
        ]
        parts.append(f"<p>{escape(run.label)}:</p>")
        parts.append(_table(["step", "program", "score", "complete", "island", "mutator", "change", "siblings"], rows))
    return "".join(parts)


def _outcomes(runs: list[RunData], figures: dict[str, bytes]) -> str:
    parts = [_img(figures.get("outcomes"), "outcome of each evaluation over time")]
    for run in runs:
        failed = Counter(p.outcome for p in run.timeline if p.outcome != COMPLETE and not p.outcome.startswith("below"))
        if not failed:
            parts.append(_note(f"{run.label}: no evaluation failed."))
            continue
        rows = [
            [
                _td(c.kind),
                _td(c.cause),
                _td(str(c.count), True),
                _td(", ".join(f"{stage} {n}" for stage, n in c.stages.items())),
                _td(", ".join(f"#{pid}" for pid in c.examples) + (" …" if c.count > len(c.examples) else "")),
            ]
            for c in run.failure_causes
        ]
        parts.append(f"<p>{escape(run.label)}: failures by cause (the last line of each message; numbers blurred)</p>")
        parts.append(_table(["kind", "cause", "programs", "failed at stage", "examples (adrs show ARCHIVE ID)"], rows))
    return "".join(parts)


def _times(runs: list[RunData], figures: dict[str, bytes]) -> str:
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
                    _td(run.label),
                    _td(stage),
                    _td(str(len(values)), True),
                    _td(f"{statistics.median(values):.3f}", True),
                    _td(f"{p90:.3f}", True),
                    _td(f"{ordered[-1]:.3f}", True),
                ]
            )
    table = _table(["run", "stage", "evaluations", "median s", "p90 s", "max s"], rows)
    return _img(figures.get("times"), "evaluation time per stage") + table


def _top(runs: list[RunData]) -> str:
    parts = []
    for i, run in enumerate(runs):
        rows = [
            [
                _td(_link(i, v.id), raw=True),
                _td(_fmt(v.score), True),
                _td(_fmt(v.holdout_score), True),
                _td(str(v.island), True),
                _td(str(v.generation), True),
                _td(v.mutator),
                _td(v.description[:120]),
                _td(_link(i, v.id, "diff"), raw=True),
            ]
            for v in run.top
        ]
        parts.append(f"<p>{escape(run.label)}: the {len(run.top)} best complete programs</p>")
        parts.append(_table(["program", "score", "holdout", "island", "gen", "mutator", "change", ""], rows))
    return "".join(parts)


def _breakthroughs(runs: list[RunData]) -> str:
    """The approaches a stalled adaptive LLM run asked for, and the programs that followed each."""
    parts = []
    for i, run in enumerate(runs):
        if not run.breakthroughs:
            parts.append(_note(f"{run.label}: no breakthrough calls (only adaptive LLM runs that stall make them)."))
            continue
        rows = [
            [
                _td(str(b.number), True),
                _td(str(b.at_evaluation), True),
                _td(_fmt(b.best_score), True),
                _td(p.name),
                _td(p.approach[:300]),
                _td(
                    ", ".join(_link(i, pid) if pid in run.diffs else f"#{pid}" for pid in b.cited_by.get(p.name, []))
                    or "none stored",
                    raw=True,
                ),
            ]
            for b in run.breakthroughs
            for p in b.paradigms
        ]
        parts.append(f"<p>{escape(run.label)}: {len(run.breakthroughs)} breakthrough call(s)</p>")
        parts.append(_table(["#", "at evaluation", "best then", "approach", "what", "programs that followed it"], rows))
    return "".join(parts)


def _steering(runs: list[RunData]) -> str:
    """What a person steering the run asked from `adrs serve --steer`, with the time of each action."""
    parts = []
    for run in runs:
        if not run.steering:
            parts.append(_note(f"{run.label}: not steered."))
            continue
        rows = [
            [_td(e.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")), _td(e.action), _td(e.detail)]
            for e in run.steering
        ]
        hints = sum(1 for e in run.steering if e.action == "hint")
        parts.append(f"<p>{escape(run.label)}: {len(run.steering)} steering action(s), {hints} hint(s)</p>")
        parts.append(_table(["time", "action", "hint or program"], rows))
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
    summary = f"program #{view.id}: score {_fmt(view.score)}, {view.mutator}, {parent}"
    parts = [f'<details id="{anchor(run_index, view.id)}"><summary>{escape(summary)}</summary>']
    if view.description:
        parts.append(f"<p>{escape(view.description)}</p>")
    if view.diff_to_parent:
        parent = _link(run_index, view.parent_id) if view.parent_id in embedded else f"#{view.parent_id}"
        parts.append(f"<p>against its parent {parent}:</p>" + _diff_html(view.diff_to_parent))
    else:
        parts.append("<p>no diff against a parent (the initial program).</p>")
    if view.diff_to_initial and view.diff_to_initial != view.diff_to_parent:
        parts.append(
            "<details><summary>against the initial program</summary>" + _diff_html(view.diff_to_initial) + "</details>"
        )
    parts.append("</details>")
    return "".join(parts)


def _diffs(runs: list[RunData]) -> str:
    parts = []
    for i, run in enumerate(runs):
        parts.append(f"<h3>{escape(run.label)}</h3>")
        parts.extend(_diff_block(i, view, set(run.diffs)) for _, view in sorted(run.diffs.items()))
    return "".join(parts)


def render_page(runs: list[RunData], figures: dict[str, bytes]) -> str:
    title = f"adrs report: {runs[0].problem.name}" + (" (comparison)" if len(runs) > 1 else "")
    bodies = {
        "best": _best(runs),
        "progress": _progress(runs, figures),
        "pareto": _pareto(runs, figures),
        "coverage": _coverage(runs, figures),
        "lineage": _lineage(runs, figures),
        "outcomes": _outcomes(runs, figures),
        "times": _times(runs, figures),
        "top": _top(runs),
        "breakthroughs": _breakthroughs(runs),
        "diffs": _diffs(runs),
        "steering": _steering(runs),
    }
    shown = [s for s in SECTIONS if s[0] != "steering" or any(run.steering for run in runs)]  # steered runs only
    nav = "".join(f'<a href="#{key}">{escape(name)}</a>' for key, name in shown)
    sections = "".join(f'<h2 id="{key}">{escape(name)}</h2>{bodies[key]}' for key, name in shown)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{STYLE}</style><script>{SCRIPT}</script></head><body>"
        f"<h1>{escape(title)}</h1><p>generated {stamp}</p><nav>{nav}</nav>{_summary(runs)}{sections}</body></html>\n"
    )
