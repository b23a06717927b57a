"""The trusted replay: rerun a trace on the simulator with the policy's logged answers.

The answers came back from the candidate's process, so they are untrusted: the replay reads them
in the order the simulator asks its questions and checks each (an instance id in range or -1 for
a routing question; a count and that many (request, instance) pairs naming queued requests for a
rebalancing question). The simulator here is the trusted one; whatever the candidate's copy did,
only these answers reach it. A log that ends early, or has answers left over, does not belong to
this trace's run (the candidate's simulator was changed): that is an invalid output.

Must not: trust any figure from the candidate other than the answers.
"""

from __future__ import annotations

from dataclasses import dataclass

from evaluators.llm_routing.cluster import HOLD, Cluster, Layout, MoveError, Outcome
from evaluators.llm_routing.workload import Trace
from evaluators.llm_serving import Job


class LogError(ValueError):
    """The log is not a valid sequence of answers for this trace's questions."""


class StopReplay(Exception):
    """Raised to end a probe twin's replay once the comparison needs no more answers."""


class ReplayDecider:
    def __init__(self, answers: list, instances: int, stop_after: int | None = None, outcome: Outcome | None = None):
        self.answers = answers
        self._outcome = outcome  # when given, stop at the first question after a probe change showed
        self.pos = 0
        self.calls = 0
        self.ends: list[int] = []  # log position after each answered question
        self._instances = instances
        self._stop_after = stop_after

    def _next(self) -> int:
        if self.pos >= len(self.answers):
            raise LogError(f"the log ends at question {self.calls} while the trusted simulator asks on")
        value = self.answers[self.pos]
        self.pos += 1
        if type(value) is not int:
            raise LogError(f"answer {self.pos - 1} is {value!r}, not an int")
        return value

    def _begin(self) -> None:
        if self._stop_after is not None and self.calls >= self._stop_after:
            raise StopReplay
        if self._outcome is not None and self._outcome.reveal_call is not None:
            raise StopReplay
        self.calls += 1

    def route(self, job: Job, now: float) -> int:
        self._begin()
        answer = self._next()
        if answer != HOLD and not 0 <= answer < self._instances:
            raise LogError(
                f"question {self.calls} (route request {job.rid} at t={now:.3f} s): instance "
                f"{answer} is not in 0..{self._instances - 1}"
            )
        self.ends.append(self.pos)
        return answer

    def rebalance(self, now: float) -> list[tuple[int, int]]:
        self._begin()
        count = self._next()
        if count < 0:
            raise LogError(f"question {self.calls} (rebalance at t={now:.3f} s): {count} moves")
        moves = []
        for _ in range(count):
            rid, target = self._next(), self._next()
            if not 0 <= target < self._instances:
                raise LogError(
                    f"question {self.calls} (rebalance at t={now:.3f} s): instance {target} is not "
                    f"in 0..{self._instances - 1}"
                )
            moves.append((rid, target))
        self.ends.append(self.pos)
        return moves

    def answers_before(self, calls: int) -> list:
        """The answers to the first `calls` questions."""
        if calls <= 0:
            return []
        return self.answers[: self.ends[calls - 1]]


@dataclass
class Replayed:
    outcome: Outcome  # partial when `complete` is False (a probe twin stopped early)
    decider: ReplayDecider
    complete: bool


def replay(
    layout: Layout,
    trace: Trace,
    answers: list,
    reveal_marks=None,
    stop_after: int | None = None,
    stop_at_reveal: bool = False,
) -> Replayed:
    """Replay `answers` on `trace`; with `stop_after`, stop before question `stop_after` + 1; with
    `stop_at_reveal`, at the first question after a probe's change became visible."""
    cluster = Cluster(layout, trace, reveal_marks)
    decider = ReplayDecider(answers, layout.instances, stop_after, cluster.out if stop_at_reveal else None)
    try:
        outcome = cluster.run(decider)
    except StopReplay:
        return Replayed(cluster.out, decider, False)
    except MoveError as exc:
        raise LogError(f"question {decider.calls}: {exc}") from None
    if stop_after is None and not stop_at_reveal and decider.pos != len(answers):
        raise LogError(
            f"{len(answers) - decider.pos} answers are left over after the trusted run asked {decider.calls} questions"
        )
    return Replayed(outcome, decider, True)
