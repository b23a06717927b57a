"""Trusted glue inside the candidate's process: one agent trace's mirror, one question per message.

The evaluator (evaluators/kv_ttl/evaluation.py) opens one interactive session per trace and sends
each question with the facts shown since the previous one (programs started, turns arrived, output
lengths, the tool a finished turn calls); no later turn, tool duration or program is ever in this
process. The harness loads this file before the candidate and calls `before_import(payload)`,
imports the candidate, calls `start(candidate, payload)`, then `handle(candidate, message)` per
question. What they return is untrusted (the candidate shares the process); the trusted side
checks every answer.
"""

import random

from evaluators.kv_ttl.episode import PolicySession, find_policy

_SESSION = {}


def before_import(payload):
    random.seed(0)  # randomness drawn at import time is then the same in every candidate process


def start(candidate, payload):
    session = PolicySession(
        find_policy(candidate), payload["setup"], payload["concurrency"], payload["stagger_s"], payload["seed"]
    )
    _SESSION["mirror"] = session
    return session.ready


def handle(candidate, message):
    return _SESSION["mirror"].loop.handle(message)
