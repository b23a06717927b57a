"""The score of a txn_scheduling stage, from schedules whose makespans the trusted side recomputes.

Owns: judging each workload's record (permutation check, makespan recomputed with the trusted
simulator, the claimed makespan only compared), the leaderboard's 0-100 formula applied to the
stage's workloads, the metrics (raw makespans beside the score), features and feedback.

Score (shared/problems/txn_scheduling.md): B = sum of identity-order makespans (0 points),
O = sum of the longest transaction per workload, E = O + 0.1 (B - O) (100 points);
score = clamp(100 (B - M) / (B - E), 0, 100) for the total makespan M. Any schedule that is not a
permutation, or a budget that was worked around, scores the stage 0 with feedback saying why.
Must not: run candidate code, or use any makespan the candidate reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from evaluators.txn_scheduling.simulator import makespan
from evaluators.txn_scheduling.validate import Record, permutation_problem
from evaluators.txn_scheduling.workloads import NamedWorkload

OPTIMAL_SHIFT = 0.10  # the leaderboard moves the 100-point anchor 10 % of the way towards B


@dataclass(frozen=True)
class WorkloadOutcome:
    name: str
    identity: int  # makespan of the order 0..n-1
    lower_bound: int  # the longest transaction
    calls: int
    makespan: int | None  # recomputed here; None when the schedule is not a permutation
    problem: str | None  # why the schedule does not count
    notes: tuple[str, ...] = ()  # budget ran out, claimed makespan differs, ...


@dataclass
class StageResult:
    score: float
    metrics: dict[str, float] = field(default_factory=dict)
    features: dict[str, float] = field(default_factory=dict)
    feedback: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "metrics": self.metrics,
            "features": self.features,
            "feedback": self.feedback,
        }


def judge(workload: NamedWorkload, record: Record, budget: int) -> WorkloadOutcome:
    """One workload: check the schedule, recompute its makespan, note anything worth saying."""
    n = workload.num_txns
    notes = []
    if record.status == "budget_exhausted" and record.schedule is None:
        problem: str | None = f"the budget of {budget} calls ran out before any complete schedule was evaluated"
    elif record.schedule is None:
        problem = record.problem or "no schedule came back"
    else:
        problem = permutation_problem(record.schedule, n)
        if record.status == "budget_exhausted":
            notes.append(f"the budget of {budget} calls ran out; the best complete schedule it evaluated is used")
    span = None
    if problem is None and record.schedule is not None:
        span = makespan(workload.parsed, record.schedule)
        if record.status == "returned" and record.claimed is not None and record.claimed != span:
            notes.append(f"claimed makespan {record.claimed:g}, recomputed {span} (the recomputed figure counts)")
    return WorkloadOutcome(
        workload.name,
        workload.identity_makespan(),
        workload.lower_bound(),
        record.calls,
        span,
        problem,
        tuple(notes),
    )


def anchored_score(total: float, identity_total: float, lower_bound_total: float) -> float:
    """The leaderboard's formula: 0 at the identity total, 100 at the shifted lower bound."""
    effective = lower_bound_total + OPTIMAL_SHIFT * (identity_total - lower_bound_total)
    if total >= identity_total:
        return 0.0
    if total <= effective:
        return 100.0
    return 100.0 * (identity_total - total) / (identity_total - effective)


def score_stage(
    stage: str,
    source: str,
    outcomes: list[WorkloadOutcome],
    budget: int,
    budget_problems: list[str],
    wall_s: float,
) -> StageResult:
    """Pool the stage's workloads into one score, with raw figures and feedback."""
    identity_total = sum(o.identity for o in outcomes)
    bound_total = sum(o.lower_bound for o in outcomes)
    effective = bound_total + OPTIMAL_SHIFT * (identity_total - bound_total)
    calls_total = sum(o.calls for o in outcomes)
    invalid = [o for o in outcomes if o.makespan is None]
    metrics: dict[str, float] = {
        "identity_makespan_total": float(identity_total),
        "lower_bound_total": float(bound_total),
        "effective_optimum": effective,
        "calls_total": float(calls_total),
        "budget_per_workload": float(budget),
        "invalid_schedules": float(len(invalid)),
        "budget_violations": float(len(budget_problems)),
        "claimed_makespan_mismatches": float(sum(any(n.startswith("claimed") for n in o.notes) for o in outcomes)),
        "budget_exhausted_workloads": float(sum(any(n.startswith("the budget") for n in o.notes) for o in outcomes)),
        "candidate_wall_s": wall_s,
    }
    for o in outcomes:
        metrics[f"calls_{o.name}"] = float(o.calls)
        if o.makespan is not None:
            metrics[f"makespan_{o.name}"] = float(o.makespan)
    calls_frac = calls_total / (budget * len(outcomes))
    lines = []
    if invalid or budget_problems:
        score = 0.0
        why = "invalid schedules" if invalid else "a worked-around cost-function budget"
        lines.append(f"stage {stage} on {source}: score 0 because of {why} (details below)")
    else:
        total = sum(o.makespan for o in outcomes)  # type: ignore[misc]
        metrics["makespan_total"] = float(total)
        score = anchored_score(total, identity_total, bound_total)
        lines.append(
            f"stage {stage} on {source}: total makespan {total} vs identity order {identity_total} (0 points) "
            f"and effective optimum {effective:.1f} (100 points) -> score {score:.2f}"
        )
    lines.extend(budget_problems)
    for o in outcomes:
        figure = f"makespan {o.makespan}" if o.makespan is not None else f"INVALID: {o.problem}"
        lines.append(
            f"{o.name}: {figure} (identity {o.identity}, lower bound {o.lower_bound}); {o.calls} of {budget} calls"
        )
        lines.extend(f"{o.name}: {note}" for note in o.notes)
    metrics["calls_used_frac"] = calls_frac
    return StageResult(score, metrics, {"calls_used_frac": calls_frac}, "\n".join(lines))
