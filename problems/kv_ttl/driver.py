"""Trusted glue inside the candidate's process: simulate the payload's agent traces, return the logs.

The harness loads this file before the candidate, calls `before_import(payload)`, imports the
candidate, then calls `run(candidate_module, payload)`. What `run` returns is untrusted (the
candidate shares the process); the evaluator replays it (evaluators/kv_ttl).
"""

import random

from evaluators.kv_ttl.episode import run_payload


def before_import(payload):
    random.seed(0)  # randomness drawn at import time is then the same in every candidate process


def run(candidate, payload):
    return run_payload(candidate, payload)
