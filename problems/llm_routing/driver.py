"""Trusted glue inside the candidate's process: simulate the payload's traces, return the answer logs.

The harness loads this file before the candidate, calls `before_import(payload)`, imports the
candidate, then calls `run(candidate_module, payload)`. What `run` returns is untrusted (the
candidate shares the process); the evaluator replays it (evaluators/llm_routing).
"""

import random

from evaluators.llm_routing.episode import run_payload


def before_import(payload):
    random.seed(0)  # randomness drawn at import time is then the same in every candidate process


def run(candidate, payload):
    return run_payload(candidate, payload)
