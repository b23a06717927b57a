"""Time per offline-mutator proposal on a 100-line program (the engine's proposal cost without an LLM).

    .venv/bin/python benchmarks/offline_mutator_speed.py --proposals 200 --repeats 5

The program is a greedy placement policy with seven helper functions inside its EVOLVE block
(~100 lines); one inspiration program is offered for crossover, as a running engine would. The
parse cache is warmed first, like a running engine's. Prints the median over `repeats` rounds of
`proposals` proposals each (wall and CPU time), with the load average, for docs/benchmarks.md (aim: well under 5 ms).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time

from adrs.mutate.offline import OfflineMutator

POLICY = '''"""Greedy placement of model replicas onto GPUs (a benchmark policy)."""

import math


def capacity_of(gpu):
    return gpu["memory"] - gpu["used"]


# EVOLVE-BLOCK-START
{helpers}def place(models, gpus, headroom=0.15):
    order = sorted(models, key=lambda m: (m["size"], m["rate"]), reverse=True)
    placement = {{}}
    loads = [0.0] * len(gpus)
    for model in order:
        best = None
        best_score = math.inf
        for i, gpu in enumerate(gpus):
            free = capacity_of(gpu) - loads[i]
            if free < model["size"] * (1.0 + headroom):
                continue
            score = 0.5 * loads[i] / max(gpu["memory"], 1) + 0.25 * free
            if score < best_score and not gpu.get("draining", False):
                best, best_score = i, score
        if best is None:
            best = min(range(len(gpus)), key=lambda j: loads[j])
        placement[model["name"]] = best
        loads[best] += model["size"]
    return placement
# EVOLVE-BLOCK-END
'''


def program(variant: int = 0) -> str:
    helpers = "".join(
        f"def helper_{k}(values, scale={0.1 * (k + 1 + variant):.2f}):\n"
        f"    total = 0.0\n"
        f"    for v in sorted(values, reverse={k % 2 == 0}):\n"
        f"        if v > {k} and v <= {k * 10 + 5}:\n"
        f"            total += v * scale\n"
        f"        elif not v:\n"
        f"            total -= 1\n"
        f"    return min(total, {100 * (k + 1)}) / 2\n\n"
        for k in range(7)
    )
    return POLICY.format(helpers=helpers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proposals", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    parent, inspiration = program(0), program(1)
    mutator = OfflineMutator()
    rng = random.Random(0)
    mutator.propose(parent, [inspiration], rng)  # warm the parse cache like a running engine
    rounds, cpu_rounds = [], []
    for _ in range(args.repeats):
        started, cpu_started = time.perf_counter(), time.process_time()
        for _ in range(args.proposals):
            mutator.propose(parent, [inspiration], rng)
        rounds.append((time.perf_counter() - started) / args.proposals * 1000)
        cpu_rounds.append((time.process_time() - cpu_started) / args.proposals * 1000)
    lines = len(parent.splitlines())
    # CPU time too: on a busy machine the wall time measures the machine's load more than the mutator
    print(
        f"{lines}-line program, {args.proposals} proposals x {args.repeats}: "
        f"median {statistics.median(rounds):.2f} ms wall per proposal "
        f"(min {min(rounds):.2f}, max {max(rounds):.2f}), "
        f"{statistics.median(cpu_rounds):.2f} ms CPU; load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
