"""A seeded synthetic stand-in for the Skyplane profiles and the five broadcast configurations,
used when no real data is given. Same structure as the real data, not calibrated to it exactly:

- 71 regions (25 aws, 24 gcp, 22 azure) spread over 7 continents around fixed centres (names
  `provider:continent-k`), complete digraph;
- cost ($/GB) follows the real pricing pattern: it depends on the source provider, the source's
  continent and whether the destination is the same provider / continent (aws: 0.02 within aws for
  most source regions, a per-region 0.08-0.11 for the rest, 0.09-0.15 to other clouds; azure:
  0.02 within a continent, 0.05/0.08 across, 0.0875-0.181 to other clouds; gcp: 0.01-0.02 within a
  continent, 0.05-0.15 across, a per-region 0.12-0.19 to other clouds, so a cheap same-continent
  gcp relay can undercut a premium source);
- throughput (Gbps for 2 VMs) falls with great-circle distance from a provider-pair ceiling (aws
  sources flat near 10, gcp to gcp up to ~65), times log-normal noise, clipped to [0.3, 67];
- configurations: three intra-provider (6 destinations on other continents) and two
  inter-provider (the priciest gcp source, 6 mixed destinations, then the same plus one aws
  region), like the leaderboard's five.
Everything flows from SYNTHETIC_SEED. Must not: simulate, validate or score.
"""

from __future__ import annotations

import math

import numpy as np

from evaluators.cloudcast.network import Config, Edge, Network, provider

SYNTHETIC_SEED = 20_240_601
CONTINENTS = {  # centre (lat, lon), relative weight of regions
    "na": ((40.0, -95.0), 5),
    "sa": ((-20.0, -55.0), 1),
    "eu": ((50.0, 10.0), 4),
    "me": ((25.0, 50.0), 1),
    "af": ((-28.0, 25.0), 1),
    "as": ((22.0, 110.0), 4),
    "oc": ((-30.0, 145.0), 1),
}
REGION_COUNTS = {"aws": 25, "gcp": 24, "azure": 22}
CEILING = {  # Gbps for 2 VMs at distance 0, by (source provider, same provider?)
    ("aws", True): 10.6,
    ("aws", False): 10.8,
    ("azure", True): 42.0,
    ("azure", False): 24.0,
    ("gcp", True): 66.0,
    ("gcp", False): 18.0,
}
DECAY_KM = {"aws": 80_000.0, "azure": 9_000.0, "gcp": 12_000.0}  # aws throughput barely falls


def synthetic_network(seed: int = SYNTHETIC_SEED) -> tuple[Network, dict[str, tuple[float, float]]]:
    rng = np.random.default_rng(seed)
    names = list(CONTINENTS)
    weights = np.array([CONTINENTS[c][1] for c in names], dtype=float)
    places: dict[str, tuple[float, float]] = {}
    continent: dict[str, str] = {}
    for prov, count in REGION_COUNTS.items():
        picks = rng.choice(len(names), size=count, p=weights / weights.sum())
        for k, c in enumerate(picks):
            region = f"{prov}:{names[c]}-{k + 1}"
            (lat, lon), _ = CONTINENTS[names[c]]
            places[region] = (lat + rng.normal(0, 6), lon + rng.normal(0, 10))
            continent[region] = names[c]
    regions = list(places)
    rng.shuffle(regions)  # interleave providers, as the real CSV does
    surcharge = {r: _aws_surcharge(rng, continent[r]) for r in regions if provider(r) == "aws"}
    surcharge.update({r: _gcp_internet(rng, continent[r]) for r in regions if provider(r) == "gcp"})
    edges: dict[tuple[str, str], Edge] = {}
    for u in regions:
        for v in regions:
            if u != v:
                cost = _cost(u, v, continent, surcharge)
                edges[(u, v)] = Edge(cost, _throughput(rng, u, v, places))
    return Network(tuple(regions), edges), places


def _aws_surcharge(rng: np.random.Generator, cont: str) -> float:
    if cont in ("na", "eu") and rng.random() < 0.8:
        return 0.0
    return float(rng.choice([0.06, 0.07, 0.078, 0.08, 0.0905]))


