"""What a KV-TTL policy sees: the turn it decides about and the engine's state, as of now.

A waiting turn (priority question) shows its program, turn index, the program's and its own
arrival, prompt length, the tokens new to this turn, the tool whose result it carries and how long
that call took (observed now that it returned), and how much of its context the cache holds. A
finished turn (TTL question) shows its program, turn index, the tool being called now (not how long
it will take), the context a pin would hold and the program's age. The engine shows the clock,
KV capacity and use (held by running sequences, pinned, merely cached), the queue, the model's
prefill speed and the TTL cap. Nothing shows a program's remaining turns or a tool's duration
before it returns.

Must not: expose the trace, future arrivals, remaining turns or tool durations, or setters.
"""

from __future__ import annotations

from evaluators.kv_ttl.engine import AgentEngine
from evaluators.kv_ttl.workload import BLOCK_TOKENS, SHAPES
from evaluators.llm_serving import Job


class RequestView:
    __slots__ = (
        "program",
        "turn",
        "kind",
        "program_arrival",
        "arrival",
        "prompt_tokens",
        "new_tokens",
        "last_tool",
        "last_tool_s",
        "cached_tokens",
    )

    def __init__(self, engine: AgentEngine, job: Job, now: float):
        index, turn = job.owner
        program = engine.programs[index]
        self.program = index
        self.turn = turn
        self.kind = program.kind
        self.program_arrival = engine.started[index]
        self.arrival = now
        self.prompt_tokens = job.prompt_tokens
        self.new_tokens = program.turns[turn].new_tokens
        self.last_tool = program.turns[turn - 1].tool if turn else None
        self.last_tool_s = now - engine.last_finish[index] if turn else 0.0
        self.cached_tokens = engine.cache.match(job.blocks) * BLOCK_TOKENS

    def __repr__(self) -> str:
        return f"Request(program={self.program}, turn={self.turn}, prompt_tokens={self.prompt_tokens})"


class TurnView:
    __slots__ = ("program", "turn", "kind", "program_arrival", "tool", "context_tokens", "elapsed_s")

    def __init__(self, engine: AgentEngine, job: Job, now: float):
        index, turn = job.owner
        program = engine.programs[index]
        self.program = index
        self.turn = turn
        self.kind = program.kind
        self.program_arrival = engine.started[index]
        self.tool = program.turns[turn].tool
        self.context_tokens = job.prompt_tokens + job.output_tokens
        self.elapsed_s = now - engine.started[index]

    def __repr__(self) -> str:
        return f"Turn(program={self.program}, turn={self.turn}, tool={self.tool!r})"


class EngineView:
    __slots__ = (
        "_engine",
        "now",
        "kv_capacity_tokens",
        "block_tokens",
        "prefill_tokens_per_s",
        "max_ttl_s",
        "max_running",
        "tools",
    )

    def __init__(self, engine: AgentEngine):
        model = engine.setup.model
        self._engine = engine
        self.now = 0.0
        self.kv_capacity_tokens = model.kv_blocks * model.block_tokens
        self.block_tokens = model.block_tokens
        self.prefill_tokens_per_s = 1.0 / model.per_prefill_token_s
        self.max_ttl_s = engine.setup.max_ttl_s
        self.max_running = model.max_running
        self.tools = {kind: tuple(tool.name for tool in shape.tools) for kind, shape in SHAPES.items()}

    @property
    def kv_used_tokens(self) -> int:
        """Tokens held by running sequences and pins (not evictable)."""
        return self._engine.cache.referenced * BLOCK_TOKENS

    @property
    def kv_pinned_tokens(self) -> int:
        return self._engine.pinned_blocks * BLOCK_TOKENS

    @property
    def kv_cached_tokens(self) -> int:
        """Evictable prefix cache."""
        return len(self._engine.cache.lru) * BLOCK_TOKENS

    @property
    def waiting(self) -> int:
        return len(self._engine.instance.queue)

    @property
    def waiting_tokens(self) -> int:
        return self._engine.instance.queue.tokens

    @property
    def running(self) -> int:
        return self._engine.instance.running
