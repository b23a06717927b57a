"""Trusted glue run inside the candidate's process: the session's runs, one tick per message.

The evaluator (evaluators/cant_be_late_multi/feed.py) opens interactive sessions and sends, at
every tick, that tick's availability for the runs then active; nothing of a later tick is ever in
this process. `start` reads the job and the rules and compiles the candidate (re-executed per run,
so module state stays per run); `handle` advances every run one tick
(evaluators.cant_be_late_multi.candidate_sim.Lockstep). The evaluator replays the logs itself:
nothing returned here is trusted.
"""

import random
import sys

from evaluators.cant_be_late_multi.candidate_sim import Lockstep, compile_candidate
from evaluators.cant_be_late_multi.model import Job, Rules

_SESSION = {}


def start(candidate, payload):
    _SESSION["lockstep"] = Lockstep(
        compile_candidate(candidate), Job.from_json(payload["job"]), Rules.from_json(payload["rules"])
    )
    random.seed(payload["seed"])  # a random policy is reproducible: same session, same draws
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed(payload["seed"] % 2**32)


def handle(candidate, message):
    return _SESSION["lockstep"].tick(message)
