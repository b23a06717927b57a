"""What a routing policy sees: read-only views of the requests and the cluster, as of now.

A request shows what a balancer can read from it: id, arrival time, home region, session id
(-1 for none), prompt length and its prompt's chained block ids (512 tokens each) — never its
output length. An instance shows its queue (count, prompt tokens, the waiting requests), its
running sequences, its KV-cache use and, like a KV-event-aware router, how many leading blocks of
a prompt it holds right now. The cluster shows the clock, the instances, the regions with their
round-trip times and prices, the TTFT SLO and the model's prefill speed.

Views read the simulator's state when asked (nothing is copied per decision). They hold no trace,
no future arrival and no output length; the probes (probe.py) check that decisions do not
depend on such things anyway.

Must not: expose the trace, a Job's output length or finish iteration, or setters.
"""

from __future__ import annotations

from evaluators.llm_routing.cluster import Cluster
from evaluators.llm_serving import Instance, Job


class RequestView:
    __slots__ = ("id", "arrival", "region", "session", "prompt_tokens", "blocks")

    def __init__(self, job: Job, arrival: float, region: int, session: int):
        self.id = job.rid
        self.arrival = arrival
        self.region = region
        self.session = session
        self.prompt_tokens = job.prompt_tokens
        self.blocks = job.blocks

    def __repr__(self) -> str:
        return (
            f"Request(id={self.id}, arrival={self.arrival:.3f}, region={self.region}, "
            f"prompt_tokens={self.prompt_tokens})"
        )


class InstanceView:
    __slots__ = ("_instance", "_requests", "id", "region")

    def __init__(self, instance: Instance, region: int, requests: dict[int, RequestView]):
        self._instance = instance
        self._requests = requests
        self.id = instance.index
        self.region = region

    @property
    def waiting(self) -> int:
        """Requests queued here, not yet admitted."""
        return len(self._instance.queue)

    @property
    def waiting_tokens(self) -> int:
        """Prompt tokens of the queued requests (before any prefix-cache hit)."""
        return self._instance.queue.tokens

    @property
    def running(self) -> int:
        """Sequences admitted: prefilling or decoding."""
        return self._instance.running

    @property
    def kv_used(self) -> float:
        """Share of KV blocks held by running sequences (evictable prefix cache not counted)."""
        cache = self._instance.cache
        return cache.referenced / cache.capacity

    def cached_blocks(self, blocks) -> int:
        """How many leading blocks of this chain the instance's prefix cache holds now."""
        return self._instance.cache.match(blocks)

    @property
    def waiting_requests(self) -> tuple[RequestView, ...]:
        requests = self._requests
        return tuple(requests[job.rid] for job in self._instance.queue)

    def __repr__(self) -> str:
        return f"Instance(id={self.id}, region={self.region}, waiting={self.waiting}, running={self.running})"


class ClusterView:
    __slots__ = (
        "_cluster",
        "now",
        "instances",
        "regions",
        "rtt",
        "price_per_hour",
        "slo_ttft",
        "block_tokens",
        "prefill_tokens_per_s",
        "max_running",
    )

    def __init__(self, cluster: Cluster, requests: dict[int, RequestView]):
        layout = cluster.layout
        self._cluster = cluster
        self.now = 0.0
        self.instances = tuple(
            InstanceView(inst, layout.instance_regions[inst.index], requests) for inst in cluster.instances
        )
        self.regions = layout.region_names
        self.rtt = layout.rtt_s
        self.price_per_hour = layout.price_per_hour
        self.slo_ttft = layout.slo_ttft_s
        self.block_tokens = layout.model.block_tokens
        self.prefill_tokens_per_s = 1.0 / layout.model.per_prefill_token_s
        self.max_running = layout.model.max_running

    @property
    def held(self) -> int:
        """Requests held at the balancers (answered None and not yet dispatched)."""
        return self._cluster.held_count
