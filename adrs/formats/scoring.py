"""Scoring a peer folder's answers on the trusted side, exactly as the peer framework scores them.

Owns, for OpenEvolve (version 0.4.0's rules):
- the fitness: `combined_score` when present (and a number), else the mean of the numeric metrics
  that are not booleans and not MAP-Elites dimensions (all numeric metrics when that leaves none;
  0.0 when there are none at all);
- the cascade: each stage's numeric metrics (booleans as 0/1, `error` left out) are merged over the
  earlier stages' ones, and the merged metrics are what the next threshold and the fitness judge;
- the threshold value: `combined_score` when present, else the mean of every numeric metric but
  `error` (booleans counted), which is what OpenEvolve compares with cascade_thresholds;
- feedback: string values of the metrics (such as "error") and the artifacts, as text.
For ShinkaEvolve: `correct` false (or no correct.json, or a result file refused) is a failed
evaluation carrying its error;
the score is `combined_score` (0.0 when absent, as ShinkaEvolve reads it); numeric `public` metrics
are metrics; other public values and `text_feedback` are feedback; `private` metrics stay out of
what the LLM sees, as in ShinkaEvolve.

Must not: import or run evaluator or program code; it only reads the worker's JSON answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from adrs.evaluate.result import MAX_FEEDBACK_CHARS, Evaluation, normalise
from adrs.formats.peer import OPENEVOLVE, SHINKA
from adrs.problemkit import failures

if TYPE_CHECKING:
    from adrs.problem import Problem, Stage


@dataclass
class PeerEvaluation(Evaluation):
    """An Evaluation that keeps the evaluator's own metric values with their types, which OpenEvolve's
    cascade merges across stages. The archive and Ray's transport keep only Evaluation's fields."""

    raw_metrics: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        del out["raw_metrics"]
        return out


def raw_metrics(evaluation: Evaluation) -> dict[str, Any]:
    return evaluation.raw_metrics if isinstance(evaluation, PeerEvaluation) else {}


def _is_number(value: Any) -> bool:
    """OpenEvolve's isinstance(value, (int, float)): booleans are numbers here."""
    return isinstance(value, int | float)


def openevolve_fitness(metrics: dict[str, Any], feature_dimensions: tuple[str, ...] = ()) -> float:
    """OpenEvolve's get_fitness_score."""
    if not metrics:
        return 0.0
    if "combined_score" in metrics:
        try:
            return float(metrics["combined_score"])
        except (TypeError, ValueError):
            pass
    kept = {k: v for k, v in metrics.items() if k not in feature_dimensions}
    values = _plain_numbers(kept)
    if not values:
        values = _plain_numbers(metrics)
    return sum(values) / len(values) if values else 0.0


def _plain_numbers(metrics: dict[str, Any]) -> list[float]:
    return [float(v) for v in metrics.values() if _is_number(v) and not isinstance(v, bool) and not math.isnan(v)]


def openevolve_threshold_value(metrics: dict[str, Any]) -> float | None:
    """The number OpenEvolve's _passes_threshold compares; None: it fails whatever the threshold."""
    if not metrics:
        return None
    combined = metrics.get("combined_score")
    if "combined_score" in metrics and _is_number(combined):
        return float(combined)
    values = [float(v) for k, v in metrics.items() if k != "error" and _is_number(v)]
    return sum(values) / len(values) if values else None


def openevolve_merge(earlier: dict[str, Any], later: dict[str, Any]) -> dict[str, float]:
    """The metrics OpenEvolve keeps after two cascade stages: numeric values as floats, `error` left out."""
    merged = {k: float(v) for k, v in earlier.items() if _is_number(v) and k != "error"}
    merged.update({k: float(v) for k, v in later.items() if _is_number(v) and k != "error"})
    return merged


def normalise_for(problem: Problem, stage: str, raw: Any, duration_s: float) -> Evaluation:
    """The Evaluation of one stage's answer, by the rules of the problem's format."""
    peer = problem.peer
    if peer is None:
        return normalise(stage, raw, problem.score_metric, duration_s)
    if not isinstance(raw, dict):
        return Evaluation.failure(
            stage, failures.EVALUATOR, f"the worker's answer is {type(raw).__name__}, expected a dict", duration_s
        )
    if peer.format == OPENEVOLVE:
        return _openevolve_evaluation(
            stage, raw.get("metrics"), raw.get("artifacts"), peer.feature_dimensions, duration_s
        )
    if peer.format == SHINKA:
        return _shinka_evaluation(stage, raw, duration_s)
    raise ValueError(f"unknown problem format {peer.format!r}")


