"""Trusted glue run inside the candidate's process: simulate the policy, return its action logs.

The harness loads the candidate program as a module and calls run(candidate, payload). The
payload holds a chunk of simulations (traces, prices, job, rules); the simulator in
evaluators.cant_be_late_multi.candidate_sim builds a fresh policy per simulation and logs what it
decides at each tick. The evaluator replays those logs itself: nothing returned here is trusted.
"""

from evaluators.cant_be_late_multi.candidate_sim import run_payload


def run(candidate, payload):
    return run_payload(candidate, payload)
