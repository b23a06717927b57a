"""SkyWalker (Xia et al., EuroSys'26), as the paper describes it: one balancer per region.

- Selective pushing: a request is pushed only to an instance with at most PENDING_LIMIT requests
  pending (queued, not yet admitted); when no instance qualifies it stays in the balancer's queue
  (answer None) and is offered again when capacity frees, instead of queueing at a busy instance.
- Cache awareness: among the qualifying instances of the home region, take the one holding the
  longest prefix of the prompt, then the least busy.
- Cross-region traffic handling: when no home instance qualifies, look at the other regions'
  qualifying instances and forward to the one with the lowest estimated TTFT including the
  round trip, preferring those that hold the prefix (a session stays where its cache is). A
  request whose session already ran in another region follows it there when that instance
  qualifies, so a forwarded conversation keeps its cache.
"""

PENDING_LIMIT = 1


class Router:
    def __init__(self, cluster):
        self.rate = cluster.prefill_tokens_per_s
        self.block = cluster.block_tokens
        self.home = {}
        for instance in cluster.instances:
            self.home.setdefault(instance.region, []).append(instance)
        self.session_at = {}  # session -> instance that served its last turn

    def _estimate(self, instance, request, cluster, cached):
        uncached = request.prompt_tokens - cached * self.block
        return (
            (instance.waiting_tokens * 0.6 + uncached) / self.rate
            + 0.002 * instance.running
            + cluster.rtt[request.region][instance.region]
        )

    def _pick(self, candidates, request, cluster):
        best = None
        for instance in candidates:
            if instance.waiting > PENDING_LIMIT:
                continue
            cached = instance.cached_blocks(request.blocks)
            rank = (-cached, instance.waiting + instance.running, instance.id)
            if best is None or rank < best[0]:
                best = (rank, instance)
        return best[1] if best else None

    def route(self, request, cluster):
        previous = self.session_at.get(request.session)
        if previous is not None and previous.region != request.region and previous.waiting <= PENDING_LIMIT:
            choice = previous
        else:
            choice = self._pick(self.home[request.region], request, cluster)
        if choice is None:
            remote = [i for i in cluster.instances if i.region != request.region and i.waiting <= PENDING_LIMIT]
            if remote:
                choice = min(
                    remote, key=lambda i: (self._estimate(i, request, cluster, i.cached_blocks(request.blocks)), i.id)
                )
        if choice is None:
            return None
        if request.session >= 0:
            self.session_at[request.session] = choice
        return choice.id
