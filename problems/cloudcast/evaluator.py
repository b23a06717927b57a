"""Trusted evaluator of cloudcast: runs the candidate's search_algorithm once per configuration
(one sandboxed process each, through the harness and driver.py), validates every route (known
edges only, every partition delivered to every destination), simulates cost with the trusted
network's prices, and scores total cost on the leaderboard's 0-100 scale plus raw figures.

Data: synthetic stand-in by default; `data_dir` (--data / ADRS_DATA) with profiles/ and config/
for the real Skyplane data.
Must not: import or call the candidate, or read anything it printed.
"""

from __future__ import annotations

from pathlib import Path

from adrs.problemkit import INVALID_OUTPUT, CandidateError, find_data, run_candidates
from evaluators.cloudcast import stages
from evaluators.cloudcast.reference import dijkstra_routes
from evaluators.cloudcast.routes import RouteError, check_routes
from evaluators.cloudcast.scoring import score
from evaluators.cloudcast.simulator import Outcome, simulate

DRIVER = Path(__file__).resolve().with_name("driver.py")
MARKER = "profiles/cost.csv"


def evaluate(
    program_path: str, *, stage: str = "full", workdir: str | None = None, data_dir: str | None = None
) -> dict:
    workload = stages.build(stage, find_data(data_dir, "cloudcast", MARKER))
    network = workload.network.payload()
    payloads = [{"network": network, "config": c.payload()} for c in workload.configs]
    runs = run_candidates(program_path, DRIVER, payloads, workdir=workdir)

    outcomes: list[Outcome] = []
    references: list[Outcome] = []
    for config, run in zip(workload.configs, runs, strict=True):
        try:
            reply = run.raise_for_failure()
        except CandidateError as exc:
            raise CandidateError(exc.kind, f"{config.name}: {exc.message}") from None
        try:
            routes = check_routes(reply, workload.network, config)
        except RouteError as exc:
            raise CandidateError(INVALID_OUTPUT, f"{config.name}: {exc}") from None
        outcomes.append(simulate(workload.network, config, routes))
        references.append(simulate(workload.network, config, dijkstra_routes(workload.network, config)))

    total = sum(o.cost for o in outcomes)
    reference_total = sum(o.cost for o in references)
    result = score(total, reference_total, workload.leaderboard)
    metrics: dict[str, float] = {
        "total_cost": total,
        "baseline_cost": reference_total,
        "cost_ratio": total / reference_total,
        "score_unclamped": result.score_unclamped,
        "egress_cost": sum(o.egress_cost for o in outcomes),
        "instance_cost": sum(o.instance_cost for o in outcomes),
        "max_transfer_time_s": max(o.transfer_time_s for o in outcomes),
        "anchor_worst": result.worst,
        "anchor_best": result.best,
        "real_data": float(workload.real),
        "candidate_wall_s": max(run.wall_s for run in runs),
    }
    for config, outcome in zip(workload.configs, outcomes, strict=True):
        metrics[f"cost_{config.name}"] = outcome.cost
    relays = [
        (o.regions_used - 1 - len(c.destinations)) / o.regions_used
        for c, o in zip(workload.configs, outcomes, strict=True)
    ]
    features = {
        "relay_fraction": sum(relays) / len(relays),
        "mean_transfer_time_s": sum(o.transfer_time_s for o in outcomes) / len(outcomes),
    }
    return {
        "score": result.score,
        "metrics": metrics,
        "feedback": _feedback(workload, outcomes, references, metrics),
        "features": features,
    }


def _feedback(workload: stages.Workload, outcomes: list[Outcome], references: list[Outcome], m: dict) -> str:
    data = "real Skyplane data" if workload.real else "synthetic stand-in data"
    lines = [
        f"total cost ${m['total_cost']:.2f} vs ${m['baseline_cost']:.2f} for per-destination cheapest paths "
        f"(ratio {m['cost_ratio']:.3f}; {data}); unclamped score {m['score_unclamped']:.2f}."
    ]
    for config, mine, ref in zip(workload.configs, outcomes, references, strict=True):
        lines.append(
            f"{config.name}: ${mine.cost:.2f} (egress ${mine.egress_cost:.2f} + instances ${mine.instance_cost:.2f}, "
            f"{mine.transfer_time_s:.0f} s, {mine.regions_used} regions) vs baseline ${ref.cost:.2f}"
        )
    return "\n".join(lines)
