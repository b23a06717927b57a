"""The normalised outcome of one evaluation stage, built on the trusted side from a worker's frame.

Owns: turning whatever an evaluator returned (adrs dict, or an OpenEvolve-style dict with
combined_score) into an `Evaluation` with a finite score, float metrics, features and feedback.
Anything malformed becomes a failed evaluation whose message says what was wrong.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from adrs.evaluate import failures

MAX_FEEDBACK_CHARS = 20_000
_RESERVED = {"score", "metrics", "features", "feedback", "instances", "artifacts", "error"}


@dataclass
class Evaluation:
    stage: str
    ok: bool
    score: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    features: dict[str, float] = field(default_factory=dict)
    feedback: str = ""
    instances: dict[str, float] = field(default_factory=dict)
    error_kind: str | None = None
    error: str = ""
    duration_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def failure(cls, stage: str, kind: str, message: str, duration_s: float = 0.0) -> Evaluation:
        return cls(stage=stage, ok=False, error_kind=kind, error=message, duration_s=duration_s)


def _finite(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and math.isfinite(float(value)):
        return float(value)
    return None


def _float_map(raw: Any) -> dict[str, float]:
    if not isinstance(raw, dict):
        return {}
    out = {}
    for key, value in raw.items():
        number = _finite(value)
        if number is not None:
            out[str(key)] = number
    return out


def normalise(stage: str, raw: Any, score_metric: str, duration_s: float) -> Evaluation:
    """Build an Evaluation from an evaluator's return value."""
    if not isinstance(raw, dict):
        return Evaluation.failure(
            stage, failures.EVALUATOR, f"evaluate() returned {type(raw).__name__}, expected a dict", duration_s
        )
    metrics = _float_map(raw.get("metrics"))
    for key, value in raw.items():
        if key not in _RESERVED and (number := _finite(value)) is not None:
            metrics.setdefault(str(key), number)
    score = _finite(raw.get("score"))
    if score is None:
        score = metrics.get(score_metric)
    if score is None:
        return Evaluation.failure(
            stage,
            failures.EVALUATOR,
            f"evaluate() returned no finite 'score' (nor metric {score_metric!r}); keys: {sorted(raw)}",
            duration_s,
        )
    metrics["score"] = score
    features = _float_map(raw.get("features"))
    feedback = raw.get("feedback", "")
    if not isinstance(feedback, str):
        feedback = str(feedback)
    if isinstance(raw.get("artifacts"), dict):  # OpenEvolve-style text artifacts become feedback
        extra = "\n".join(f"{k}: {v}" for k, v in raw["artifacts"].items())
        feedback = f"{feedback}\n{extra}".strip()
    return Evaluation(
        stage=stage,
        ok=True,
        score=score,
        metrics=metrics,
        features=features,
        feedback=feedback[:MAX_FEEDBACK_CHARS],
        instances=_float_map(raw.get("instances")),
        duration_s=duration_s,
    )
