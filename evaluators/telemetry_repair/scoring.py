"""Checking and scoring a telemetry repair: the leaderboard's metrics with its loopholes closed.

Owns: `check_repair` (untrusted JSON -> typed repairs, or RepairError naming the interface) and
`scenario_metrics` / `stage_score`. Rules a repair must follow (the original skipped or defaulted
them): every interface of the scenario present and no other; rx_rate and tx_rate each a triple
[original, repaired, confidence] with a finite repaired value and a confidence in [0, 1];
interface_status a triple whose repaired value is a string. Tuples or lists both count as triples.

Metrics per scenario (as the original unless noted):
- counter accuracy = 1 - mean over rx/tx of min(|r - g| / g, 1); a measurement whose truth g is 0
  counts too, with error min(|r|, 1) (the original skipped it: inventing traffic there was free);
- status accuracy = share of interfaces whose repaired status equals the truth ("up");
- calibration: per value, accuracy a = 1 - |g - r| / max(|g|, |r|, 1); a > 0.8: 1 if c > 0.7 else
  0.5 + 1.25 (c - 0.3); else 0.8 if c < 0.3 else max(0, 0.8 - 2 c (1 - a)); clipped to [0, 1],
  averaged (never the original's free 1.0, since every value must carry a confidence);
- combined = 0.75 counter + 0.05 status + 0.20 calibration.
Stage: A = mean combined; score = 50 (A - 0.80) / 0.02 up to A = 0.82, then 50 + 50 (A - 0.82) / 0.18,
clamped to [0, 100].

Must not: run the policy or build scenarios.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from evaluators.telemetry_repair.scenarios import Scenario

BASELINE, KNEE, OPTIMAL = 0.80, 0.82, 1.0
WEIGHTS = {"counter": 0.75, "status": 0.05, "calibration": 0.20}
RATES = ("rx_rate", "tx_rate")


class RepairError(ValueError):
    """The repair breaks the output rules; the message names the interface and the rule."""


@dataclass(frozen=True)
class Repaired:
    rx: float
    tx: float
    rx_confidence: float
    tx_confidence: float
    status: str


@dataclass(frozen=True)
class ScenarioMetrics:
    counter: float
    status: float
    calibration: float

    @property
    def combined(self) -> float:
        return (
            WEIGHTS["counter"] * self.counter
            + WEIGHTS["status"] * self.status
            + WEIGHTS["calibration"] * self.calibration
        )


FAILED = ScenarioMetrics(0.0, 0.0, 0.0)  # a scenario whose repair call raised


def check_repair(scenario: Scenario, value: Any) -> dict[str, Repaired]:
    if not isinstance(value, dict):
        raise RepairError(f"run_repair must return a dict of interfaces, got {type(value).__name__}")
    missing = [iid for iid in scenario.truth if iid not in value]
    if missing:
        raise RepairError(f"{len(missing)} interfaces missing from the output, e.g. {missing[0]!r}: return every one")
    extra = [iid for iid in value if iid not in scenario.truth]
    if extra:
        raise RepairError(f"unknown interface {str(extra[0])[:60]!r} in the output")
    return {iid: _check_interface(iid, value[iid]) for iid in scenario.truth}


def _check_interface(iid: str, entry: Any) -> Repaired:
    if not isinstance(entry, dict):
        raise RepairError(f"{iid}: expected a dict with rx_rate, tx_rate and interface_status")
    rates = {}
    for key in RATES:
        triple = entry.get(key)
        if not (isinstance(triple, list) and len(triple) == 3):
            raise RepairError(f"{iid}.{key}: expected (original, repaired, confidence), got {str(triple)[:60]}")
        repaired, confidence = triple[1], triple[2]
        if not _finite(repaired):
            raise RepairError(f"{iid}.{key}: the repaired value {repaired!r} is not a finite number")
        if not (_finite(confidence) and 0.0 <= confidence <= 1.0):
            raise RepairError(f"{iid}.{key}: the confidence {confidence!r} is not a number in [0, 1]")
        rates[key] = (float(repaired), float(confidence))
    status = entry.get("interface_status")
    if not (isinstance(status, list) and len(status) == 3 and isinstance(status[1], str)):
        raise RepairError(f"{iid}.interface_status: expected (original, repaired, confidence) with a string status")
    return Repaired(rates["rx_rate"][0], rates["tx_rate"][0], rates["rx_rate"][1], rates["tx_rate"][1], status[1])


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def scenario_metrics(
    scenario: Scenario, repairs: dict[str, Repaired], *, count_zero_truth: bool = True
) -> ScenarioMetrics:
    """The three metrics; count_zero_truth=False reproduces the original's counter accuracy exactly."""
    error, counted, calibration, up = 0.0, 0, 0.0, 0
    for iid, truth in scenario.truth.items():
        rep = repairs[iid]
        for g, r, c in ((truth["rx_rate"], rep.rx, rep.rx_confidence), (truth["tx_rate"], rep.tx, rep.tx_confidence)):
            if g > 0:
                error += min(abs(r - g) / g, 1.0)
                counted += 1
            elif count_zero_truth:
                error += min(abs(r - g), 1.0)
                counted += 1
            calibration += _calibration(g, r, c)
        up += rep.status == truth["interface_status"]
    values = 2 * len(scenario.truth)
    return ScenarioMetrics(
        counter=max(0.0, 1.0 - error / counted) if counted else 0.0,
        status=up / len(scenario.truth) if scenario.truth else 1.0,
        calibration=calibration / values if values else 1.0,
    )


def _calibration(g: float, r: float, c: float) -> float:
    accuracy = 1.0 - abs(g - r) / max(abs(g), abs(r), 1.0)
    if accuracy > 0.8:
        score = 1.0 if c > 0.7 else 0.5 + (c - 0.3) * 1.25
    else:
        score = 0.8 if c < 0.3 else max(0.0, 0.8 - 2.0 * c * (1.0 - accuracy))
    return max(0.0, min(1.0, score))


@dataclass(frozen=True)
class StageScore:
    score: float
    combined: float
    counter: float
    status: float
    calibration: float


def stage_score(metrics: list[ScenarioMetrics]) -> StageScore:
    if not metrics:
        raise ValueError("no scenario was scored")
    n = len(metrics)
    combined = sum(m.combined for m in metrics) / n
    if combined <= KNEE:
        raw = 50.0 * (combined - BASELINE) / (KNEE - BASELINE)
    else:
        raw = 50.0 + 50.0 * (combined - KNEE) / (OPTIMAL - KNEE)
    return StageScore(
        score=max(0.0, min(100.0, raw)),
        combined=combined,
        counter=sum(m.counter for m in metrics) / n,
        status=sum(m.status for m in metrics) / n,
        calibration=sum(m.calibration for m in metrics) / n,
    )
