"""The score of one stage: per-case scores, aggregate metrics, MAP-Elites features and feedback.

Takes the trusted cases and the untrusted per-case records from the candidate process, validates
each record (validate.py), and scores against the original model data only. Rules:
- any invalid placement makes the whole stage score 0, with a feedback line naming the case;
- a case whose call raised or timed out scores 0 and stays in the average (the leaderboard drops
  it, which lets a policy raise on hard cases to lift its mean);
- otherwise case score = 100 x sqrt(fraction of the way from round robin to the lower bound).
Must not run candidate code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from evaluators.prism.cases import PrismCase
from evaluators.prism.kvpr import (
    GPU_MEMORY_GB,
    case_score,
    gap_closed,
    gpu_loads,
    lower_bound,
    max_kvpr,
    round_robin,
)
from evaluators.prism.validate import CaseOutcome, read_case_record

WORST_CASES_SHOWN = 3
FAILURES_SHOWN = 3


@dataclass(frozen=True)
class CaseScore:
    """The trusted result of one case."""

    case: PrismCase
    baseline: float  # round-robin max-KVPR
    bound: float  # lower bound
    solution: float | None  # the placement's max-KVPR; None when the call raised
    score: float
    groups: tuple[tuple[int, ...], ...] = ()
    error: str = ""


@dataclass
class StageScore:
    """What evaluate() returns, before it is turned into a dict."""

    score: float
    metrics: dict[str, float]
    features: dict[str, float] = field(default_factory=dict)
    feedback: str = ""

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"score": self.score, "metrics": self.metrics, "feedback": self.feedback}
        if self.features:
            result["features"] = self.features
        return result


def score_stage(cases: list[PrismCase], records: Any, stage: str) -> StageScore:
    """Validate the candidate's records for `cases` and score them."""
    if not isinstance(records, list) or len(records) != len(cases):
        got = len(records) if isinstance(records, list) else type(records).__name__
        return _invalid(cases, None, f"expected {len(cases)} case results, got {got}")
    scored = []
    for case, raw in zip(cases, records, strict=True):
        outcome = read_case_record(raw, case)
        if outcome.kind == "invalid":
            return _invalid(cases, case, outcome.message)
        scored.append(_score_case(case, outcome))
    return _summarise(scored, stage)


def _score_case(case: PrismCase, outcome: CaseOutcome) -> CaseScore:
    baseline = max_kvpr(case, round_robin(case))
    bound = lower_bound(case)
    if outcome.kind == "raised":
        return CaseScore(case, baseline, bound, None, 0.0, error=outcome.message)
    solution = max_kvpr(case, outcome.groups)
    return CaseScore(case, baseline, bound, solution, case_score(baseline, bound, solution), outcome.groups)


def _summarise(scored: list[CaseScore], stage: str) -> StageScore:
    placed = [c for c in scored if c.solution is not None]
    failed = [c for c in scored if c.solution is None]
    score = sum(c.score for c in scored) / len(scored)
    metrics = {
        "valid": 1.0,
        "cases": float(len(scored)),
        "cases_failed": float(len(failed)),
        "mean_max_kvpr": _mean([c.solution for c in placed if c.solution is not None]),
        "mean_round_robin_kvpr": _mean([c.baseline for c in scored]),
        "mean_lower_bound_kvpr": _mean([c.bound for c in scored]),
        "mean_gap_closed": _mean([_gap(c) for c in scored]),
        "mean_excess_over_bound": _mean([c.solution / c.bound - 1.0 for c in placed if c.solution and c.bound]),
    }
    features = {
        "pressure_balance": _mean([_pressure_balance(c) for c in placed]),
        "memory_spread": _mean([_memory_spread(c) for c in placed]),
    }
    return StageScore(score, metrics, features, _feedback(scored, metrics, stage))


def _gap(c: CaseScore) -> float:
    return 0.0 if c.solution is None else gap_closed(c.baseline, c.bound, c.solution)


