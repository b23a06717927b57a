"""Metrics and score of the routing problem, from trusted replays only.

Per trace: SLO attainment = the share of requests whose TTFT as seen by the user (queueing,
prefill, and the network both ways when sent to another region) is at most the SLO; a request
with no first token by the end misses it. Trace score = 100 x (attainment - a0) / (1 - a0),
clipped to [0, 100], where a0 is round robin's attainment on that trace (anchors.py): round robin
scores 0, serving every request within the SLO scores 100. A setting's score is the mean over its
traces; a stage's score is the mean over its settings.

Must not: read anything the candidate reported except through the replay.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from evaluators.llm_routing.cluster import Layout, Outcome
from evaluators.llm_routing.stages import SINGLE, StageTrace
from evaluators.llm_routing.workload import Trace


@dataclass
class TraceResult:
    name: str
    setting: str
    requests: int
    attainment: float
    anchor: float
    score: float
    mean_ttft_s: float  # over requests that got a first token
    p90_ttft_s: float  # unfinished requests count as infinite
    mean_tpot_ms: float
    cache_hit_ratio: float  # prompt tokens served from the prefix cache
    forwarded_share: float
    cost_per_1k_good: float  # $ of the fleet over the trace per 1,000 requests within the SLO
    busy_imbalance: float  # busiest instance's busy time / mean - 1
    moves: int
    forced: int
    unfinished: int


def trace_score(attainment: float, anchor: float) -> float:
    if anchor >= 1.0:
        return 100.0
    return 100.0 * min(1.0, max(0.0, (attainment - anchor) / (1.0 - anchor)))


def ttfts(trace: Trace, outcome: Outcome) -> list[float]:
    return [first - arrival for first, arrival in zip(outcome.first_token, trace.arrival, strict=True)]


def attainment(layout: Layout, trace: Trace, outcome: Outcome) -> float:
    slo = layout.slo_ttft_s
    values = ttfts(trace, outcome)
    return sum(1 for value in values if value <= slo) / len(values) if values else 1.0


def measure(item: StageTrace, layout: Layout, trace: Trace, outcome: Outcome, anchor: float) -> TraceResult:
    values = ttfts(trace, outcome)
    good = sum(1 for value in values if value <= layout.slo_ttft_s)
    share = good / len(values) if values else 1.0
    finite = [value for value in values if value != math.inf]
    ordered = sorted(values)
    tpots = [
        (done - first) / (out - 1) * 1000.0
        for done, first, out in zip(outcome.finished, outcome.first_token, trace.output_tokens, strict=True)
        if out > 1 and done != math.inf
    ]
    fleet_hours = item.spec.duration_s / 3600.0
    cost = sum(layout.price_per_hour[region] for region in layout.instance_regions) * fleet_hours
    busy = outcome.busy_s
    mean_busy = sum(busy) / len(busy)
    return TraceResult(
        name=item.spec.name,
        setting=item.layout,
        requests=len(values),
        attainment=share,
        anchor=anchor,
        score=trace_score(share, anchor),
        mean_ttft_s=statistics.fmean(finite) if finite else math.inf,
        p90_ttft_s=ordered[int(0.9 * (len(ordered) - 1))] if ordered else 0.0,
        mean_tpot_ms=statistics.fmean(tpots) if tpots else 0.0,
        cache_hit_ratio=sum(outcome.cached_tokens) / max(1, sum(trace.prompt_tokens)),
        forwarded_share=sum(outcome.forwarded) / max(1, len(values)),
        cost_per_1k_good=cost / good * 1000.0 if good else math.inf,
        busy_imbalance=max(busy) / mean_busy - 1.0 if mean_busy > 0 else 0.0,
        moves=outcome.moves,
        forced=outcome.forced,
        unfinished=len(values) - len(finite),
    )


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def summarise(results: list[TraceResult]) -> dict:
    settings: dict[str, list[TraceResult]] = {}
    for result in results:
        settings.setdefault(result.setting, []).append(result)
    setting_scores = {name: _mean([r.score for r in items]) for name, items in settings.items()}
    score = _mean(list(setting_scores.values()))
    metrics: dict[str, float] = {
        "attainment": round(_mean([r.attainment for r in results]), 4),
        "mean_ttft_s": round(_mean([min(r.mean_ttft_s, 1e6) for r in results]), 4),
        "p90_ttft_s": round(_mean([min(r.p90_ttft_s, 1e6) for r in results]), 4),
        "mean_tpot_ms": round(_mean([r.mean_tpot_ms for r in results]), 3),
        "cache_hit_ratio": round(_mean([r.cache_hit_ratio for r in results]), 4),
        "forwarded_share": round(_mean([r.forwarded_share for r in results]), 4),
        "busy_imbalance": round(_mean([r.busy_imbalance for r in results]), 4),
        "moves": sum(r.moves for r in results),
        "forced_dispatches": sum(r.forced for r in results),
        "unfinished": sum(r.unfinished for r in results),
    }
    for name, value in setting_scores.items():
        metrics[f"{name}_score"] = round(value, 4)
    for result in results:
        key = result.name.replace("/", "_").replace("-", "_")
        metrics[f"{key}_attainment"] = round(result.attainment, 4)
        if result.setting != SINGLE:
            metrics[f"{key}_cost_per_1k_good"] = round(min(result.cost_per_1k_good, 1e9), 4)
    lines = [
        f"{r.name}: SLO attainment {r.attainment:.3f} (round robin {r.anchor:.3f}) -> {r.score:.1f}; "
        f"mean TTFT {r.mean_ttft_s:.2f} s, p90 {r.p90_ttft_s:.2f} s, cache hit {r.cache_hit_ratio:.2f}, "
        f"sent to another region {r.forwarded_share:.2f}"
        for r in results
    ]
    return {
        "score": round(score, 4),
        "metrics": metrics,
        "features": {"cache_hit_ratio": metrics["cache_hit_ratio"], "busy_imbalance": metrics["busy_imbalance"]},
        "feedback": "\n".join(lines),
    }
