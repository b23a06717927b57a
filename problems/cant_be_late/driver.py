"""Trusted glue inside the candidate's process: simulate every run of the payload, return the logs.

The harness loads this file before the candidate, calls `before_import(payload)`, imports the
candidate, then calls `run(candidate_module, payload)`. What `run` returns is untrusted (the
candidate shares the process); the evaluator replays it.
"""

import random

from evaluators.cant_be_late.compat import install_sky_spot_aliases
from evaluators.cant_be_late.episode import run_payload


def before_import(payload):
    install_sky_spot_aliases()  # leaderboard programs import sky_spot.strategies.strategy / sky_spot.utils
    random.seed(0)  # randomness drawn at import time is then the same in every candidate process


def run(candidate, payload):
    return run_payload(candidate, payload)