def _pressure_balance(c: CaseScore) -> float:
    """min over GPUs of KVPR / max over GPUs: 1 when every GPU is under the same pressure."""
    loads = gpu_loads(c.case, c.groups)
    return min(loads) / max(loads) if max(loads) > 0 else 1.0


def _memory_spread(c: CaseScore) -> float:
    """(most used GPU memory - least used) / 80 GB: 0 when memory is spread evenly."""
    used = [sum(c.case.models[i].size_gb for i in group) for group in c.groups]
    return (max(used) - min(used)) / GPU_MEMORY_GB


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _invalid(cases: list[PrismCase], case: PrismCase | None, reason: str) -> StageScore:
    where = f"case {case.index} ({case.gpu_num} GPUs, {len(case.models)} models)" if case else "result"
    feedback = (
        f"INVALID placement in {where}: {reason}. Any invalid placement scores the whole evaluation 0. "
        "Return a dict {gpu_id: [model objects]} with int GPU ids in range(gpu_num), every input model "
        f"object exactly once, and at most {GPU_MEMORY_GB} GB of model_size per GPU."
    )
    metrics = {"valid": 0.0, "cases": float(len(cases)), "cases_failed": 0.0}
    if case is not None:
        metrics["invalid_case"] = float(case.index)
    return StageScore(0.0, metrics, {}, feedback)


def _feedback(scored: list[CaseScore], metrics: dict[str, float], stage: str) -> str:
    placed = len(scored) - int(metrics["cases_failed"])
    lines = [
        f"{stage}: score {sum(c.score for c in scored) / len(scored):.2f} over {len(scored)} cases "
        f"({int(metrics['cases_failed'])} raised or timed out, scored 0). Means: round robin "
        f"{metrics['mean_round_robin_kvpr']:.6f} max-KVPR (0 points), lower bound "
        f"{metrics['mean_lower_bound_kvpr']:.6f} (100 points)"
        + (
            f", yours {metrics['mean_max_kvpr']:.6f} over the {placed} placed cases. On average the placement "
            f"closes {100 * metrics['mean_gap_closed']:.1f}% of the gap and sits "
            f"{100 * metrics['mean_excess_over_bound']:.1f}% above the bound (case score = 100 x sqrt(gap closed))."
            if placed
            else "; no case was placed."
        )
    ]
    for c in [c for c in scored if c.solution is None][:FAILURES_SHOWN]:
        first = c.error.strip().splitlines()[-1] if c.error.strip() else "no message"
        lines.append(f"case {c.case.index} ({c.case.gpu_num} GPUs) raised or timed out, scored 0: {first}")
    worst = sorted((c for c in scored if c.solution is not None), key=lambda c: c.score)[:WORST_CASES_SHOWN]
    for c in worst:
        lines.append(_describe_case(c))
    lines.append(
        "The bound pools all free memory, so it is reached only when every GPU has the same "
        "sum(req_rate/slo) / (80 - sum(model_size)); the hottest GPU decides each case."
    )
    return "\n".join(lines)


def _describe_case(c: CaseScore) -> str:
    assert c.solution is not None
    loads = gpu_loads(c.case, c.groups)
    hot = max(range(len(loads)), key=loads.__getitem__)
    members = c.groups[hot]
    used = sum(c.case.models[i].size_gb for i in members)
    rate = sum(c.case.models[i].weighted_rate for i in members)
    excess = 100 * (c.solution / c.bound - 1.0) if c.bound else 0.0
    return (
        f"case {c.case.index} ({c.case.gpu_num} GPUs, {len(c.case.models)} models): max-KVPR "
        f"{c.solution:.6f} vs bound {c.bound:.6f} (+{excess:.1f}%), round robin {c.baseline:.6f}, "
        f"case score {c.score:.1f}; hottest GPU {hot} holds {len(members)} models, {used} GB, "
        f"weighted rate {rate:.3f}, least-pressured GPU at {min(loads):.6f}"
    )
