"""KV-cache time-to-live for multi-turn agents: how long to keep a paused program's cache (kv_ttl).

An agent program alternates LLM turns and tool calls. When a turn ends with a tool call, ttl()
says how many seconds to pin the program's KV cache in GPU memory (0: leave it to LRU eviction, as
vLLM does); the pin ends when the next turn is admitted or the TTL expires. priority() orders the
waiting turns (smaller first). The score rewards a low mean job completion time: a pinned cache
spares recomputing the context and the queue after the tool returns, but holds memory others need.
This starting point pins for twice the tool's mean observed duration (at most 4 s) and admits turns by
their own arrival.
"""

# EVOLVE-BLOCK-START
TTL_FACTOR = 2.0  # pin for this multiple of the tool's mean observed duration
TTL_CAP_S = 4.0
MIN_TURNS = 2  # only pin programs that have run at least this many turns
PROGRAM_AGE_WEIGHT = 0.0  # 1.0 = order by program arrival (program-level FCFS)


class Policy:
    def __init__(self, engine):
        self.sum = {}  # tool -> total observed seconds
        self.count = {}  # tool -> observed calls
        self.pending = {}  # program -> tool of its outstanding call

    def priority(self, request, engine):
        tool = self.pending.pop(request.program, None)
        if tool is not None:
            self.sum[tool] = self.sum.get(tool, 0.0) + request.last_tool_s
            self.count[tool] = self.count.get(tool, 0) + 1
        return request.arrival - PROGRAM_AGE_WEIGHT * (request.arrival - request.program_arrival)

    def ttl(self, turn, engine):
        self.pending[turn.program] = turn.tool
        if turn.turn + 1 < MIN_TURNS or not self.count.get(turn.tool):
            return 0.0
        mean = self.sum[turn.tool] / self.count[turn.tool]
        return min(TTL_CAP_S, TTL_FACTOR * mean, engine.max_ttl_s)


# EVOLVE-BLOCK-END
