"""vLLM's default policy's mean JCT per trace: the 0 of every trace's score.

The default is TTL 0 (finished turns' blocks are plain LRU prefix cache) and priority = the
request's own arrival (request-level FCFS): the trusted twin of problems/kv_ttl/baselines/vllm_lru.py.
The figures are pinned (a stage would otherwise pay one more simulation per trace); tests recompute
them. `python -m evaluators.kv_ttl.anchors` prints them again.

Must not: be used for anything but the anchors.
"""

from __future__ import annotations

import statistics

from evaluators.kv_ttl.engine import AgentEngine
from evaluators.kv_ttl.stages import SETUPS, STAGES
from evaluators.kv_ttl.workload import AgentSpec, generate
from evaluators.llm_serving import Job

LRU_MEAN_JCT_S: dict[str, float] = {
    "swe/quick": 268.6577955629163,
    "swe/a": 439.4528168019433,
    "swe/b": 241.54160967069396,
    "bfcl/a": 111.07610013099986,
    "holdout/swe": 414.30600303180506,
    "holdout/swe-40g": 441.46404103986055,
    "holdout/bfcl": 112.96477209512514,
}


class LruDecider:
    def __init__(self) -> None:
        self.calls = 0

    def priority(self, job: Job, now: float) -> float:
        self.calls += 1
        return now

    def ttl(self, job: Job, now: float) -> float:
        self.calls += 1
        return 0.0


def lru_mean_jct(spec: AgentSpec) -> float:
    return statistics.fmean(AgentEngine(SETUPS[spec.setup], generate(spec)).run(LruDecider()).jct)


def anchor(spec: AgentSpec) -> float:
    return LRU_MEAN_JCT_S[spec.name]


if __name__ == "__main__":
    for specs in STAGES.values():
        for spec in specs:
            print(f'    "{spec.name}": {lru_mean_jct(spec)!r},')
