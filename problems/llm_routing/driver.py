"""Trusted glue inside the candidate's process: one routing trace's mirror, one question per message.

The evaluator (evaluators/llm_routing/evaluation.py) opens one interactive session per trace and
sends each question with the facts shown since the previous one (requests that arrived, output
lengths of requests admitted, ...); nothing of a later event is ever in this process. The harness
loads this file before the candidate and calls `before_import(payload)`, imports the candidate,
calls `start(candidate, payload)`, then `handle(candidate, message)` per question. What they
return is untrusted (the candidate shares the process); the trusted side checks every answer.
"""

import random

from evaluators.llm_routing.episode import RouterSession, find_router

_SESSION = {}


def before_import(payload):
    random.seed(0)  # randomness drawn at import time is then the same in every candidate process


def start(candidate, payload):
    session = RouterSession(find_router(candidate), payload["layout"], payload["seed"])
    _SESSION["mirror"] = session
    return session.ready


def handle(candidate, message):
    return _SESSION["mirror"].loop.handle(message)
