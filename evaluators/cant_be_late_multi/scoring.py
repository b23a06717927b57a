"""From replayed runs to the stage's result: score, raw costs, feedback, features, or a failure.

Owns: the leaderboard's aggregation (mean cost per scenario, then the unweighted mean of the
scenario means; score = clip((146.88 - cost) / (146.88 - 46.7088), 0, 1) x 100, 2 decimals) and
what each kind of misbehaviour scores:

  the policy raised                      -> recorded failure (CandidateError "exception")
  a nonexistent region, or a log that
  stops short of finishing the job       -> infeasible: score 0, feedback says where and why
  state tampering with a complete log    -> scored on the replay's figures, flagged in metrics

(Reading future availability is impossible by construction: feed.py sends it tick by tick.)

Unlike the leaderboard, a failing run never drops its scenario from the mean (that let a policy
raise its score by failing on hard traces). Must not: run or replay anything.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from adrs.problemkit import EXCEPTION, CandidateError
from evaluators.cant_be_late_multi.model import OD_ANCHOR, SPOT_ANCHOR, RunOutcome, Simulation
from evaluators.cant_be_late_multi.replay import ActionLog

MAX_FEEDBACK_ITEMS = 3


@dataclass
class ScoredRun:
    sim: Simulation
    log: ActionLog
    outcome: RunOutcome


def score_of(cost: float) -> float:
    """The leaderboard's normalisation: on-demand anchor 0, spot anchor 100, clipped."""
    normalised = (OD_ANCHOR - cost) / (OD_ANCHOR - SPOT_ANCHOR)
    return round(max(0.0, min(1.0, normalised)) * 100, 2)


def judge(stage: str, runs: list[ScoredRun]) -> dict:
    """The evaluation result of a stage, or CandidateError when the policy raised."""
    for run in runs:
        if run.log.error_kind == "exception":
            tick = f", tick {run.log.error_tick}" if run.log.error_tick >= 0 else ""
            raise CandidateError(EXCEPTION, f"{run.sim.label}{tick}: {run.log.error_message}")
    metrics = _raw_metrics(runs)
    infeasible = [run for run in runs if run.outcome.infeasible or run.log.error_kind]
    if infeasible:
        metrics["infeasible_runs"] = len(infeasible)
        lines = [
            f"{r.sim.label}: {r.outcome.infeasible or r.log.error_message}" for r in infeasible[:MAX_FEEDBACK_ITEMS]
        ]
        return _zero(metrics, f"infeasible ({len(infeasible)} of {len(runs)} runs), score 0: " + "; ".join(lines))
    return {
        "score": metrics["score"],
        "metrics": metrics,
        "feedback": _feedback(runs, metrics),
        "features": _features(runs),
    }


def _raw_metrics(runs: list[ScoredRun]) -> dict:
    scenario_costs: dict[str, list[float]] = {}
    final_zone_costs: dict[str, list[float]] = {}
    for run in runs:
        scenario_costs.setdefault(run.sim.scenario, []).append(run.outcome.cost)
        final_zone_costs.setdefault(run.sim.scenario, []).append(run.outcome.cost_final_zone_billing)
    cost = statistics.mean(statistics.mean(v) for v in scenario_costs.values())
    final_zone_cost = statistics.mean(statistics.mean(v) for v in final_zone_costs.values())
    scored = [r.outcome for r in runs]
    metrics: dict[str, float] = {
        "score": score_of(cost),
        "cost": cost,
        "final_zone_billing_cost": final_zone_cost,
        "final_zone_billing_score": score_of(final_zone_cost),
        "runs": len(scored),
        "deadline_misses": sum(not o.deadline_met for o in scored),
        "mean_finish_hours": statistics.mean(o.finish_hours for o in scored if o.finish_hours != float("inf"))
        if any(o.finish_hours != float("inf") for o in scored)
        else 0.0,
        "spot_hours_per_run": statistics.mean(o.spot_hours for o in scored),
        "on_demand_hours_per_run": statistics.mean(o.on_demand_hours for o in scored),
        "region_switches_per_run": statistics.mean(o.region_switches for o in scored),
        "tampered_runs": sum(bool(r.outcome.tampered) for r in runs),
    }
    for name, costs in scenario_costs.items():
        metrics[f"cost_{name}"] = statistics.mean(costs)
    return metrics


def _features(runs: list[ScoredRun]) -> dict:
    scored = [r.outcome for r in runs]
    busy = sum(o.spot_hours + o.on_demand_hours for o in scored)
    return {
        "on_demand_share": sum(o.on_demand_hours for o in scored) / busy if busy else 0.0,
        "region_switches_per_run": statistics.mean(o.region_switches for o in scored),
    }


def _feedback(runs: list[ScoredRun], metrics: dict) -> str:
    parts = [
        f"mean cost ${metrics['cost']:.2f} (score {metrics['score']:.2f}; on-demand only = $146.88)",
        "per scenario: "
        + ", ".join(f"{k[len('cost_') :]} ${v:.2f}" for k, v in metrics.items() if k.startswith("cost_")),
        f"per run: {metrics['spot_hours_per_run']:.1f} h spot, {metrics['on_demand_hours_per_run']:.1f} h on-demand, "
        f"{metrics['region_switches_per_run']:.1f} region switches",
    ]
    if metrics["deadline_misses"]:
        parts.append(f"{metrics['deadline_misses']} run(s) finished after the deadline")
    tampered = [r for r in runs if r.outcome.tampered]
    if tampered:
        first = tampered[0]
        parts.append(
            f"FLAGGED: the policy altered simulator state in {len(tampered)} run(s) ({first.sim.label}: "
            f"{first.outcome.tampered[0]}); the score uses the trusted replay, so this gains nothing"
        )
    return "; ".join(parts)


def _zero(metrics: dict, feedback: str) -> dict:
    metrics = dict(metrics, score=0.0)
    return {"score": 0.0, "metrics": metrics, "feedback": feedback}
