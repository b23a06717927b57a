"""A fixed pin: every tool call keeps its program's KV cache pinned for 2 s (InferCept-like
retention without a per-tool estimate); request-level first come, first served."""

TTL_S = 2.0


class Policy:
    def __init__(self, engine):
        pass

    def priority(self, request, engine):
        return request.arrival

    def ttl(self, turn, engine):
        return TTL_S
