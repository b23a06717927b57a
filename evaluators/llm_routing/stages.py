"""The routing problem's fixed workload: cluster layouts, trace specs per stage, score anchors.

Stages: `single_region` (DualMap's setting: one region, three load levels), `full` (that setting
plus SkyWalker's multi-region setting with diurnal regional load), `holdout` (both settings,
traces drawn from other seeds). The specs are fixed by the problem: evaluate()'s seed does not
change them, so scores compare across runs.

Must not: run simulations (anchors.py pins the baselines' figures computed from these specs).
"""

from __future__ import annotations

from dataclasses import dataclass

from evaluators.llm_routing.cluster import Layout
from evaluators.llm_routing.workload import TraceSpec
from evaluators.llm_serving import ServingModel

MODEL = ServingModel(
    block_tokens=512,
    kv_blocks=256,
    max_running=48,
    token_budget=4096,
    step_s=0.010,
    per_sequence_s=0.00015,
    per_prefill_token_s=1.0 / 10000.0,
    per_context_token_s=3e-8,
)

SINGLE = "single_region"
MULTI = "multi_region"

LAYOUTS: dict[str, Layout] = {
    SINGLE: Layout(
        MODEL,
        instance_regions=(0,) * 8,
        region_names=("local",),
        rtt_s=((0.0,),),
        price_per_hour=(4.0,),
        slo_ttft_s=2.0,
    ),
    MULTI: Layout(
        MODEL,
        instance_regions=(0,) * 4 + (1,) * 4 + (2,) * 4,
        region_names=("us-east", "eu-west", "ap-northeast"),
        rtt_s=((0.0, 0.075, 0.150), (0.075, 0.0, 0.220), (0.150, 0.220, 0.0)),
        price_per_hour=(4.0, 4.4, 4.8),
        slo_ttft_s=2.0,
    ),
}


@dataclass(frozen=True)
class StageTrace:
    layout: str
    spec: TraceSpec


def _single(name: str, seed: int, rate: float, speedup: float = 1.0, duration: float = 240.0) -> StageTrace:
    return StageTrace(SINGLE, TraceSpec(name, seed, duration, rate, speedup=speedup))


def _multi(name: str, seed: int, rate: float, speedup: float = 1.0, duration: float = 240.0) -> StageTrace:
    return StageTrace(
        MULTI,
        TraceSpec(
            name, seed, duration, rate, regions=LAYOUTS[MULTI].region_names, diurnal_amplitude=0.6, speedup=speedup
        ),
    )


SINGLE_TRACES = (
    _single("single/low", 101, 3.0, 0.9),
    _single("single/mid", 101, 3.0, 1.1),
    _single("single/high", 101, 3.0, 1.4),
)
MULTI_TRACES = (
    _multi("multi/day1", 201, 5.0),
    _multi("multi/day2", 202, 5.0, 1.2),
)
HOLDOUT_TRACES = (
    _single("holdout/single-mid", 9101, 3.0, 1.0),
    _single("holdout/single-high", 9101, 3.0, 1.15),
    _multi("holdout/multi-day", 9201, 5.0, 1.1),
)

STAGES: dict[str, tuple[StageTrace, ...]] = {
    "single_region": SINGLE_TRACES,
    "full": SINGLE_TRACES + MULTI_TRACES,
    "multi": MULTI_TRACES,
    "holdout": HOLDOUT_TRACES,
}


def stage_traces(stage: str) -> tuple[StageTrace, ...]:
    if stage not in STAGES:
        raise ValueError(f"llm_routing has no stage {stage!r}; stages: {sorted(STAGES)}")
    return STAGES[stage]
