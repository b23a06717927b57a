"""Seeded synthetic transaction workloads, drawn from the distributions the real three follow.

Owns: the three workload families (their parameters are documented dataclasses) and the fixed
seeds of the evolution set and the held-out sets. The families were fitted by hand to the real
workloads (shared/data/txn_scheduling/workloads.json) without copying any of their transactions:

- hot_keys (like WORKLOAD_1): 100 transactions of 16 distinct keyed ops, no stars. Keys 1..6000
  are drawn by weighted sampling without replacement with weight k**-2 (real: 165 distinct keys,
  keys 1-4 in every transaction, 89 keys used once; this draws ~160 and ~80). Each key has a
  latent slot in [0, 1) and a transaction lists its keys by slot plus a small jitter (real hot keys
  keep a preferred position). Each op is a write with probability 0.55 (real: 888 of 1600).
- warehouse (like WORKLOAD_2): 50 long transactions "r-h r-d w-d" + 18 stars, then 50 short ones
  "r-h w-h r-d w-d *", h uniform in 1..4 and d uniform among the 10 keys 10h+1..10h+10.
- two_groups (like WORKLOAD_3): 50 transactions "r-a" + 7 stars + "w-b" with a in 1..5, b in
  6..10, then 50 with a in 6..10, b in 1..5, all uniform.

Every random choice uses random.Random(seed-derived int) with random()/randrange() only, whose
sequences Python keeps stable across versions.
Must not: read the real data, or depend on anything but the seed and the parameters.
"""

from __future__ import annotations

import bisect
import itertools
import random
from dataclasses import dataclass

EVOLUTION_SEED = 1  # the default (no --data) quick and full workloads
HOLDOUT_SEEDS = (101, 102, 103)  # held-out sets: never shown during evolution
FAMILY_ORDER = ("hot_keys", "warehouse", "two_groups")


@dataclass(frozen=True)
class HotKeysFamily:
    num_txns: int = 100
    ops_per_txn: int = 16
    key_space: int = 6000  # keys 1..key_space (real max key: 5270)
    zipf_exponent: float = 2.0  # key k has weight k ** -zipf_exponent
    write_prob: float = 0.55
    order_jitter: float = 0.02  # uniform +-jitter added to a key's latent slot in each transaction
    displace_prob: float = 0.05  # chance that an op ignores its key's slot (lands anywhere)

    def generate(self, rng: random.Random) -> list[str]:
        keys = range(1, self.key_space + 1)
        cumulative = list(itertools.accumulate(k**-self.zipf_exponent for k in keys))
        slot = [rng.random() for _ in keys]  # latent position of key k at slot[k - 1]
        txns = []
        for _ in range(self.num_txns):
            chosen: dict[int, float] = {}
            while len(chosen) < self.ops_per_txn:
                k = 1 + bisect.bisect_right(cumulative, rng.random() * cumulative[-1])
                k = min(k, self.key_space)  # guards the float edge at the very top
                if k not in chosen:
                    if rng.random() < self.displace_prob:
                        chosen[k] = rng.random()
                    else:
                        chosen[k] = slot[k - 1] + self.order_jitter * (2 * rng.random() - 1)
            ordered = sorted(chosen, key=chosen.__getitem__)
            txns.append(" ".join(f"{'w' if rng.random() < self.write_prob else 'r'}-{k}" for k in ordered))
        return txns


@dataclass(frozen=True)
class WarehouseFamily:
    num_long: int = 50
    num_short: int = 50
    warehouses: int = 4  # hot keys 1..warehouses
    districts: int = 10  # warehouse h owns keys 10h+1 .. 10h+districts
    long_stars: int = 18

    def generate(self, rng: random.Random) -> list[str]:
        txns = []
        for _ in range(self.num_long):
            h, d = self._pick(rng)
            txns.append(" ".join([f"r-{h}", f"r-{d}", f"w-{d}"] + ["*"] * self.long_stars))
        for _ in range(self.num_short):
            h, d = self._pick(rng)
            txns.append(f"r-{h} w-{h} r-{d} w-{d} *")
        return txns

    def _pick(self, rng: random.Random) -> tuple[int, int]:
        h = 1 + rng.randrange(self.warehouses)
        return h, 10 * h + 1 + rng.randrange(self.districts)


@dataclass(frozen=True)
class TwoGroupsFamily:
    num_txns: int = 100  # the first half reads group A and writes group B, the second half the reverse
    group_size: int = 5  # group A = keys 1..5, group B = keys 6..10
    stars: int = 7

    def generate(self, rng: random.Random) -> list[str]:
        txns = []
        half = self.num_txns // 2
        for i in range(self.num_txns):
            low = 1 + rng.randrange(self.group_size)
            high = self.group_size + 1 + rng.randrange(self.group_size)
            read, write = (low, high) if i < half else (high, low)
            txns.append(" ".join([f"r-{read}"] + ["*"] * self.stars + [f"w-{write}"]))
        return txns


FAMILIES = {"hot_keys": HotKeysFamily(), "warehouse": WarehouseFamily(), "two_groups": TwoGroupsFamily()}


def generate_set(seed: int) -> list[tuple[str, list[str]]]:
    """The three workloads of one synthetic set, as (family name, op strings), in FAMILY_ORDER."""
    out = []
    for index, name in enumerate(FAMILY_ORDER):
        rng = random.Random(seed * 1000 + index)  # each family its own stream: editing one leaves the others
        out.append((name, FAMILIES[name].generate(rng)))
    return out
