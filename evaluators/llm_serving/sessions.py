"""The trusted side of a serving session, shared by llm_routing and kv_ttl: ask, check, book-keep.

Each trace of a stage runs in an interactive session of its own (adrs.problemkit.SessionGroup; a
fresh candidate process per trace, so no state crosses traces). The trusted simulation runs here
with an `Asker` as its decider's link: at every question it sends the question plus the facts its
run has shown since the previous question (episode_kit.py applies them to the candidate's mirror)
and returns the reply. Nothing of a later event is ever sent, so a decision sees only the past and
the present request by construction.

Failures: a dead or slow candidate process is the candidate's failure of the session's kind
(timeout, memory, ...); a failure record from the policy is an `exception` (it raised) or an
`invalid_output` (it answered something that is not a decision, or the mirror in its process
diverged), naming the trace and the question.

Must not: score, or trust a reply beyond its shape (the problems check every answer again).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from adrs.problemkit import EXCEPTION, INVALID_OUTPUT, NONZERO_EXIT, CandidateError, CandidateSession, SessionGroup

PARALLEL_PER_CPU = 3
Task = TypeVar("Task")
Result = TypeVar("Result")


class Asker:
    """Sends one trace's questions with the facts gathered since the previous one."""

    def __init__(self, session: CandidateSession, trace_name: str):
        self.session = session
        self.trace_name = trace_name
        self.facts: dict[str, list] = {}
        self.questions = 0  # questions sent

    def add(self, kind: str, fact: list) -> None:
        """A fact the trusted run has just shown (it travels with the next question)."""
        self.facts.setdefault(kind, []).append(fact)

    def ask(self, question: list) -> Any:
        """The reply to `question` (its last item is the simulated time); raises CandidateError."""
        self.questions += 1
        message = {"q": question, **self.facts}
        self.facts = {}
        reply = self.session.call(message)
        if not reply.ok:
            raise CandidateError(reply.error_kind or NONZERO_EXIT, f"trace {self.trace_name}: {reply.error}")
        value = reply.value
        if isinstance(value, dict) and "error" in value:
            raise self.failed(value["error"])
        return value

    def failed(self, error: object) -> CandidateError:
        if not isinstance(error, dict) or not isinstance(error.get("message"), str):
            return CandidateError(INVALID_OUTPUT, f"trace {self.trace_name}: malformed error record")
        kind = EXCEPTION if error.get("kind") == "raised" else INVALID_OUTPUT
        if error.get("kind") == "diverged":
            return self.invalid(f"the simulator in the candidate's process diverged: {error['message'][:1000]}")
        return CandidateError(kind, f"the policy failed on trace {self.trace_name}: {error['message'][:3000]}")

    def invalid(self, message: str) -> CandidateError:
        return CandidateError(INVALID_OUTPUT, f"trace {self.trace_name}, question {self.questions}: {message}")


def started(session: CandidateSession, trace_name: str) -> dict:
    """What the driver's `start` returned (it built the policy): its options, or the failure it reports."""
    ready = session.ready
    if isinstance(ready, dict) and "error" in ready:
        raise Asker(session, trace_name).failed(ready["error"])
    if not isinstance(ready, dict):
        raise CandidateError(INVALID_OUTPUT, f"trace {trace_name}: the driver's start answered {type(ready).__name__}")
    return ready


def run_sessions(
    program_path: str | os.PathLike,
    driver: Path,
    tasks: Sequence[Task],
    converse: Callable[[SessionGroup, Task], Result],
    workdir: str | os.PathLike | None,
) -> list[Result]:
    """`converse(group, task)` for every task, results in order. A session waits on round trips more
    than it computes, so more run side by side than there are CPUs (as cant_be_late's do)."""
    with SessionGroup(program_path, driver, workdir=workdir) as group:
        return group.map(
            lambda task: converse(group, task), list(tasks), parallel=PARALLEL_PER_CPU * (os.cpu_count() or 1)
        )
