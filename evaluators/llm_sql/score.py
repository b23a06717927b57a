"""The LLM-SQL score: prefix hit rate over the baseline layout, plus a small runtime term.

Owns: `TableResult` (one table's measured figures) and `stage_score`, the leaderboard formula:
h0 = mean over tables of the hit rate of the file order with merges appended (the baseline),
h = mean hit rate of the policy's layouts, r = mean wall seconds of the policy's process;
hit_score = clip(100 (h - h0) / (1 - h0), 0, 100), runtime_score = 100 (10 - min(10, r)) / 10,
score = 0.95 hit_score + 0.05 runtime_score.

Must not: run candidates or validate plans.
"""

from __future__ import annotations

from dataclasses import dataclass

HIT_WEIGHT = 0.95
RUNTIME_WEIGHT = 0.05
RUNTIME_CAP_S = 10.0


@dataclass(frozen=True)
class TableResult:
    name: str
    rows: int
    hit_rate: float  # of the policy's layout, in [0, 1]
    baseline_hit_rate: float  # of the file order with merges appended
    wall_s: float  # the candidate process for this table, measured by the harness
    field_orders: int  # how many distinct per-row field orders the policy used


@dataclass(frozen=True)
class StageScore:
    score: float
    hit_rate: float
    baseline_hit_rate: float
    hit_score: float
    runtime_s: float
    runtime_score: float


def stage_score(results: list[TableResult]) -> StageScore:
    if not results:
        raise ValueError("no table was scored")
    h = sum(r.hit_rate for r in results) / len(results)
    h0 = sum(r.baseline_hit_rate for r in results) / len(results)
    runtime = sum(r.wall_s for r in results) / len(results)
    hit_score = min(100.0, max(0.0, 100.0 * (h - h0) / (1.0 - h0))) if h0 < 1.0 else 0.0
    runtime_score = 100.0 * (RUNTIME_CAP_S - min(RUNTIME_CAP_S, runtime)) / RUNTIME_CAP_S
    return StageScore(
        score=HIT_WEIGHT * hit_score + RUNTIME_WEIGHT * runtime_score,
        hit_rate=h,
        baseline_hit_rate=h0,
        hit_score=hit_score,
        runtime_s=runtime,
        runtime_score=runtime_score,
    )
