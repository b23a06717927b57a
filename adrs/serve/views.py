"""What `adrs serve`'s JSON endpoints answer: runs, one run's live state, one program.

Owns: turning what the archive hands out (records of adrs/archive/records.py, and a RunState of
state.py) into plain JSON values for the page: the archives' runs; for one run its status,
program counts, failures by kind and by cause (the report's grouping), LLM calls, failures,
dollars and calls in flight (what each engine publishes), the best program, the best score after
each landed evaluation and over wall-clock time (the curves the page plots), the islands'
state, and the most recent evaluations; for one program its code, its diffs against its parent
and the run's initial program, and its per-stage metrics and feedback. Non-finite numbers become
null, since JSON has no NaN. search.py shapes the Pareto front, grids and lineage.

Must not: write to the archive (every method it calls reads), or know about HTTP (server.py).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import asdict
from datetime import datetime
from typing import Any

from adrs.archive.records import ProgramLine, ProgramStatus, RunRecord
from adrs.archive.store import Archive
from adrs.program import unified_diff
from adrs.progress import LLM_ACTIVITY_STATE
from adrs.report.failures import failure_causes
from adrs.serve.search import islands_view
from adrs.serve.state import RunState

RECENT = 20  # evaluations listed in a run's view, newest first
STALE_S = 60  # an engine's published LLM activity older than this (and not final): the engine is gone


def _number(value: float | None) -> float | None:
    return value if value is None or math.isfinite(value) else None


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _clean(value: Any) -> Any:
    """`value` with every non-finite float replaced by None, at any depth."""
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _run_json(run: RunRecord, archive_index: int = 0) -> dict[str, Any]:
    return {
        "archive": archive_index,
        "id": run.id,
        "problem": run.problem_name,
        "status": run.status,
        "seed": run.seed,
        "budget": run.config.get("budget"),
        "created_at": _time(run.created_at),
    }


def _line_json(line: ProgramLine) -> dict[str, Any]:
    return {
        "id": line.id,
        "status": line.status,
        "score": _number(line.score),
        "complete": line.complete,
        "error_kind": line.error_kind,
        "island": line.island,
        "generation": line.generation,
        "parent_id": line.parent_id,
        "mutator": line.mutator,
        "evaluated_at": _time(line.evaluated_at),
    }


def _ranks_above(line: ProgramLine, best: ProgramLine | None) -> bool:
    """The engine's order (archive/elites.py's fitness_key): complete programs first, then by score."""
    if line.status != ProgramStatus.EVALUATED or line.score is None or not math.isfinite(line.score):
        return False
    return best is None or (line.complete, line.score) > (best.complete, best.score or -math.inf)


def _naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None)  # SQLite hands back naive datetimes, PostgreSQL aware ones


def _landed(state: RunState) -> list[ProgramLine]:
    return [state.lines[pid] for _at, pid in state.landed]


def _curve(state: RunState) -> list[dict[str, Any]]:
    """(evaluations landed so far, time, seconds since the run was created, best score) each time the best
    changed. Extended from where the last poll left it while evaluations land in order; redrawn from the
    first when one landed before the last seen (engines on several machines, clocks apart)."""
    done, last, best, curve = state.derived.get("curve", (0, None, None, []))
    if done > len(state.landed) or (done and state.landed[done - 1] != last):
        done, best, curve = 0, None, []
    curve = list(curve)
    began = _naive(state.run.created_at)
    for count in range(done + 1, len(state.landed) + 1):
        line = state.lines[state.landed[count - 1][1]]
        if _ranks_above(line, best):
            best = line
            assert line.evaluated_at is not None
            curve.append(
                {
                    "evaluations": count,
                    "at": _time(line.evaluated_at),
                    "elapsed_s": max(0.0, (_naive(line.evaluated_at) - began).total_seconds()),
                    "score": _number(line.score),
                    "complete": line.complete,
                    "program": line.id,
                }
            )
    state.derived["curve"] = (len(state.landed), state.landed[-1] if state.landed else None, best, curve)
    return curve


def runs_view(stores: list[Archive]) -> dict[str, Any]:
    """Every served archive's runs, newest first (`archive`: the archive's index, 0 for the first)."""
    runs = [_run_json(run, k) for k, store in enumerate(stores) for run in reversed(store.all_runs())]
    return {"archive": stores[0].url, "archives": [store.url for store in stores], "runs": runs}


def _llm(store: Archive, state: RunState) -> dict[str, Any]:
    """The run's LLM calls, failures and dollars (stored call rows), and the calls in flight that each
    engine still running publishes (None where no engine publishes: an offline run, or one that ended)."""
    totals = store.llm_totals(state.run.id)
    in_flight = None
    engines = 0
    now = time.time()
    for activity in store.states_with_prefix(state.run.id, LLM_ACTIVITY_STATE).values():
        if activity.get("ended") or now - float(activity.get("at", 0.0)) > STALE_S:
            continue
        engines += 1
        in_flight = (in_flight or 0) + int(activity.get("in_flight", 0))
    models = [
        {
            "model": u.model,
            "calls": u.calls,
            "dollars": _number(u.cost_usd),
            "tokens": u.prompt_tokens + u.completion_tokens,
        }
        for u in store.llm_usage(state.run.id)
    ]
    return {
        "calls": totals.calls,
        "dollars": totals.dollars,
        "failed": totals.failed,
        "in_flight": in_flight,
        "engines": engines,
        "models": models,
    }


def _failure_causes(state: RunState) -> list[dict[str, Any]]:
    """Failed programs grouped as the report groups them (their failed stages are read once each; grouped
    again only when another program failed)."""
    held = state.derived.get("causes")
    if held is None or held[0] != len(state.failed_stages):
        causes = [
            {"kind": c.kind, "cause": c.cause, "count": c.count, "stages": c.stages, "examples": list(c.examples)}
            for c in failure_causes(sorted(state.failed_stages, key=lambda row: row.program_id))
        ]
        held = (len(state.failed_stages), causes)
        state.derived["causes"] = held
    return held[1]


def _counts(state: RunState) -> tuple[dict[str, int], dict[str, int]]:
    """Programs by status, and failed ones by kind."""
    counts = {status.value: 0 for status in ProgramStatus}
    for line in state.lines.values():
        counts[line.status] = counts.get(line.status, 0) + 1
    failed = Counter(
        line.error_kind or "unknown" for line in state.lines.values() if line.status == ProgramStatus.FAILED
    )
    return counts, dict(failed.most_common())


def run_view(store: Archive, state: RunState, recent: int = RECENT, archive_index: int = 0) -> dict[str, Any]:
    """One run as the page shows it (`state`: the run, refreshed by LiveRuns.reading)."""
    landed = state.cached("landed", lambda: _landed(state))
    counts, failures = state.cached("counts", lambda: _counts(state))
    best = state.cached("best", state.elites.best)
    best_program = None
    if best is not None:
        record = store.program(best.original_id)
        best_program = {
            **_line_json(record),  # type: ignore[arg-type]
            "metrics": _clean(record.metrics),
            "code": record.code,
            "description": record.description,
        }
    return {
        "run": _run_json(state.run, archive_index),
        "version": state.version,
        "counts": counts,
        "failures": failures,
        "failure_causes": _failure_causes(state),
        "llm": _llm(store, state),
        "best": best_program,
        "best_curve": state.cached("best_curve", lambda: _curve(state)),
        "landed": len(landed),  # evaluations landed so far: where the curve's last step ends
        "elapsed_s": max(0.0, (_naive(landed[-1].evaluated_at) - _naive(state.run.created_at)).total_seconds())
        if landed
        else 0.0,  # type: ignore[arg-type]
        "islands": islands_view(store, state),
        "recent": [_line_json(line) for line in reversed(landed[-recent:])] if recent > 0 else [],
        "last_program_id": max(state.lines, default=None),
        "note": state.shape.note,
    }


def program_view(store: Archive, program_id: int) -> dict[str, Any]:
    """One program: code, diffs against its parent and the initial program, evaluations per stage."""
    program = store.program(program_id)
    parent = store.program(program.parent_id) if program.parent_id is not None else None
    initial = store.initial_program(program.run_id)
    evaluations = store.evaluations(program.original_id)
    return {
        "id": program.id,
        "run_id": program.run_id,
        "status": program.status,
        "score": _number(program.score),
        "complete": program.complete,
        "error_kind": program.error_kind,
        "island": program.island,
        "generation": program.generation,
        "parent_id": program.parent_id,
        "mutator": program.mutator,
        "description": program.description,
        "code": program.code,
        "diff_parent": unified_diff(parent.code, program.code, f"#{parent.id}", f"#{program.id}") if parent else "",
        "diff_initial": (
            unified_diff(initial.code, program.code, f"#{initial.id} (initial)", f"#{program.id}")
            if initial is not None and initial.id != program.id
            else ""
        ),
        "evaluations": [_clean(asdict(evaluation)) for evaluation in evaluations],
    }
