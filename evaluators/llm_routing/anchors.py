"""Round robin's SLO attainment per trace: the 0 of every trace's score.

Round robin here is the trusted twin of problems/llm_routing/baselines/round_robin.py: each home
region's balancer cycles through that region's instances in id order. The figures are pinned (a
stage would otherwise pay one more simulation per trace); tests recompute them.
`python -m evaluators.llm_routing.anchors` prints them again.

Must not: be used for anything but the anchors.
"""

from __future__ import annotations

from evaluators.llm_routing.cluster import Cluster
from evaluators.llm_routing.scoring import attainment
from evaluators.llm_routing.stages import LAYOUTS, STAGES, StageTrace
from evaluators.llm_routing.workload import generate
from evaluators.llm_serving import Job

ROUND_ROBIN_ATTAINMENT: dict[str, float] = {
    "single/low": 0.8472906403940886,
    "single/mid": 0.6274509803921569,
    "single/high": 0.4040796503156872,
    "multi/day1": 0.5114569822741029,
    "multi/day2": 0.2190245380187822,
    "holdout/single-mid": 0.8134872417982989,
    "holdout/single-high": 0.5148764498234998,
    "holdout/multi-day": 0.45740598618572526,
}


class RoundRobinDecider:
    def __init__(self, instance_regions: tuple[int, ...], trace_regions: list[int]):
        self.calls = 0
        self._local = {}
        for index, region in enumerate(instance_regions):
            self._local.setdefault(region, []).append(index)
        self._next = dict.fromkeys(self._local, 0)
        self._trace_regions = trace_regions

    def route(self, job: Job, now: float) -> int:
        self.calls += 1
        region = self._trace_regions[job.rid]
        local = self._local[region]
        choice = local[self._next[region] % len(local)]
        self._next[region] += 1
        return choice

    def rebalance(self, now: float) -> list[tuple[int, int]]:
        self.calls += 1
        return []


def round_robin_attainment(item: StageTrace) -> float:
    layout = LAYOUTS[item.layout]
    trace = generate(item.spec)
    outcome = Cluster(layout, trace).run(RoundRobinDecider(layout.instance_regions, trace.region))
    return attainment(layout, trace, outcome)


def anchor(item: StageTrace) -> float:
    return ROUND_ROBIN_ATTAINMENT[item.spec.name]


if __name__ == "__main__":
    names = {}
    for items in STAGES.values():
        for item in items:
            names[item.spec.name] = item
    for name, item in names.items():
        print(f'    "{name}": {round_robin_attainment(item)!r},')
