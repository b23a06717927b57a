"""Causality probes: twins of stage traces that share their past and differ in their future.

The trace necessarily sits in the candidate's process, so a determined program could read future
arrivals, or the output length of the request it is routing, from memory. Two twins per stage
catch a policy whose decisions depend on them; each runs in another candidate process than its
original, in shuffled order, with the original's policy seed.

- Arrival twin: keeps every request arriving before a cut time `c` and replaces the rest with
  other sessions on the same templates, none arriving before the original's first arrival from
  `c` on (so every decision made before the original's future shows is compared).
- Length twin: the same trace, except that ALTERED requests arriving from another cut time on
  (each the last turn of its session) get longer outputs.

Until the first changed thing becomes visible (a replaced arrival, or the admission of an altered
request, whose KV reservation covers its output), the two runs ask the same questions about the
same state, so a causal, deterministic policy gives the same answers. The trusted replays record,
for each run, how many questions came before the first visible change; the answers to the
questions before the earlier of the two must match, or the evaluation scores 0.

Must not: share anything with the candidate beyond the twin traces themselves.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from evaluators.llm_routing.stages import StageTrace
from evaluators.llm_routing.workload import BLOCK_TOKENS, SESSION_ID_STRIDE, Trace, generate

SESSION_OFFSET = 1 << 20
ALTERED = 8


@dataclass
class Twin:
    kind: str  # "arrivals" or "lengths"
    original: int  # index of the original among the stage's traces
    cut_s: float
    trace: Trace
    original_marks: tuple[frozenset, frozenset]  # (changed arrivals, changed output lengths), original's ids
    twin_marks: tuple[frozenset, frozenset]


def plan_twins(stage: str, items: list[StageTrace], generated: list[Trace]) -> list[Twin]:
    rng = random.Random(f"llm_routing-probe-{stage}")
    return [_arrival_twin(rng, items, generated), _length_twin(rng, generated)]


def _arrival_twin(rng: random.Random, items: list[StageTrace], generated: list[Trace]) -> Twin:
    index = rng.randrange(len(items))
    original = generated[index]
    cut = items[index].spec.duration_s * rng.uniform(0.3, 0.7)
    other = generate(items[index].spec, session_seed=rng.randrange(1 << 30), session_offset=SESSION_OFFSET)
    twin = Trace(None, [], [], [], [], [], [], [])
    for i, t in enumerate(original.arrival):
        if t >= cut:
            break
        _append(twin, original, i, original.output_tokens[i], original.out_blocks[i])
    kept = len(twin.arrival)
    first_after = original.arrival[kept] if kept < len(original) else cut
    for i, t in enumerate(other.arrival):
        if t > first_after:
            _append(twin, other, i, other.output_tokens[i], other.out_blocks[i])
    original_marks = (frozenset(range(kept, len(original))), frozenset())
    twin_marks = (frozenset(range(kept, len(twin.arrival))), frozenset())
    return Twin("arrivals", index, cut, twin, original_marks, twin_marks)


def _length_twin(rng: random.Random, generated: list[Trace]) -> Twin:
    index = rng.randrange(len(generated))
    original = generated[index]
    cut = original.arrival[-1] * rng.uniform(0.3, 0.7) if len(original) else 0.0
    last_turn: dict[int, int] = {}
    for i, session in enumerate(original.session):
        last_turn[session] = i
    finals = sorted(i for i in last_turn.values() if original.arrival[i] >= cut)[:ALTERED]
    twin = Trace(None, [], [], [], [], [], [], [])
    for i in range(len(original)):
        if i in finals:
            output = _longer(rng, original.output_tokens[i])
            _append(twin, original, i, output, _out_blocks(original, i, output))
        else:
            _append(twin, original, i, original.output_tokens[i], original.out_blocks[i])
    marks = (frozenset(), frozenset(finals))
    return Twin("lengths", index, cut, twin, marks, marks)


def _longer(rng: random.Random, output: int) -> int:
    return max(2, min(2048, int(math.ceil(output * rng.choice((1.5, 2.0, 3.0)))) + 1))


def _out_blocks(trace: Trace, i: int, output: int) -> tuple[int, ...]:
    """Output blocks of request i with another output length (the same chained id scheme)."""
    prompt = trace.prompt_tokens[i]
    base = trace.session[i] * SESSION_ID_STRIDE
    return tuple(range(base + prompt // BLOCK_TOKENS, base + (prompt + output) // BLOCK_TOKENS))


def _append(target: Trace, source: Trace, i: int, output: int, out_blocks: tuple[int, ...]) -> None:
    target.arrival.append(source.arrival[i])
    target.region.append(source.region[i])
    target.session.append(source.session[i])
    target.prompt_tokens.append(source.prompt_tokens[i])
    target.output_tokens.append(output)
    target.blocks.append(source.blocks[i])
    target.out_blocks.append(out_blocks)
