"""Turns the trusted replay of a stage into the evaluation result: score, metrics, features, feedback.

Score: the leaderboard's 0-100 scale, mean cost between the on-demand anchor (0) and the spot
anchor (100), before rounding (the rounded integer is reported as `leaderboard_score`). Flags:
runs whose claimed log disagrees with the replay (tampering or an invalid log: the replayed cost
counts and the feedback says where). No causality check is needed: the feed (feed.py) never gives
a run a tick before it begins.

Must not: run anything, or read any figure from the candidate except the logs it compares.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from evaluators.cant_be_late import rules
from evaluators.cant_be_late.logs import RunLog, first_disagreement
from evaluators.cant_be_late.replay import Replay
from evaluators.cant_be_late.workload import Simulation, Workload

TICK_HOURS = rules.GAP_SECONDS / 3600
WORST_SCENARIOS = 5


def summarise(workload: Workload, outcome: Replay, run_logs: list[RunLog]) -> dict:
    sims = workload.simulations
    mean_cost = float(outcome.cost.mean())
    raw_score = rules.score_from_cost(mean_cost)
    disagreements = _disagreements(sims, outcome, run_logs)
    padded = sum(len(log.requests) < end for log, end in zip(run_logs, outcome.end_tick.tolist(), strict=True))
    spot, on_demand = int(outcome.spot_ticks.sum()), int(outcome.on_demand_ticks.sum())
    billed = int(outcome.end_tick.sum())
    deadlines = np.array([sim.deadline_hours * 3600 for sim in sims])
    metrics = {
        "mean_cost": round(mean_cost, 4),
        "leaderboard_score": round(raw_score),
        "runs": len(sims),
        "deadline_misses": int((~outcome.deadline_met).sum()),
        "mean_spot_hours": round(spot * TICK_HOURS / len(sims), 3),
        "mean_on_demand_hours": round(on_demand * TICK_HOURS / len(sims), 3),
        "on_demand_share": round(on_demand / max(spot + on_demand, 1), 4),
        "guard_forced_share": round(int(outcome.guard_forced.sum()) / max(billed, 1), 4),
        "restarts_per_run": round(float(outcome.restarts.mean()), 3),
        "deadline_used": round(float((outcome.end_tick * rules.GAP_SECONDS / deadlines).mean()), 4),
        "tampered_runs": len(disagreements),
        "padded_runs": int(padded),
    }
    for deadline in rules.DEADLINES_HOURS:
        chosen = [i for i, sim in enumerate(sims) if sim.deadline_hours == deadline]
        if chosen:
            metrics[f"mean_cost_dl{deadline:g}"] = round(float(outcome.cost[chosen].mean()), 4)
    feedback = _feedback(workload, outcome, metrics, raw_score, disagreements)
    return {
        "score": round(raw_score, 4),
        "metrics": metrics,
        "features": {key: metrics[key] for key in ("on_demand_share", "restarts_per_run")},
        "feedback": "\n".join(feedback),
    }


def _disagreements(sims: tuple[Simulation, ...], outcome: Replay, run_logs: list[RunLog]) -> list[str]:
    found = []
    codes = (outcome.actions + ord("0")).astype(np.uint8)
    for index, (sim, log) in enumerate(zip(sims, run_logs, strict=True)):
        end = int(outcome.end_tick[index])
        replayed = codes[index, :end].tobytes().decode()
        reason = first_disagreement(log, replayed, bool(outcome.finished[index]), sim.trace.bits)
        if reason is not None:
            found.append(f"{sim.label}: {reason}")
    return found


def _feedback(
    workload: Workload, outcome: Replay, metrics: dict, raw_score: float, disagreements: list[str]
) -> list[str]:
    lines = [
        f"{workload.stage} stage, {workload.source} traces: mean cost ${metrics['mean_cost']:.2f} over "
        f"{metrics['runs']} runs -> score {raw_score:.2f} (on-demand only ${rules.ON_DEMAND_ANCHOR:.2f} = 0, "
        f"spot only ${rules.SPOT_ANCHOR:.2f} = 100).",
        f"Per run on average: {metrics['mean_spot_hours']:.1f} h on spot, {metrics['mean_on_demand_hours']:.1f} h "
        f"on on-demand; the deadline guard overrode {100 * metrics['guard_forced_share']:.1f} % of the decisions; "
        f"{metrics['deadline_misses']} of {metrics['runs']} runs finished after the deadline.",
    ]
    by_scenario: dict[str, list[float]] = defaultdict(list)
    for sim, cost in zip(workload.simulations, outcome.cost.tolist(), strict=True):
        by_scenario[sim.scenario].append(cost)
    worst = sorted(by_scenario.items(), key=lambda item: -float(np.mean(item[1])))[:WORST_SCENARIOS]
    lines.append(
        "Costliest scenarios (env, deadline h, overhead h: mean cost): "
        + "; ".join(f"{name}: ${np.mean(costs):.2f}" for name, costs in worst)
    )
    if disagreements:
        lines.append(
            f"FLAGGED: in {len(disagreements)} runs the in-process simulator's log disagrees with the trusted "
            f"replay (the policy changed simulator state such as task_done_time or "
            f"remaining_restart_overhead, or the log is invalid); only the replayed cost counts. First: "
            f"{disagreements[0]}"
        )
    if metrics["padded_runs"]:
        lines.append(
            f"{metrics['padded_runs']} logs ended before the work was done; the replay continued them on ON_DEMAND."
        )
    return lines