def _gcp_internet(rng: np.random.Generator, cont: str) -> float:
    """Per-region price from gcp to other clouds: premium regions make same-continent relays pay."""
    if cont in ("oc", "as", "sa"):
        return float(rng.choice([0.12, 0.147, 0.19], p=[0.4, 0.3, 0.3]))
    return float(rng.choice([0.12, 0.14], p=[0.8, 0.2]))


def _cost(u: str, v: str, continent: dict[str, str], surcharge: dict[str, float]) -> float:
    pu, pv, cu, cv = provider(u), provider(v), continent[u], continent[v]
    if pu == "aws":
        if pv == "aws":
            return round(0.02 + surcharge[u], 4)
        return 0.09 if cu in ("na", "eu") else {"sa": 0.154, "oc": 0.114, "as": 0.12}.get(cu, 0.11)
    if pu == "azure":
        if pv == "azure":
            if cu == "sa":
                return 0.16
            if cu == cv:
                return 0.02
            return 0.05 if {cu, cv} <= {"na", "eu"} else 0.08
        return {"sa": 0.181, "as": 0.12, "oc": 0.12, "me": 0.12, "af": 0.12}.get(cu, 0.0875)
    if pv == "gcp":  # gcp -> gcp
        if cu == cv:
            return 0.01 if cu == "na" else 0.02
        if "oc" in (cu, cv) or "sa" in (cu, cv):
            return 0.15
        return 0.05 if {cu, cv} <= {"na", "eu"} else 0.08
    return surcharge[u]  # gcp -> other clouds


def _throughput(rng: np.random.Generator, u: str, v: str, places: dict[str, tuple[float, float]]) -> float:
    pu = provider(u)
    ceiling = CEILING[(pu, pu == provider(v))]
    distance = _km(places[u], places[v])
    value = ceiling / (1.0 + distance / DECAY_KM[pu]) * math.exp(rng.normal(0.0, 0.15))
    return float(min(max(value, 0.3), 67.0))


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))


def synthetic_configs(network: Network, seed: int = SYNTHETIC_SEED) -> list[Config]:
    """The five leaderboard-shaped configurations on `network` (deterministic in `seed`)."""
    rng = np.random.default_rng([seed, 1])
    by = {p: [r for r in network.regions if provider(r) == p] for p in REGION_COUNTS}
    configs = []
    for prov in ("aws", "azure", "gcp"):
        src, *dsts = _spread(rng, by[prov], 7)
        configs.append(Config(f"intra_{prov}", src, tuple(dsts)))
    src = max(by["gcp"], key=lambda r: (network.edges[(r, by["aws"][0])].cost, r))  # a premium gcp source
    pool = [r for r in network.regions if r != src]
    mixed = _spread(rng, [r for r in pool if provider(r) != "aws"], 4) + _spread(rng, by["aws"], 3)
    configs.append(Config("inter_agz", src, tuple(mixed[:6])))
    configs.append(Config("inter_gaz2", src, tuple(mixed[:7])))
    return configs


def random_configs(network: Network, count: int, seed: int, destinations: int = 6) -> list[Config]:
    """Held-out configurations: random source, random destinations over all providers."""
    rng = np.random.default_rng([seed, 2])
    configs = []
    for k in range(count):
        chosen = [str(r) for r in rng.choice(network.regions, size=destinations + 1, replace=False)]
        configs.append(Config(f"holdout_{k}", chosen[0], tuple(chosen[1:])))
    return configs


def _spread(rng: np.random.Generator, regions: list[str], count: int) -> list[str]:
    """`count` distinct regions, preferring different continents (names carry the continent)."""
    order = [str(r) for r in rng.permutation(regions)]
    chosen: list[str] = []
    used: set[str] = set()
    for r in order:
        cont = r.split(":")[1].split("-")[0]
        if cont not in used:
            chosen.append(r)
            used.add(cont)
    chosen += [r for r in order if r not in chosen]
    return chosen[:count]
