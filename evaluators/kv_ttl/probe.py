"""Causality probe: a twin of one agent trace that shares its past and differs in its future.

The trace sits in the candidate's process, so a determined program could read a tool call's
duration before it returns, a program's remaining turns, or future programs from memory. The twin
keeps the programs before a cut position of the list (past the ones that start at once); for up to
four of the programs that start shortly before the cut (with at least four turns) it redraws the
durations of the tool calls from a random turn of their second half on and changes their turn count
(cut shorter or extended); the programs from the cut on are replaced by others.
Twin and original run in different candidate processes, in shuffled order, with the same seed.

Until the first changed thing becomes visible (a replaced program's start, the return of a
redrawn tool call, the end of a program that goes on in the other run), both runs ask the same
questions about the same state, so a causal, deterministic policy gives the same answers. The
trusted replays record, per run, how many questions came before the first visible change; the
answers before the earlier of the two must match, or the evaluation scores 0.

Must not: share anything with the candidate beyond the twin trace itself.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from evaluators.kv_ttl.workload import SHAPES, AgentSpec, AgentTrace, Program, Turn, draw_program, generate

PROGRAM_OFFSET = 1 << 20
ALTERED = 4


@dataclass
class Twin:
    original: int
    cut: int  # programs from this position on are replaced
    trace: AgentTrace
    original_marks: frozenset
    twin_marks: frozenset


def plan_twin(stage: str, specs: list[AgentSpec], generated: list[AgentTrace]) -> Twin:
    rng = random.Random(f"kv_ttl-probe-{stage}")
    index = rng.randrange(len(specs))
    spec = specs[index]
    original = generated[index]
    count = len(original.programs)
    late = count - original.concurrency
    cut = min(count - 1, original.concurrency + rng.randrange(late // 3, max(late // 3 + 1, 2 * late // 3)))
    other = generate(spec, program_offset=PROGRAM_OFFSET, stream=rng.randrange(1 << 30))
    marks_original = {("arrive", i, 0) for i in range(cut, count)}
    marks_twin = set(marks_original)
    eligible = [i for i in range(max(0, cut - 2 * original.concurrency), cut) if len(original.programs[i].turns) >= 4]
    altered = set(rng.sample(eligible, min(ALTERED, len(eligible))))
    programs = []
    for i, program in enumerate(original.programs[:cut]):
        if i in altered:
            changed, first_call, common = _alter(rng, program)
            for turn in range(first_call, common):  # a redrawn call returns: the next turn's arrival
                marks_original.add(("arrive", i, turn + 1))
                marks_twin.add(("arrive", i, turn + 1))
            marks_original.add(("finish", i, common - 1))  # one run's last turn, the other's tool call
            marks_twin.add(("finish", i, common - 1))
            programs.append(changed)
        else:
            programs.append(program)
    twin = AgentTrace(None, programs + other.programs[cut:], original.concurrency, original.stagger_s, original.setup)
    return Twin(index, cut, twin, frozenset(marks_original), frozenset(marks_twin))


def _alter(rng: random.Random, program: Program) -> tuple[Program, int, int]:
    """(changed program, first call redrawn, turns both versions have)."""
    turns = list(program.turns)
    shape = SHAPES[program.kind]
    first_call = rng.randrange(len(turns) // 2, len(turns) - 1)
    if rng.random() < 0.5 and len(turns) - first_call > 2:
        count = rng.randrange(first_call + 2, len(turns))  # cut shorter
        turns = turns[:count]
        last = turns[-1]
        turns[-1] = Turn(last.new_tokens, last.output_tokens, None, 0.0)
    else:
        extra = draw_program(rng, shape, program.pid).turns[1 : 1 + rng.randrange(1, 4)]
        last = turns[-1]
        tool = shape.tools[rng.randrange(len(shape.tools))].name
        turns[-1] = Turn(last.new_tokens, last.output_tokens, tool, 1.0)
        turns.extend(extra)
        if turns[-1].tool is not None:
            end = turns[-1]
            turns[-1] = Turn(end.new_tokens, end.output_tokens, None, 0.0)
    for j in range(first_call, len(turns) - 1):
        step = turns[j]
        factor = rng.choice((0.3, 0.5, 2.0, 3.0))
        turns[j] = Turn(step.new_tokens, step.output_tokens, step.tool, round(max(0.005, step.tool_s * factor), 4))
    common = min(len(turns), len(program.turns))
    return Program(program.pid, program.kind, tuple(turns)), first_call, common
