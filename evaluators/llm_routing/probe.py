"""Causality probe: a twin of one trace that shares its past and differs in its future.

The trace necessarily sits in the candidate's process, so a determined program could read
future arrivals, or the output lengths of requests in flight, from memory. The probe catches a
policy whose decisions depend on them. The twin keeps every request arriving before a cut time
`c`, except that the requests arriving in [c - WINDOW_S, c) that are the last turn of their
session before `c` get longer output lengths (hidden until they finish), and replaces everything
from `c` on with other sessions on the same templates (none before the original's first arrival
from `c` on). Twin and original run in different
candidate processes, in shuffled order, with the same policy seed.

Until the first changed thing becomes visible (a replaced arrival, or an altered request
finishing), the two runs ask the same questions about the same state, so a causal, deterministic
policy gives the same answers. The trusted replays record, for each run, how many questions came
before the first visible change; the answers to the questions before the earlier of the two must
match, or the evaluation scores 0.

Must not: share anything with the candidate beyond the twin trace itself.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from evaluators.llm_routing.stages import StageTrace
from evaluators.llm_routing.workload import BLOCK_TOKENS, SESSION_ID_STRIDE, Trace, generate

WINDOW_S = 3.0
SESSION_OFFSET = 1 << 20


@dataclass
class Twin:
    original: int  # index of the original among the stage's traces
    cut_s: float
    trace: Trace
    original_marks: tuple[frozenset, frozenset]  # (changed arrivals, changed finishes) in the original
    twin_marks: tuple[frozenset, frozenset]


def plan_twin(stage: str, traces: list[StageTrace], generated: list[Trace]) -> Twin:
    rng = random.Random(f"llm_routing-probe-{stage}")
    index = rng.randrange(len(traces))
    spec = traces[index].spec
    original = generated[index]
    cut = spec.duration_s * rng.uniform(0.3, 0.7)
    other = generate(spec, session_seed=rng.randrange(1 << 30), session_offset=SESSION_OFFSET)
    last_turn: dict[int, int] = {}
    for i, t in enumerate(original.arrival):
        if t < cut:
            last_turn[original.session[i]] = i
    altered = {i for i in last_turn.values() if original.arrival[i] >= cut - WINDOW_S}
    twin = Trace(None, [], [], [], [], [], [], [])
    twin_altered = set()
    for i, t in enumerate(original.arrival):
        if t >= cut:
            break
        output = original.output_tokens[i]
        out_blocks = original.out_blocks[i]
        if i in altered:
            output = _other_length(rng, output)
            out_blocks = _out_blocks(original, i, output)
            twin_altered.add(len(twin.arrival))
        _append(twin, original, i, output, out_blocks)
    first_replaced = len(twin.arrival)
    # the twin's first new arrival comes after the original's first one from `c` on, so every
    # decision made before the original's future shows is compared
    first_after = next((t for t in original.arrival if t >= cut), cut)
    for i, t in enumerate(other.arrival):
        if t > first_after:
            _append(twin, other, i, other.output_tokens[i], other.out_blocks[i])
    original_marks = (frozenset(i for i, t in enumerate(original.arrival) if t >= cut), frozenset(altered))
    twin_marks = (frozenset(range(first_replaced, len(twin.arrival))), frozenset(twin_altered))
    return Twin(index, cut, twin, original_marks, twin_marks)


def _other_length(rng: random.Random, output: int) -> int:
    """A longer output (so the twin's altered requests finish after the original's ones)."""
    factor = rng.choice((1.5, 2.0, 3.0))
    return max(2, min(2048, int(math.ceil(output * factor)) + 1))


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
