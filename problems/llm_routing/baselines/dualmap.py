"""DualMap (Yuan et al., 2026), as the paper describes it, within each home region.

- Dual mapping: two independent consistent-hash rings map the request's prompt prefix to two
  candidate instances; requests sharing the prefix share the candidates (cache affinity), distinct
  prefixes spread over the cluster with the power of two choices.
- Adaptive prefix length: the key is the prompt's first L blocks, L the shortest length (1..6)
  whose recent share of traffic is below 2/N of the region (a hot prefix is keyed deeper, so its
  sessions spread over more candidate pairs while each session keeps its pair).
- SLO-aware routing: estimate each candidate's TTFT (queued prefill work plus this prompt's
  uncached part, at the prefill rate); take the candidate with the longer cached prefix unless its
  estimate exceeds the TTFT SLO, then the one with the lower estimate.
- Hotspot-aware rebalancing (every tick): from an instance whose queued work exceeds the SLO and is
  above the region's mean, move the most recent queued requests to their other candidate when it
  is estimated to start them sooner; a request moves at most once (non-recursive).
"""

import bisect

VIRTUAL_NODES = 100
MAX_PREFIX_BLOCKS = 6
HOT_SHARE_FACTOR = 2.0  # a prefix is hot above this many instances' fair share of traffic
DECAY = 0.995  # per request, for the traffic counters
SLO_FRACTION = 1.0  # switch to load-aware when the affinity choice's estimate exceeds this x SLO
MOVE_MARGIN_S = 0.5  # a move must win at least this much estimated wait


def mix(value):
    value = (value + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return value ^ (value >> 31)


class Ring:
    def __init__(self, instance_ids, salt):
        points = sorted((mix(salt * 1_000_003 + i * 7919 + v), i) for i in instance_ids for v in range(VIRTUAL_NODES))
        self.keys = [p for p, _ in points]
        self.owners = [i for _, i in points]

    def owners_from(self, key):
        """Instances in ring order starting at the key's position (each once)."""
        start = bisect.bisect(self.keys, key)
        seen = []
        for step in range(len(self.keys)):
            owner = self.owners[(start + step) % len(self.keys)]
            if owner not in seen:
                seen.append(owner)
                if len(seen) == 2:
                    break
        return seen


class Router:
    def __init__(self, cluster):
        local = {}
        for instance in cluster.instances:
            local.setdefault(instance.region, []).append(instance.id)
        self.local = local
        self.rings = {region: (Ring(ids, 1), Ring(ids, 2)) for region, ids in local.items()}
        self.rate = cluster.prefill_tokens_per_s
        self.block = cluster.block_tokens
        self.counts = {}  # (region, prefix key) -> (decayed request count, when last updated)
        self.seen = dict.fromkeys(local, 0)
        self.candidates = {}  # request id -> (first, second)
        self.moved = set()

    def _key(self, request):
        blocks = request.blocks
        if not blocks:
            return mix(-request.id - 1)
        region = request.region
        self.seen[region] += 1
        seen = self.seen[region]
        total = (1.0 - DECAY**seen) / (1.0 - DECAY)  # decayed count of all requests so far
        fair = HOT_SHARE_FACTOR / len(self.local[region])
        key = 0x12345
        chosen = None
        for length in range(1, min(MAX_PREFIX_BLOCKS, len(blocks)) + 1):
            key = mix(key ^ blocks[length - 1])
            count, stamp = self.counts.get((region, key), (0.0, seen))
            count = count * DECAY ** (seen - stamp) + 1.0
            self.counts[(region, key)] = (count, seen)
            if chosen is None and count / total <= fair:
                chosen = key
        return chosen if chosen is not None else key

    def _estimate(self, instance, request):
        uncached = request.prompt_tokens - instance.cached_blocks(request.blocks) * self.block
        return (instance.waiting_tokens * 0.6 + uncached) / self.rate + 0.002 * instance.running

    def route(self, request, cluster):
        region = request.region
        key = self._key(request)
        first_ring, second_ring = self.rings[region]
        first = first_ring.owners_from(key)[0]
        second = next((i for i in second_ring.owners_from(key) if i != first), first)
        if second == first and len(self.local[region]) > 1:
            second = next(i for i in self.local[region] if i != first)
        self.candidates[request.id] = (first, second)
        a, b = cluster.instances[first], cluster.instances[second]
        cached_a, cached_b = a.cached_blocks(request.blocks), b.cached_blocks(request.blocks)
        estimate_a, estimate_b = self._estimate(a, request), self._estimate(b, request)
        affinity, estimate = (a, estimate_a) if (cached_a, -estimate_a) >= (cached_b, -estimate_b) else (b, estimate_b)
        if estimate <= SLO_FRACTION * cluster.slo_ttft:
            return affinity.id
        return a.id if estimate_a <= estimate_b else b.id

    def rebalance(self, cluster):
        moves = []
        for ids in self.local.values():
            waits = {i: cluster.instances[i].waiting_tokens * 0.6 / self.rate for i in ids}
            mean = sum(waits.values()) / len(waits)
            for i in ids:
                if waits[i] <= cluster.slo_ttft or waits[i] <= mean:
                    continue
                for request in reversed(cluster.instances[i].waiting_requests):
                    if request.id in self.moved or request.id not in self.candidates:
                        continue
                    first, second = self.candidates[request.id]
                    other = second if i == first else first
                    if other == i or waits[other] + MOVE_MARGIN_S >= waits[i]:
                        continue
                    moves.append((request.id, other))
                    self.moved.add(request.id)
                    shift = request.prompt_tokens * 0.6 / self.rate
                    waits[i] -= shift
                    waits[other] += shift
                    if waits[i] <= cluster.slo_ttft:
                        break
        return moves