def _openevolve_evaluation(
    stage: str,
    metrics: Any,
    artifacts: Any,
    feature_dimensions: tuple[str, ...],
    duration_s: float,
    feedback: str | None = None,
) -> Evaluation:
    metrics = metrics if isinstance(metrics, dict) else {}
    score = openevolve_fitness(metrics, feature_dimensions)
    if not math.isfinite(score):
        return Evaluation.failure(
            stage,
            failures.INVALID_OUTPUT,
            f"OpenEvolve's fitness of the returned metrics is {score}: not a finite number",
            duration_s,
        )
    numbers = {k: float(v) for k, v in metrics.items() if _is_number(v) and math.isfinite(v)}
    numbers["score"] = score
    if feedback is None:
        lines = [f"{k}: {v}" for k, v in metrics.items() if v is not None and not _is_number(v)]
        if isinstance(artifacts, dict):
            lines += [f"{k}: {v}" for k, v in artifacts.items()]
        feedback = "\n".join(lines)
    return PeerEvaluation(
        stage=stage,
        ok=True,
        score=score,
        metrics=numbers,
        feedback=feedback[:MAX_FEEDBACK_CHARS],
        duration_s=duration_s,
        raw_metrics=dict(metrics),
    )


def _shinka_evaluation(stage: str, raw: dict[str, Any], duration_s: float) -> Evaluation:
    problems = [str(p) for p in raw.get("problems") or []]
    correct = raw.get("correct")
    metrics = raw.get("metrics") if isinstance(raw.get("metrics"), dict) else {}
    feedback = _shinka_feedback(metrics)
    if correct is not True or problems:  # a result file refused or unreadable fails the evaluation too
        error = raw.get("error") or ""
        why = "; ".join(problems) if problems else f"correct.json says correct={correct!r}"
        message = f"{why}: {error}" if error else why
        if feedback:
            message += f"\n{feedback}"
        return Evaluation.failure(stage, failures.INVALID_OUTPUT, message, duration_s)
    combined = metrics.get("combined_score", 0.0)
    if isinstance(combined, bool) or not isinstance(combined, int | float) or not math.isfinite(combined):
        return Evaluation.failure(
            stage,
            failures.INVALID_OUTPUT,
            f"metrics.json: combined_score is {combined!r}, not a finite number",
            duration_s,
        )
    public = metrics.get("public") if isinstance(metrics.get("public"), dict) else {}
    numbers = {str(k): float(v) for k, v in public.items() if _is_number(v) and math.isfinite(v)}
    numbers["score"] = float(combined)
    return Evaluation(
        stage=stage,
        ok=True,
        score=float(combined),
        metrics=numbers,
        feedback=feedback[:MAX_FEEDBACK_CHARS],
        duration_s=duration_s,
    )


def _shinka_feedback(metrics: dict[str, Any]) -> str:
    public = metrics.get("public") if isinstance(metrics.get("public"), dict) else {}
    lines = [f"{k}: {v}" for k, v in public.items() if not _is_number(v)]
    text = metrics.get("text_feedback")
    if isinstance(text, list):
        text = "\n".join(str(t) for t in text)
    if isinstance(text, str) and text.strip():
        lines.append(text.strip())
    return "\n".join(lines)


def cascade_step(
    problem: Problem, stage: Stage, earlier: list[Evaluation], evaluation: Evaluation
) -> tuple[Evaluation, bool]:
    """The stage's evaluation as the cascade keeps it, and whether the cascade stops after it."""
    if not evaluation.ok:
        return evaluation, True
    if problem.peer is None or problem.peer.format != OPENEVOLVE:
        below = stage.threshold is not None and evaluation.score is not None and evaluation.score < stage.threshold
        return evaluation, below
    judged = raw_metrics(evaluation)
    if earlier:  # OpenEvolve merges each later stage's metrics over the earlier ones
        judged = openevolve_merge(raw_metrics(earlier[-1]), judged)
        evaluation = _openevolve_evaluation(
            evaluation.stage, judged, None, problem.peer.feature_dimensions, evaluation.duration_s, evaluation.feedback
        )
    if stage.threshold is None:
        return evaluation, False
    value = openevolve_threshold_value(judged)
    return evaluation, value is None or not value >= stage.threshold  # NaN fails, as in OpenEvolve


def check_notes(problem: Problem, evaluations: list[Evaluation]) -> list[str]:
    """Lines `adrs check` prints about how a peer folder was read and scored."""
    peer = problem.peer
    if peer is None:
        return []
    notes = list(peer.notes)
    last = evaluations[-1] if evaluations else None
    if peer.format == OPENEVOLVE and last is not None and last.ok and "combined_score" not in raw_metrics(last):
        excluded = f" and the MAP-Elites dimensions {list(peer.feature_dimensions)}" if peer.feature_dimensions else ""
        notes.append(
            f"{problem.evaluator_path.name} returns no combined_score: the score is OpenEvolve's fitness, the mean of "
            f"the"
            f" numeric metrics (booleans{excluded} not counted) = {last.score:.6g}"
        )
    return notes
