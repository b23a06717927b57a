"""The eplb workloads of each stage, the messages the driver receives, and the map from each timed
call back to the window that scores it.

Stages (synthetic by default; all seeds fixed here, independent of evaluate()'s `seed`):
- quick:   the spec's stand-in trace (seed 0, drift only), first 400 steps -> 4 windows, 3 pairs;
- full:    that trace in full (10 windows) + a drift-and-bursts trace (seed 1): 18 pairs;
- holdout: two drift-and-bursts traces with other seeds and parameters, never shown in evolution.
With real data (expert-load.json), quick = its first 4 windows and full = all of it; holdout
stays synthetic (there is only one real trace).
Each pair (window i -> i+1) is called `sweeps` times: the window itself, then seeded resamples;
the evaluator sends them in time order (every call of pair i before window i+1 is seen), and once
the candidate's calls have taken `budget_s` in all, later pairs get their first input only.

Must not: run the candidate or judge its answers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from evaluators.eplb import codec
from evaluators.eplb.trace import Bursts, Trace, TraceSpec, generate, variants

NUM_REPLICAS, NUM_GROUPS, NUM_NODES, NUM_GPUS = 288, 8, 4, 32  # the leaderboard's constants
VARIANT_SEED = 5_2025

DRIFT = TraceSpec("drift", seed=0)  # = the stand-in of shared/problems/eplb.md (sha256 there)
BURSTY = TraceSpec("bursty", seed=1, bursts=Bursts())
HOLDOUT = (
    TraceSpec("holdout-a", seed=7, alpha=0.2, bursts=Bursts(rate=0.03)),
    TraceSpec("holdout-b", seed=8, persistence=0.95, bursts=Bursts(factor_high=6.0, mean_steps=50.0)),
)


@dataclass(frozen=True)
class StagePlan:
    traces: tuple[TraceSpec, ...]
    quick_windows: int | None  # keep only the first N windows (quick stage)
    sweeps: int
    # Past this much candidate call time (trusted clock), later pairs get one call each. Far above
    # what a policy within a few times the baseline's speed uses, so the number of calls (and with
    # it the balancedness) does not depend on machine load; only very slow policies are cut short.
    budget_s: float
    steps_override: int | None = None  # generate only this many steps (a prefix: same stream)


PLANS = {
    "quick": StagePlan((DRIFT,), quick_windows=4, sweeps=20, budget_s=4.0, steps_override=400),
    "full": StagePlan((DRIFT, BURSTY), quick_windows=None, sweeps=10, budget_s=10.0),
    "holdout": StagePlan(HOLDOUT, quick_windows=None, sweeps=10, budget_s=10.0),
}


@dataclass(frozen=True)
class Pair:
    """One scored window pair: the policy sees `trace` window `index`, is scored on index + 1."""

    trace: str
    index: int
    next_load: np.ndarray  # int64 [layers, experts]


@dataclass(frozen=True)
class Workload:
    pairs: tuple[Pair, ...]
    inputs: tuple[tuple[np.ndarray, ...], ...]  # inputs[sweep][k] is seen before pairs[k] is scored
    shape: tuple[int, int]
    budget_s: float

    def setup(self) -> dict:
        """What the driver's start() receives: the fixed arguments, no input."""
        return {
            "shape": list(self.shape),
            "num_replicas": NUM_REPLICAS,
            "num_groups": NUM_GROUPS,
            "num_nodes": NUM_NODES,
            "num_gpus": NUM_GPUS,
        }

    def message(self, sweep: int, pair: int) -> dict:
        """One call's message: the input the policy sees before `pairs[pair]` is scored."""
        return {"weight": codec.encode(self.inputs[sweep][pair], "<i4")}


def build(stage: str, real: Trace | None = None) -> Workload:
    """The trusted workload of `stage`; `real` replaces the synthetic traces of quick and full."""
    if stage not in PLANS:
        raise ValueError(f"eplb has no stage {stage!r}; stages: {sorted(PLANS)}")
    plan = PLANS[stage]
    if real is not None and stage != "holdout":
        traces = [real]
    else:
        traces = [_synthetic(spec, plan.steps_override) for spec in plan.traces]
    pairs: list[Pair] = []
    per_pair_inputs: list[list[np.ndarray]] = []
    for number, trace in enumerate(traces):
        windows = trace.windows()
        if plan.quick_windows is not None:
            windows = windows[: plan.quick_windows]
        if len(windows) < 2:
            raise ValueError(f"trace {trace.name} has fewer than two windows of load")
        rng = np.random.default_rng([VARIANT_SEED, number])
        for i in range(len(windows) - 1):
            pairs.append(Pair(trace.name, i, windows[i + 1]))
            per_pair_inputs.append(variants(windows[i], plan.sweeps, rng))
    shapes = {p.next_load.shape for p in pairs}
    if len(shapes) != 1:
        raise ValueError(f"the traces of stage {stage} differ in shape: {sorted(shapes)}")
    inputs = tuple(tuple(v[s] for v in per_pair_inputs) for s in range(plan.sweeps))
    layers, experts = shapes.pop()
    if experts > NUM_REPLICAS or experts % NUM_GROUPS:
        raise ValueError(f"{experts} experts do not fit {NUM_REPLICAS} slots in {NUM_GROUPS} groups")
    return Workload(tuple(pairs), inputs, (layers, experts), plan.budget_s)


def _synthetic(spec: TraceSpec, steps: int | None) -> Trace:
    return generate(replace(spec, steps=steps) if steps is not None else spec)
