"""The trusted replay: rerun an agent trace on the engine with the policy's logged answers.

The answers came back from the candidate's process, so they are untrusted: they are read in the
order the engine asks (a priority for every arriving turn, a TTL for every tool call) and each is
checked (a finite number; a TTL within [0, max_ttl_s]). Only these answers reach the trusted
engine. A log that ends early or has answers left over does not belong to this trace's run (the
candidate's engine was changed): an invalid output.

Must not: trust any figure from the candidate other than the answers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from evaluators.kv_ttl.engine import AgentEngine, Outcome, Setup
from evaluators.kv_ttl.workload import AgentTrace
from evaluators.llm_serving import Job


class LogError(ValueError):
    """The log is not a valid sequence of answers for this trace's questions."""


class StopReplay(Exception):
    """Ends a probe twin's replay once the comparison needs no more answers."""


class ReplayDecider:
    def __init__(self, answers: list, max_ttl_s: float, stop_after: int | None = None):
        self.answers = answers
        self.calls = 0
        self._max_ttl = max_ttl_s
        self._stop_after = stop_after

    def _next(self, what: str, job: Job, now: float) -> float:
        if self._stop_after is not None and self.calls >= self._stop_after:
            raise StopReplay
        if self.calls >= len(self.answers):
            raise LogError(f"the log ends at question {self.calls} while the trusted engine asks on")
        value = self.answers[self.calls]
        self.calls += 1
        if type(value) not in (int, float) or not math.isfinite(value):
            raise LogError(
                f"question {self.calls} ({what} of program {job.owner[0]} turn {job.owner[1]} at "
                f"t={now:.3f} s): {value!r} is not a finite number"
            )
        return float(value)

    def priority(self, job: Job, now: float) -> float:
        return self._next("priority", job, now)

    def ttl(self, job: Job, now: float) -> float:
        value = self._next("ttl", job, now)
        if not 0.0 <= value <= self._max_ttl:
            raise LogError(
                f"question {self.calls} (ttl of program {job.owner[0]} turn {job.owner[1]}): {value!r} "
                f"is outside [0, {self._max_ttl:g}]"
            )
        return value


@dataclass
class Replayed:
    outcome: Outcome  # partial when `complete` is False (a probe twin stopped early)
    decider: ReplayDecider
    complete: bool


def replay(
    setup: Setup, trace: AgentTrace, answers: list, marks: frozenset | None = None, stop_after: int | None = None
) -> Replayed:
    engine = AgentEngine(setup, trace, marks)
    decider = ReplayDecider(answers, setup.max_ttl_s, stop_after)
    try:
        outcome = engine.run(decider)
    except StopReplay:
        return Replayed(engine.out, decider, False)
    if stop_after is None and decider.calls != len(answers):
        raise LogError(
            f"{len(answers) - decider.calls} answers are left over after the trusted run asked "
            f"{decider.calls} questions"
        )
    return Replayed(outcome, decider, True)
