"""Trusted verifier: runs the candidate through the adrs harness, validates, scores.

The candidate only ever returns orders; the weighted completion time is computed here.
"""

import random
from pathlib import Path

from adrs.problemkit import CandidateError, run_candidate

DRIVER = Path(__file__).with_name("driver.py")
WORKLOAD_SEEDS = {"quick": 1, "full": 2, "holdout": 3}  # fixed: scores compare across runs
INSTANCES = {"quick": 5, "full": 20, "holdout": 20}


def make_instances(stage):
    rng = random.Random(WORKLOAD_SEEDS[stage])
    return [[(rng.randint(1, 20), rng.randint(1, 10)) for _ in range(30)] for _ in range(INSTANCES[stage])]


def weighted_completion(jobs, order):
    clock, total = 0, 0
    for i in order:
        clock += jobs[i][0]
        total += jobs[i][1] * clock
    return total


def kendall_distance(order, reference):
    position = {job: k for k, job in enumerate(reference)}
    ranks = [position[j] for j in order]
    pairs = len(ranks) * (len(ranks) - 1) / 2
    inversions = sum(1 for a in range(len(ranks)) for b in range(a + 1, len(ranks)) if ranks[a] > ranks[b])
    return inversions / pairs if pairs else 0.0


def evaluate(program_path, *, stage="full", workdir=None, seed=0):
    instances = make_instances(stage)
    orders = run_candidate(program_path, DRIVER, {"instances": instances}, workdir=workdir).raise_for_failure()
    if not isinstance(orders, list) or len(orders) != len(instances):
        raise CandidateError("invalid_output", "expected one order per instance")
    ratios, distances = [], []
    for k, (jobs, order) in enumerate(zip(instances, orders, strict=True)):
        if sorted(order) != list(range(len(jobs))):
            return {"score": 0.0, "feedback": f"instance {k}: the order is not a permutation of the job indices"}
        optimal = sorted(range(len(jobs)), key=lambda i: jobs[i][0] / jobs[i][1])
        ratios.append(weighted_completion(jobs, optimal) / weighted_completion(jobs, order))
        distances.append(kendall_distance(order, sorted(range(len(jobs)), key=lambda i: jobs[i][0])))
    score = 100.0 * sum(ratios) / len(ratios)
    worst = min(range(len(ratios)), key=ratios.__getitem__)
    return {
        "score": score,
        "metrics": {"weighted_completion": 1.0 / (sum(ratios) / len(ratios))},
        "features": {"kendall_to_spt": sum(distances) / len(distances)},
        "feedback": f"mean optimality {score:.2f}%; worst instance {worst} at {100 * ratios[worst]:.2f}%",
    }
