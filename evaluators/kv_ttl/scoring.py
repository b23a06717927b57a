"""Metrics and score of the KV-TTL problem, from trusted replays only.

Per trace: mean job completion time (JCT: a program's arrival to its last turn's end; a program
unfinished at the end counts up to the end). Trace score = 100 x (J_lru - J) / (J_lru - J_bound),
clipped to [0, 100]: vLLM's default (TTL 0, request-level FCFS; anchors.py) scores 0, and the
bound is the mean over programs of their tool time plus every turn computed alone on an idle
instance with its whole previous context cached (no queueing, no recompute, batch of one), which
no policy can beat. A stage's score is the mean over its traces.

Must not: read anything the candidate reported except through the replay.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from evaluators.kv_ttl.engine import Outcome, Setup
from evaluators.kv_ttl.workload import BLOCK_TOKENS, SHAPES, AgentSpec, AgentTrace, Program, prompt_tokens


@dataclass
class TraceResult:
    name: str
    programs: int
    mean_jct_s: float
    lru_jct_s: float
    bound_jct_s: float
    score: float
    p90_jct_s: float
    mean_turn_queue_s: float
    recompute_ratio: float
    pinned_share: float  # pinned tokens x s / (capacity x trace time)
    mean_ttl_s: float  # over pinned calls
    pinned_call_share: float
    unfinished: int


def program_bound_s(setup: Setup, program: Program) -> float:
    model = setup.model
    shared = SHAPES[program.kind].system_tokens // BLOCK_TOKENS * BLOCK_TOKENS
    total = 0.0
    previous = shared
    for index, turn in enumerate(program.turns):
        prompt = prompt_tokens(program, index)
        uncached = max(1, prompt - previous)
        total += model.isolated_prefill_s(uncached) + model.isolated_decode_s(turn.output_tokens, prompt) + turn.tool_s
        previous = (prompt + turn.output_tokens) // BLOCK_TOKENS * BLOCK_TOKENS
    return total


def bound_jct(setup: Setup, trace: AgentTrace) -> float:
    return statistics.fmean(program_bound_s(setup, p) for p in trace.programs)


def trace_score(jct: float, lru: float, bound: float) -> float:
    if lru <= bound:
        return 100.0 if jct <= bound else 0.0
    return 100.0 * min(1.0, max(0.0, (lru - jct) / (lru - bound)))


def measure(spec: AgentSpec, setup: Setup, trace: AgentTrace, outcome: Outcome, lru: float) -> TraceResult:
    jct = statistics.fmean(outcome.jct)
    bound = bound_jct(setup, trace)
    ordered = sorted(outcome.jct)
    capacity = setup.model.kv_blocks * BLOCK_TOKENS
    return TraceResult(
        name=spec.name,
        programs=len(trace.programs),
        mean_jct_s=jct,
        lru_jct_s=lru,
        bound_jct_s=bound,
        score=trace_score(jct, lru, bound),
        p90_jct_s=ordered[int(0.9 * (len(ordered) - 1))],
        mean_turn_queue_s=statistics.fmean(outcome.turn_queue_s) if outcome.turn_queue_s else 0.0,
        recompute_ratio=outcome.recomputed_tokens / max(1, outcome.prompt_tokens),
        pinned_share=outcome.pin_token_s / (capacity * max(outcome.end_s, 1e-9)),
        mean_ttl_s=outcome.ttl_sum_s / outcome.pinned_calls if outcome.pinned_calls else 0.0,
        pinned_call_share=outcome.pinned_calls / outcome.tool_calls if outcome.tool_calls else 0.0,
        unfinished=outcome.finished.count(False),
    )


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def summarise(results: list[TraceResult]) -> dict:
    score = _mean([r.score for r in results])
    metrics: dict[str, float] = {
        "mean_jct_s": round(_mean([r.mean_jct_s for r in results]), 4),
        "jct_vs_lru": round(_mean([r.mean_jct_s / r.lru_jct_s for r in results]), 4),
        "p90_jct_s": round(_mean([r.p90_jct_s for r in results]), 4),
        "mean_turn_queue_s": round(_mean([r.mean_turn_queue_s for r in results]), 4),
        "recompute_ratio": round(_mean([r.recompute_ratio for r in results]), 4),
        "pinned_share": round(_mean([r.pinned_share for r in results]), 4),
        "mean_ttl_s": round(_mean([r.mean_ttl_s for r in results]), 4),
        "pinned_call_share": round(_mean([r.pinned_call_share for r in results]), 4),
        "unfinished": sum(r.unfinished for r in results),
    }
    for result in results:
        key = result.name.replace("/", "_")
        metrics[f"{key}_jct_s"] = round(result.mean_jct_s, 4)
        metrics[f"{key}_score"] = round(result.score, 4)
    lines = [
        f"{r.name}: mean JCT {r.mean_jct_s:.1f} s (vLLM LRU {r.lru_jct_s:.1f} s, bound {r.bound_jct_s:.1f} s) "
        f"-> {r.score:.1f}; queue per turn {r.mean_turn_queue_s:.2f} s, recomputed context "
        f"{r.recompute_ratio:.3f} of prompt tokens, pinned {r.pinned_call_share:.2f} of tool calls "
        f"(mean TTL {r.mean_ttl_s:.2f} s)"
        for r in results
    ]
    return {
        "score": round(score, 4),
        "metrics": metrics,
        "features": {"pinned_share": metrics["pinned_share"], "recompute_ratio": metrics["recompute_ratio"]},
        "feedback": "\n".join(lines),
    }
