"""LLM request routing: choose the serving instance for every request, online (llm_routing).

Each request arrives at its home region's balancer. Return the id of the instance that serves it
(or None to hold it at the balancer; it is offered again when capacity frees). The score rewards
serving requests within the TTFT SLO: reuse the prefix cache (a prompt whose leading blocks an
instance holds computes only the rest) without piling work onto few instances, and in the
multi-region setting send requests to another region when home is overloaded (it costs the round
trip). This starting point scores home-region instances by queued work minus a small cache bonus.
"""

# EVOLVE-BLOCK-START
QUEUE_WEIGHT = 1.0  # per queued prompt token
RUNNING_WEIGHT = 400.0  # per running sequence, in token-equivalents
CACHE_WEIGHT = 0.02  # per prompt token already cached on the instance
REMOTE_PENALTY = 1000000.0  # token-equivalents added for an instance in another region


class Router:
    def __init__(self, cluster):
        self.block = cluster.block_tokens

    def cost(self, instance, request, cluster):
        cached_tokens = instance.cached_blocks(request.blocks) * self.block
        cost = QUEUE_WEIGHT * instance.waiting_tokens + RUNNING_WEIGHT * instance.running - CACHE_WEIGHT * cached_tokens
        if instance.region != request.region:
            cost += REMOTE_PENALTY + cluster.rtt[request.region][instance.region] * cluster.prefill_tokens_per_s
        return cost

    def route(self, request, cluster):
        best = min(cluster.instances, key=lambda i: (self.cost(i, request, cluster), i.id))
        return best.id


# EVOLVE-BLOCK-END
