"""Do the seed papers' qualitative results hold in the llm_routing and kv_ttl simulators?

    .venv/bin/python benchmarks/serving_claims.py dualmap     # capacity under the TTFT SLO
    .venv/bin/python benchmarks/serving_claims.py skywalker   # multi-region capacity, latency, cost
    .venv/bin/python benchmarks/serving_claims.py continuum   # JCT vs vLLM LRU across concurrency

dualmap: the full stage's single-region trace shape with seeds 101-103, each compressed 0.4x to
1.8x (x0.9 is the stage's `single/low`); for each baseline the mean SLO attainment per load, and
the effective capacity: the largest load (requests/s) whose mean attainment is at least 90 % (or
80 %), interpolating between measured loads, as DualMap reports. skywalker: the same for the
multi-region trace shape (seeds 201-203), plus mean and p90 TTFT and the fleet's cost per 1,000
requests within the SLO at the stage's load. continuum: the SWE-bench-like traces on the 80 GB and
40 GB instances and the BFCL-like trace at several worker counts, mean JCT of each baseline and of
two reference policies (program-level FCFS alone; pinning until the next turn) and the ratio of
vLLM's to it.
Everything runs in this process on the trusted simulators (policies are the baseline files).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _routing_rows(item, seeds, speedups, names):
    """(name, speedup) -> (mean load in requests/s, mean attainment, results per seed)."""
    from evaluators.llm_routing import scoring
    from evaluators.llm_routing.episode import find_router, run_local
    from evaluators.llm_routing.stages import LAYOUTS, StageTrace
    from evaluators.llm_routing.workload import generate

    layout = LAYOUTS[item.layout]
    rows = {}
    for name in names:
        router = find_router(_load(ROOT / "problems" / "llm_routing" / "baselines" / f"{name}.py"))
        for speedup in speedups:
            loads, results = [], []
            for seed in seeds:
                spec = dataclasses.replace(item.spec, seed=seed, speedup=item.spec.speedup * speedup)
                trace = generate(spec)
                outcome = run_local(router, item.layout, trace)
                results.append(scoring.measure(StageTrace(item.layout, spec), layout, trace, outcome, 0.0))
                loads.append(len(trace) / spec.duration_s)
            rows[name, speedup] = (statistics.fmean(loads), statistics.fmean(r.attainment for r in results), results)
    return rows


def _capacity(points: list[tuple[float, float]], target: float) -> float:
    """Largest load with attainment >= target, interpolating between measured loads."""
    best = 0.0
    for (load_a, att_a), (load_b, att_b) in zip(points, points[1:], strict=False):
        if att_a >= target:
            best = load_a
            if att_b < target:
                return load_a + (load_b - load_a) * (att_a - target) / (att_a - att_b)
            best = load_b
    return best


def routing_claims(stage_index: int, seeds: tuple[int, ...], names: list[str]) -> None:
    from evaluators.llm_routing.stages import STAGES

    item = STAGES["full"][stage_index]
    speedups = [0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8]
    rows = _routing_rows(item, seeds, speedups, names)
    print(
        f"trace {item.spec.name} with seeds {seeds}, compressed x{speedups[0]}..x{speedups[-1]}; "
        "mean load (requests/s): mean SLO attainment over the seeds"
    )
    for name in names:
        cells = " ".join(f"{rows[name, s][0]:5.1f}:{rows[name, s][1]:.2f}" for s in speedups)
        print(f"  {name:16s} {cells}")
    print("effective capacity (requests/s) at 90% / 80% mean attainment:")
    for name in names:
        points = [(rows[name, s][0], rows[name, s][1]) for s in speedups]
        print(f"  {name:16s} {_capacity(points, 0.9):5.2f} / {_capacity(points, 0.8):5.2f}")
    print("at the stage's own load (x1.0, mean over seeds): mean TTFT, p90 TTFT, $ per 1k requests within the SLO")
    for name in names:
        results = rows[name, 1.0][2]
        print(
            f"  {name:16s} {statistics.fmean(r.mean_ttft_s for r in results):7.2f} s "
            f"{statistics.fmean(r.p90_ttft_s for r in results):7.2f} s "
            f"{statistics.fmean(r.cost_per_1k_good for r in results):8.2f}"
        )


class ProgramFcfs:
    """Program-level FCFS alone: no pin (what the scheduling half of Continuum gives)."""

    def __init__(self, engine):
        pass

    def priority(self, request, engine):
        return request.program_arrival

    def ttl(self, turn, engine):
        return 0.0


class PinUntilNextTurn(ProgramFcfs):
    """Pin every paused program until its next turn (the 600 s cap): no TTL to speak of."""

    def ttl(self, turn, engine):
        return engine.max_ttl_s


def continuum_claims() -> None:
    from evaluators.kv_ttl.episode import find_policy, run_local
    from evaluators.kv_ttl.scoring import bound_jct
    from evaluators.kv_ttl.stages import SETUPS
    from evaluators.kv_ttl.workload import AgentSpec, generate

    baselines = ["vllm_lru", "fixed_ttl", "continuum"]
    policies = {n: find_policy(_load(ROOT / "problems" / "kv_ttl" / "baselines" / f"{n}.py")) for n in baselines}
    policies["program_fcfs"] = ProgramFcfs
    policies["pin_600s"] = PinUntilNextTurn
    cases = (
        [("swe", "llama8b", 60, c, 21) for c in (12, 16, 20, 24, 28)]
        + [("swe", "llama8b-40g", 60, c, 22) for c in (8, 10, 12, 14)]
        + [("bfcl", "llama70b", 400, c, 23) for c in (96, 128, 160, 192)]
    )
    print("kind  setup        workers bound s " + " ".join(f"{n:>19s}" for n in policies))
    for kind, setup, programs, concurrency, seed in cases:
        trace = generate(AgentSpec("claim", seed, programs, concurrency, kind, setup))
        jct = {}
        for name, policy in policies.items():
            outcome = run_local(policy, trace)
            jct[name] = statistics.fmean(outcome.jct)
        cells = " ".join(f"{jct[n]:9.1f} ({jct['vllm_lru'] / jct[n]:4.2f}x)" for n in policies)
        print(f"{kind:5s} {setup:12s} {concurrency:7d} {bound_jct(SETUPS[setup], trace):7.1f} {cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paper", choices=["dualmap", "skywalker", "continuum"])
    args = parser.parse_args()
    if args.paper == "dualmap":
        routing_claims(0, (101, 102, 103), ["round_robin", "least_loaded", "consistent_hash", "dualmap", "skywalker"])
    elif args.paper == "skywalker":
        routing_claims(3, (201, 202, 203), ["round_robin", "least_loaded", "consistent_hash", "dualmap", "skywalker"])
    else:
        continuum_claims()


if __name__ == "__main__":
    main()
