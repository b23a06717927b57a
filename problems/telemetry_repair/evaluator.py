"""Trusted evaluator of telemetry_repair: runs the candidate's repair on perturbed snapshots and scores it.

All scenarios of a stage (see evaluators.telemetry_repair.workloads) run in ONE sandboxed candidate
process through the harness and driver.py; only what a router would report (the perturbed
telemetry and the topology map) crosses into it, never the ground truth. Every repair that comes
back is validated (evaluators.telemetry_repair.scoring.check_repair) and scored here.

Failures: a candidate that cannot run (syntax, import, no run_repair, timeout, memory) or whose
repair call raises in every scenario is a recorded failure; a call that raises in some scenarios
scores those 0, as the original; an output that breaks the rules (missing interface, no
confidence, non-finite value, ...) fails the evaluation as invalid_output, naming the scenario.
Must not import or call the candidate itself, and must not read anything the candidate printed.
"""

from __future__ import annotations

from pathlib import Path

from adrs.problemkit import EXCEPTION, INVALID_OUTPUT, CandidateError, run_candidate
from evaluators.telemetry_repair.scenarios import Scenario
from evaluators.telemetry_repair.scoring import (
    FAILED,
    RepairError,
    check_repair,
    scenario_metrics,
    stage_score,
)
from evaluators.telemetry_repair.workloads import stage_scenarios

DRIVER = Path(__file__).with_name("driver.py")


def evaluate(
    program_path: str, *, stage: str = "full", workdir: str | None = None, data_dir: str | None = None
) -> dict:
    """Score `program_path` on the stage's scenarios; a broken candidate raises CandidateError."""
    scenarios, source = stage_scenarios(stage, data_dir)
    payload = {"scenarios": [{"telemetry": s.telemetry, "topology": s.topology} for s in scenarios]}
    run = run_candidate(program_path, DRIVER, payload, workdir=workdir)
    records = run.raise_for_failure()
    if not isinstance(records, list) or len(records) != len(scenarios):
        raise CandidateError(INVALID_OUTPUT, "the driver's records are malformed")
    metrics, raised = [], []
    for scenario, record in zip(scenarios, records, strict=True):
        if isinstance(record, dict) and record.get("status") == "raised":
            raised.append(f"scenario {scenario.label}: run_repair raised: {str(record.get('error', ''))[-600:]}")
            metrics.append(FAILED)
            continue
        metrics.append(_score(scenario, record))
    if len(raised) == len(scenarios):
        raise CandidateError(EXCEPTION, raised[0])
    total = stage_score(metrics)
    lines = [
        f"{stage} ({source}, {len(scenarios)} scenarios): combined {total.combined:.4f} = 0.75 x counter "
        f"{total.counter:.4f} + 0.05 x status {total.status:.4f} + 0.20 x calibration {total.calibration:.4f}"
    ]
    worst = sorted(zip(metrics, scenarios, strict=True), key=lambda pair: pair[0].combined)[:3]
    lines += [
        f"weakest: scenario {s.label} ({s.bug}): combined {m.combined:.4f}, counter {m.counter:.4f}, "
        f"calibration {m.calibration:.4f}"
        for m, s in worst
    ]
    lines += raised[:3]
    return {
        "score": total.score,
        "metrics": {
            "combined_score": total.combined,
            "counter_repair_accuracy": total.counter,
            "status_repair_accuracy": total.status,
            "confidence_calibration": total.calibration,
            "scenarios_raised": float(len(raised)),
            "candidate_wall_s": run.wall_s,
        },
        "feedback": "\n".join(lines),
        "features": {"counter_repair_accuracy": total.counter, "confidence_calibration": total.calibration},
    }


def _score(scenario: Scenario, record):
    if not (isinstance(record, dict) and record.get("status") == "repaired"):
        raise CandidateError(INVALID_OUTPUT, f"scenario {scenario.label}: the driver's record is malformed")
    try:
        repairs = check_repair(scenario, record.get("repair"))
    except RepairError as exc:
        raise CandidateError(INVALID_OUTPUT, f"scenario {scenario.label}: {exc}") from None
    return scenario_metrics(scenario, repairs)
