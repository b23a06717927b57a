"""vLLM's default: no pin (TTL 0); a finished turn's KV blocks stay as prefix cache until LRU
eviction needs them; requests are admitted first come, first served by their own arrival."""


class Policy:
    def __init__(self, engine):
        pass

    def priority(self, request, engine):
        return request.arrival

    def ttl(self, turn, engine):
        return 0.0
