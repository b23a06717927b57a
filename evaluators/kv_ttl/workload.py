"""Seeded synthetic agent programs for the KV-cache TTL problem: SWE-bench- and BFCL-like.

An agent program (a job) is a ReAct loop: an LLM turn, a tool call, the tool's output appended to
the context, the next LLM turn, and so on; the last turn answers without a tool. Each turn's prompt
is the whole context so far (append-only), so it extends the previous turn's prompt plus output.
A trace is a list of programs run by a fixed number of agent workers (`concurrency`), as a
benchmark harness or an RL rollout runs them: a worker starts the next program of the list as soon
as its current one finishes. Turn counts, tokens and tool durations are drawn per workload kind
from the laws below (README, "Workload", gives the published figures they follow):

- swe: a shared 2,048-token system prompt and tool documentation, an issue of ~1,500 tokens,
  ~20 turns (lognormal, 4-60), ~120 output tokens and ~400 tool-output tokens per turn (heavy
  tailed), tools view/search/edit/bash/test with median durations 0.15/0.6/0.2/2/8 s.
- bfcl: a shared 3,072-token function catalogue, a ~200-token query, ~4 turns (2-10), ~80 output
  and ~150 tool-output tokens per turn, API-like tools of median 0.05-1 s.

Block ids are chained per program (an id stands for its prefix); the system prompt's whole blocks
are shared by every program of a kind.

Every draw comes from generators seeded by the spec: a trace depends only on its spec.

Must not: know about policies or the engine's state.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

BLOCK_TOKENS = 256
PROGRAM_STRIDE = 1 << 16  # block ids per program (contexts stay below 16M tokens)
SHARED_BASE = 1 << 40


@dataclass(frozen=True)
class Tool:
    name: str
    weight: float
    median_s: float
    sigma: float


@dataclass(frozen=True)
class AgentShape:
    kind: str
    system_tokens: int
    task_median: float
    task_sigma: float
    turns_median: float
    turns_sigma: float
    turns_low: int
    turns_high: int
    output_median: float
    output_sigma: float
    tool_output_median: float
    tool_output_sigma: float
    tools: tuple[Tool, ...]
    max_context_tokens: int = 100000


SWE = AgentShape(
    kind="swe",
    system_tokens=2048,
    task_median=1500,
    task_sigma=0.5,
    turns_median=18,
    turns_sigma=0.55,
    turns_low=4,
    turns_high=60,
    output_median=120,
    output_sigma=0.6,
    tool_output_median=900,
    tool_output_sigma=1.0,
    tools=(
        Tool("view", 0.35, 0.15, 0.6),
        Tool("search", 0.20, 0.6, 0.7),
        Tool("edit", 0.20, 0.2, 0.5),
        Tool("bash", 0.15, 2.0, 0.9),
        Tool("test", 0.10, 8.0, 0.8),
    ),
)
BFCL = AgentShape(
    kind="bfcl",
    system_tokens=3072,
    task_median=200,
    task_sigma=0.5,
    turns_median=4,
    turns_sigma=0.45,
    turns_low=2,
    turns_high=10,
    output_median=80,
    output_sigma=0.5,
    tool_output_median=150,
    tool_output_sigma=0.7,
    tools=(Tool("lookup", 0.45, 0.05, 0.8), Tool("compute", 0.30, 0.15, 0.8), Tool("api", 0.25, 1.0, 0.7)),
)
SHAPES = {shape.kind: shape for shape in (SWE, BFCL)}


@dataclass(frozen=True)
class Turn:
    new_tokens: int  # appended to the context before this turn (task for turn 0, tool output after)
    output_tokens: int
    tool: str | None  # the tool this turn calls; None for the last turn
    tool_s: float  # that tool's duration (0 for the last turn)


@dataclass(frozen=True)
class Program:
    pid: int
    kind: str
    turns: tuple[Turn, ...]


@dataclass(frozen=True)
class AgentSpec:
    name: str
    seed: int
    programs: int
    concurrency: int  # agent workers running programs back to back
    kind: str = "swe"
    setup: str = "llama8b"  # key of stages.SETUPS: the serving instance this trace runs on
    stagger_s: float = 1.0  # worker k starts its first program at k x stagger_s


@dataclass
class AgentTrace:
    spec: AgentSpec | None  # None when rebuilt from a payload
    programs: list[Program]

    concurrency: int
    stagger_s: float
    setup: str

    def to_payload(self) -> dict:
        return {
            "concurrency": self.concurrency,
            "stagger_s": self.stagger_s,
            "setup": self.setup,
            "programs": [
                [p.pid, p.kind, [[t.new_tokens, t.output_tokens, t.tool, t.tool_s] for t in p.turns]]
                for p in self.programs
            ],
        }


def trace_from_payload(data: dict) -> AgentTrace:
    programs = [
        Program(pid, kind, tuple(Turn(a, b, c, d) for a, b, c, d in turns)) for pid, kind, turns in data["programs"]
    ]
    return AgentTrace(None, programs, int(data["concurrency"]), float(data["stagger_s"]), str(data["setup"]))


def _lognormal(rng: random.Random, median: float, sigma: float, low: float, high: float) -> float:
    return min(high, max(low, median * math.exp(sigma * rng.gauss(0.0, 1.0))))


def draw_program(rng: random.Random, shape: AgentShape, pid: int) -> Program:
    turns_total = int(round(_lognormal(rng, shape.turns_median, shape.turns_sigma, shape.turns_low, shape.turns_high)))
    names = [tool.name for tool in shape.tools]
    weights = [tool.weight for tool in shape.tools]
    by_name = {tool.name: tool for tool in shape.tools}
    turns = []
    context = shape.system_tokens
    new = int(_lognormal(rng, shape.task_median, shape.task_sigma, 32, 8000))
    for index in range(turns_total):
        output = int(_lognormal(rng, shape.output_median, shape.output_sigma, 8, 1500))
        last = index == turns_total - 1 or context + new + output > shape.max_context_tokens
        if last:
            turns.append(Turn(new, output, None, 0.0))
            break
        tool = by_name[rng.choices(names, weights)[0]]
        duration = round(_lognormal(rng, tool.median_s, tool.sigma, 0.005, 120.0), 4)
        turns.append(Turn(new, output, tool.name, duration))
        context += new + output
        new = int(_lognormal(rng, shape.tool_output_median, shape.tool_output_sigma, 8, 12000))
    return Program(pid, shape.kind, tuple(turns))


def generate(spec: AgentSpec, program_offset: int = 0, stream: int | None = None) -> AgentTrace:
    """The programs of `spec`; a probe draws other ones with `stream`, numbered from `program_offset`."""
    rng = random.Random(f"{spec.seed if stream is None else stream}:{spec.kind}:programs")
    programs = [draw_program(rng, SHAPES[spec.kind], program_offset + i) for i in range(spec.programs)]
    return AgentTrace(spec, programs, spec.concurrency, spec.stagger_s, spec.setup)


def prompt_tokens(program: Program, turn: int) -> int:
    """Context length of `turn`'s prompt: system prompt + everything appended so far."""
    total = SHAPES[program.kind].system_tokens
    for index in range(turn + 1):
        total += program.turns[index].new_tokens
        if index < turn:
            total += program.turns[index].output_tokens
    return total


def block_ids(program: Program, start: int, stop: int) -> tuple[int, ...]:
    """Chained ids of the program's context blocks [start, stop)."""
    shared = SHAPES[program.kind].system_tokens // BLOCK_TOKENS
    kind_base = SHARED_BASE + list(SHAPES).index(program.kind) * PROGRAM_STRIDE
    base = program.pid * PROGRAM_STRIDE
    return tuple(kind_base + j if j < shared else base + j for j in range(start, stop))
