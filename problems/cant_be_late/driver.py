"""Trusted glue inside the candidate's process: runs the session's episodes one tick per message.

The evaluator (evaluators/cant_be_late/feed.py) opens interactive sessions and sends, at every
tick, the availability of that tick for the runs then active; nothing of a later tick is ever in
this process. The harness loads this file before the candidate and calls `before_import(payload)`,
imports the candidate, calls `start(candidate, payload)`, then `handle(candidate, message)` per
tick. What `handle` returns is untrusted (the candidate shares the process); the evaluator replays
the requested types itself.
"""

import random
import sys

from evaluators.cant_be_late.compat import install_sky_spot_aliases
from evaluators.cant_be_late.episode import Lockstep, find_strategy_class

_SESSION = {}


def before_import(payload):
    install_sky_spot_aliases()  # leaderboard programs import sky_spot.strategies.strategy / sky_spot.utils
    random.seed(payload["seed"])  # randomness drawn at import time is the same in every evaluation


def start(candidate, payload):
    _SESSION["lockstep"] = Lockstep(find_strategy_class(candidate))
    random.seed(payload["seed"])  # a random policy is reproducible: same session, same draws
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed(payload["seed"] % 2**32)


def handle(candidate, message):
    return _SESSION["lockstep"].tick(message)
