"""Consistent-hash prefix affinity: a hash ring (100 virtual nodes per instance) over the home
region's instances, keyed by the prompt's first two 512-token blocks; every request with that
prefix goes to the same instance whatever its load (as a prefix-affinity router without load
awareness does). Requests shorter than a block hash their id."""

import bisect

PREFIX_BLOCKS = 2
VIRTUAL_NODES = 100


def mix(value):
    """A deterministic 64-bit mix of an int (splitmix64's finaliser)."""
    value = (value + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return value ^ (value >> 31)


def prefix_key(blocks, count, fallback):
    key = 0x12345
    for block in blocks[:count] or (fallback,):
        key = mix(key ^ block)
    return key


class Ring:
    def __init__(self, instance_ids, salt):
        points = sorted((mix(salt * 1_000_003 + i * 7919 + v), i) for i in instance_ids for v in range(VIRTUAL_NODES))
        self.keys = [p for p, _ in points]
        self.owners = [i for _, i in points]

    def owner(self, key):
        index = bisect.bisect(self.keys, key) % len(self.keys)
        return self.owners[index]


class Router:
    def __init__(self, cluster):
        local = {}
        for instance in cluster.instances:
            local.setdefault(instance.region, []).append(instance.id)
        self.rings = {region: Ring(ids, 1) for region, ids in local.items()}

    def route(self, request, cluster):
        return self.rings[request.region].owner(prefix_key(request.blocks, PREFIX_BLOCKS, -request.id - 1))
