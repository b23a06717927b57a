"""The search's state as `adrs serve` shows it: islands, the Pareto front, the MAP-Elites grids and the
lineage of the best, as plain JSON values.

Owns: shaping a RunState's index (the engine's `Elites`) through the report's own data functions
(adrs/report/data.py: the Pareto points and axes, the island grids, the lineage of the best;
adrs/report/grids.py: cell matrices and bin labels), so that the live page and `adrs report` agree
on what they show; and the state of each island (programs, failures, pending, best, cells, when
it last improved, whether an adaptive search still draws from it).

Must not: read the archive beyond what it is handed (the adaptive search's state), draw, or know
about HTTP.
"""

from __future__ import annotations

import math
from typing import Any

from adrs.archive.records import ProgramRecord, ProgramStatus
from adrs.archive.store import Archive
from adrs.report.data import ParetoAxes, island_grids, objective_point, on_front_candidate
from adrs.report.grids import cell_matrix, folded, tick_labels
from adrs.report.lineage import lineage_of
from adrs.serve.state import IslandStats, RunState

CLOUD_POINTS = 2000  # complete programs drawn behind the front; a larger run shows an even sample of them
ADAPTIVE_STATE = "adaptive_search"  # adrs/search/adaptive.py's STATE_KEY (serve must not import the search)


def number(value: float | None) -> float | None:
    """`value`, or None where JSON has no number for it (NaN, infinities)."""
    return value if value is None or math.isfinite(value) else None


def _pareto(state: RunState) -> dict[str, Any]:
    shape = state.shape
    axes = ParetoAxes.of(shape.objectives, tuple(f.name for f in shape.features))

    def derive(record: ProgramRecord) -> list[float | int | None] | None:
        if not on_front_candidate(record):
            return None
        point = objective_point(record, shape.objectives)
        x, y = axes.coords(point.objectives, point.descriptors)
        return None if x is None or y is None else [number(x), number(y), record.id]

    def xy(program_id: int) -> list[float | int | None] | None:
        return state.remembered("pareto", program_id, derive)

    candidates = state.front_candidates
    stride = max(1, math.ceil(len(candidates) / CLOUD_POINTS))
    front = [xy(p.original_id) for p in state.elites.pareto_front()]
    return {
        "x": axes.x,
        "y": axes.y,
        "x_label": axes.x_label,
        "y_label": axes.y_label,
        "objectives": [{"name": o.name, "direction": o.direction} for o in shape.objectives],
        "front": sorted((p for p in front if p is not None), key=lambda p: (p[0] is None, p[0] or 0.0)),
        "cloud": [p for p in (xy(pid) for pid in candidates[::stride]) if p is not None],
        "complete": len(candidates),
    }


def _grids(state: RunState) -> list[dict[str, Any]]:
    shown = []
    for grid in island_grids(state.elites):
        matrix, x_feature, y_feature = cell_matrix(grid)
        shown.append(
            {
                "island": grid.island,
                "occupied": len(grid.elite_scores),
                "capacity": grid.capacity,
                "rows": [[number(score) for score in row] for row in matrix],  # row 0 is the lowest bin
                "x_name": x_feature.name,
                "x_labels": tick_labels(x_feature),
                "y_name": y_feature.name if y_feature is not None else None,
                "y_labels": tick_labels(y_feature) if y_feature is not None else [],
                "folded": folded(grid),
            }
        )
    return shown


def _lineage(state: RunState) -> list[dict[str, Any]]:
    best = state.cached("best", state.elites.best)
    if best is None:
        return []
    steps = lineage_of(state.records, best.original_id, state.children)
    return [
        {
            "id": step.program_id,
            "score": number(step.score),
            "complete": step.complete,
            "island": step.island,
            "mutator": step.mutator,
            "description": step.description,
            "note": step.note,
            "siblings": len(step.sibling_scores),
            "siblings_best": number(max(step.sibling_scores)) if step.sibling_scores else None,
            "failed_siblings": step.failed_siblings,
        }
        for step in steps
    ]


def search_view(state: RunState) -> dict[str, Any]:
    """The Pareto front (with a sample of every complete program), the MAP-Elites grid of each island,
    and the lineage of the best, from the initial program on."""
    return state.cached(
        "search",
        lambda: {
            "version": state.version,
            "note": state.shape.note,
            "pareto": _pareto(state),
            "grids": _grids(state),
            "lineage": _lineage(state),
        },
    )


def islands_view(store: Archive, state: RunState) -> list[dict[str, Any]]:
    """Each island's state: programs landed, failed and pending on it, its best, its occupied cells,
    the evaluation after which its best last improved, migrants received, and whether an adaptive
    search still draws parents from it (None where the run does not use one)."""
    return state.cached("islands", lambda: _islands(store, state))


def _islands(store: Archive, state: RunState) -> list[dict[str, Any]]:
    adaptive = store.get_state(state.run.id, ADAPTIVE_STATE)
    active = set(adaptive.get("active", [])) if adaptive else None
    pending: dict[int, int] = {}
    for line in state.lines.values():
        if line.status == ProgramStatus.PENDING:
            pending[line.island] = pending.get(line.island, 0) + 1
    coverage = state.elites.coverage()
    capacity = 1
    for feature in state.elites.features:
        capacity *= feature.cells
    out = []
    for island in sorted(set(range(state.elites.islands)) | set(state.islands) | set(pending)):
        stats = state.islands.get(island) or IslandStats(island)
        top = stats.best
        out.append(
            {
                "island": island,
                "programs": stats.programs,
                "failed": stats.failed,
                "pending": pending.get(island, 0),
                "migrants_in": stats.migrants_in,
                "improved_at": stats.improved_at,
                "best_score": number(top.score) if top is not None else None,
                "best_id": top.original_id if top is not None else None,
                "cells": coverage.get(island, 0),
                "capacity": capacity,
                "active": None if active is None else island in active,
            }
        )
    return out
