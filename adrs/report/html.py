"""The report page: one self-contained HTML file, figures embedded as data: URIs, diffs in <details>.

Owns: the page's layout (its style, its script, the order and titles of its sections, the
navigation) and the summary table at its top (the run, why it stopped, its outcomes, the best
complete score and how it stands against the best baseline). The sections' bodies are
program_sections.py's (the best program against the baselines, lineage, top programs, diffs) and
run_sections.py's (progress, front, coverage, failures, times, breakthroughs, steering); the
escaping building blocks are html_parts.py's.

Must not: read the archive or draw figures; it receives RunData and PNG bytes.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from html import escape

from adrs.report import program_sections, run_sections
from adrs.report.data import RunData
from adrs.report.html_parts import fmt, link, table

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
    ("strategies", "Written selection strategies"),
    ("steering", "Steering: hints, pinned and banned parents, pauses"),
    ("diffs", "Diffs"),
)


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
    add("initial score", [fmt(r.initial_score) for r in runs])
    add("best complete score", [f"{fmt(r.best_score)} ({link(i, r.best_id)})" for i, r in enumerate(runs)])
    add("holdout score of the best", [fmt(r.holdout_score) for r in runs])
    add("against the best baseline", [escape(_against_baseline(r)) for r in runs])
    add("LLM calls / dollars", [f"{r.llm_calls} / ${r.dollars:.4f}" for r in runs])
    header = ["", *[escape(r.label) for r in runs]] if len(runs) > 1 else ["", "value"]
    rows = [[f"<th>{escape(name)}</th>", *[f"<td>{v}</td>" for v in values]] for name, values in fields]
    return table(header, rows)


def _against_baseline(run: RunData) -> str:
    """Did the run beat the state of the art? The best complete score against the best baseline's."""
    bar = run.best_baseline
    if bar is None or bar.score is None:
        return "no baseline scored" if run.baselines or run.baseline_note else "–"
    if run.best_score is None:
        return f"no complete program yet; best baseline {bar.name} scores {fmt(bar.score)}"
    gap = run.best_score - bar.score
    verdict = "beats" if gap > 0 else "does not beat"
    text = f"{verdict} {bar.name} ({fmt(bar.score)}) by {gap:+.4g}"
    if run.holdout_score is not None and bar.holdout is not None:
        text += f"; holdout {fmt(run.holdout_score)} vs {fmt(bar.holdout)} ({run.holdout_score - bar.holdout:+.4g})"
    return text


def render_page(runs: list[RunData], figures: dict[str, bytes]) -> str:
    title = f"adrs report: {runs[0].problem.name}" + (" (comparison)" if len(runs) > 1 else "")
    bodies = {
        "best": program_sections.best(runs),
        "progress": run_sections.progress(runs, figures),
        "pareto": run_sections.pareto(runs, figures),
        "coverage": run_sections.coverage(runs, figures),
        "lineage": program_sections.lineage(runs, figures),
        "outcomes": run_sections.outcomes(runs, figures),
        "times": run_sections.times(runs, figures),
        "top": program_sections.top(runs),
        "breakthroughs": run_sections.breakthroughs(runs),
        "strategies": run_sections.strategies(runs),
        "diffs": program_sections.diffs(runs),
        "steering": run_sections.steering(runs),
    }
    # Steering for steered runs only; written strategies for runs with --evolve-selection that wrote one.
    only_when = {"steering": any(run.steering for run in runs), "strategies": any(run.strategies for run in runs)}
    shown = [s for s in SECTIONS if only_when.get(s[0], True)]
    nav = "".join(f'<a href="#{key}">{escape(name)}</a>' for key, name in shown)
    sections = "".join(f'<h2 id="{key}">{escape(name)}</h2>{bodies[key]}' for key, name in shown)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{STYLE}</style><script>{SCRIPT}</script></head><body>"
        f"<h1>{escape(title)}</h1><p>generated {stamp}</p><nav>{nav}</nav>{_summary(runs)}{sections}</body></html>\n"
    )
