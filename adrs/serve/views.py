"""What `adrs serve`'s JSON endpoints answer: runs, one run's live state, one program.

Owns: turning what the archive hands out (records of adrs/archive/records.py) into plain JSON
values for the page: the archive's runs; for one run its status, program counts, failures by
cause, LLM calls and dollars, the best program, the best score after each landed evaluation (the
curve the page plots), and the most recent evaluations; for one program its code, its diffs
against its parent and the run's initial program, and its per-stage metrics and feedback.
Non-finite numbers become null, since JSON has no NaN.

Must not: write to the archive (every method it calls reads), or know about HTTP (server.py).
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from dataclasses import asdict
from datetime import datetime
from typing import Any

from adrs.archive.records import ProgramLine, ProgramStatus, RunRecord
from adrs.archive.store import Archive
from adrs.program import unified_diff

RECENT = 20  # evaluations listed in a run's view, newest first


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


def _run_json(run: RunRecord) -> dict[str, Any]:
    return {
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


class LineCache:
    """The program lines of each run read so far, so that a poll reads only new programs and those
    it last saw pending (a program's line changes only when its evaluation lands). Shared by the
    server's request threads."""

    def __init__(self) -> None:
        self._lines: dict[int, dict[int, ProgramLine]] = {}
        self._lock = threading.Lock()

    def lines(self, store: Archive, run_id: int) -> list[ProgramLine]:
        with self._lock:
            known = self._lines.setdefault(run_id, {})
            pending = [i for i, line in known.items() if line.status == ProgramStatus.PENDING]
            for line in store.program_lines(run_id, after_id=max(known, default=0), also=pending):
                known[line.id] = line
            return sorted(known.values(), key=lambda line: line.id)


def runs_view(store: Archive) -> dict[str, Any]:
    """The archive's runs, newest first."""
    return {"archive": store.url, "runs": [_run_json(run) for run in reversed(store.all_runs())]}


def run_view(
    store: Archive, run_id: int | None = None, recent: int = RECENT, cache: LineCache | None = None
) -> dict[str, Any]:
    """One run (default: the latest) as the page shows it; ArchiveError when there is no such run."""
    run = store.run(run_id)
    lines = (cache or LineCache()).lines(store, run.id)
    landed = sorted((p for p in lines if p.evaluated_at is not None), key=lambda p: (p.evaluated_at, p.id))
    best: ProgramLine | None = None
    curve = []  # (evaluations landed so far, time, best score) each time the best changed
    for count, line in enumerate(landed, start=1):
        if _ranks_above(line, best):
            best = line
            curve.append(
                {"evaluations": count, "at": _time(line.evaluated_at), "score": _number(line.score), "program": line.id}
            )
    counts = {status.value: 0 for status in ProgramStatus}
    for line in lines:
        counts[line.status] = counts.get(line.status, 0) + 1
    failures = Counter(line.error_kind or "unknown" for line in lines if line.status == ProgramStatus.FAILED)
    llm = store.llm_totals(run.id)
    best_program = None
    if best is not None:
        record = store.program(best.id)
        best_program = {
            **_line_json(best),
            "metrics": _clean(record.metrics),
            "code": record.code,
            "description": record.description,
        }
    return {
        "run": _run_json(run),
        "counts": counts,
        "failures": dict(failures.most_common()),
        "llm": {"calls": llm.calls, "dollars": llm.dollars, "failed": llm.failed},
        "best": best_program,
        "best_curve": curve,
        "landed": len(landed),  # evaluations landed so far: where the curve's last step ends
        "recent": [_line_json(line) for line in reversed(landed[-recent:])] if recent > 0 else [],
        "last_program_id": lines[-1].id if lines else None,
    }


def program_view(store: Archive, program_id: int) -> dict[str, Any]:
    """One program: code, diffs against its parent and the initial program, evaluations per stage."""
    program = store.program(program_id)
    parent = store.program(program.parent_id) if program.parent_id is not None else None
    initial = store.initial_program(program.run_id)
    evaluations = store.evaluations(program.migrated_from or program.id)
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
