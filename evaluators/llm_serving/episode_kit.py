"""The candidate side of a serving session, shared by llm_routing and kv_ttl: a mirror run, fed facts.

Runs inside the candidate's sandboxed process (the problems' driver.py). The trusted side runs the
simulation that counts and asks the policy one question at a time over an interactive session
(adrs.problemkit.open_session); every message carries the question and the facts the trusted run
has shown since the previous message (a request that arrived, the output length of one that was
admitted, ...). This process keeps a mirror of the simulation so that the policy's views work as
before, but the mirror only ever holds those facts: no future arrival and no hidden length exists
here, so no peek of any length finds one.

`MirrorLoop` holds the mirror simulation as a generator of questions: a message's facts are applied,
then the answer to the previous question is sent in and the mirror runs to its next question,
whose answer (the policy's) is the reply. So the mirror never runs past what it has been shown:
it stops at each question until the next message brings what happened next.

Also here: the checks and the failure record both problems use (`PolicyFailure`, `describe`,
`instance_id`, `real`, `failure_record`, `seed_randomness`).

Must not: compute metrics or scores (the trusted run does), or hold any fact before the trusted
side sends it.
"""

from __future__ import annotations

import math
import numbers
import random
import sys
import traceback
from collections.abc import Callable, Generator
from typing import Any

from evaluators.llm_serving.instance import Unrevealed

TRACEBACK_FRAMES = 8


class PolicyFailure(Exception):
    """The policy raised, or answered something that is not a valid decision."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind  # "raised" or "invalid"


class Diverged(Exception):
    """The mirror asked another question than the trusted run (the simulator here was changed)."""


def seed_randomness(seed: int) -> None:
    random.seed(seed)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed(seed % 2**32)


def describe(value: object) -> str:
    try:
        text = repr(value)
    except Exception:
        text = "<unprintable>"
    return f"{text[:80]} ({type(value).__name__})"


def instance_id(value: object, count: int, what: str, or_none: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= int(value) < count:
        raise PolicyFailure(
            "invalid",
            f"{what} returned {describe(value)}; expected an instance id in 0..{count - 1}" + (" or None" * or_none),
        )
    return int(value)


def real(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise PolicyFailure("invalid", f"{what} returned {describe(value)}; expected a number")
    try:
        number = float(value)
    except (OverflowError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise PolicyFailure("invalid", f"{what} returned {describe(value)}; expected a finite number")
    return number


def failure_record(exc: BaseException, question: int, now: float) -> dict:
    """The reply that reports a failed policy (untrusted: the trusted side checks its shape)."""
    diverged = isinstance(exc, (Diverged, Unrevealed))
    kind = exc.kind if isinstance(exc, PolicyFailure) else "diverged" if diverged else "raised"
    cause = exc.__cause__ if isinstance(exc, PolicyFailure) else exc
    detail = "".join(traceback.format_exception(cause, limit=-TRACEBACK_FRAMES, chain=False)) if cause else ""
    message = f"{exc} at question {question} (t={now:.3f} s)\n{detail}"
    return {"error": {"kind": kind, "message": message[-3000:]}}


class MirrorLoop:
    """One trace's mirror run, advanced message by message (see the module docstring).

    `apply(message)` puts a message's facts into the mirror; `steps` is the mirror simulation as a
    generator of questions (it takes each answer); `wire(question)` is the question as the trusted
    side sends it, or None for one it does not send; `decide(question)` returns (the answer for the
    simulation, the reply), asking the policy only for a question that was sent."""

    def __init__(
        self,
        apply: Callable[[dict], None],
        steps: Generator[Any, Any, Any],
        wire: Callable[[Any], list | None],
        decide: Callable[[Any], tuple[Any, Any]],
    ):
        self._apply = apply
        self._steps = steps
        self._wire = wire
        self._decide = decide
        self._answer: Any = None  # the answer to the last question, applied when the next message is in
        self._over = False
        self.questions = 0
        self.now = 0.0

    def handle(self, message: dict) -> Any:
        """The reply to one message (the driver's `handle`)."""
        if self._over:
            return {"error": {"kind": "diverged", "message": "the mirror run has already failed"}}
        try:
            self._apply(message)
            while True:
                question = self._steps.send(self._answer)
                wire = self._wire(question)
                if wire is None:
                    self._answer, _ = self._decide(question)
                    continue
                self.questions += 1
                self.now = wire[-1]
                if wire != message.get("q"):
                    raise Diverged(f"the mirror reached {wire!r} where the trusted run asks {message.get('q')!r}")
                self._answer, reply = self._decide(question)
                return reply
        except StopIteration:
            self._over = True
            return {"error": {"kind": "diverged", "message": "the mirror run ended before the trusted one"}}
        except Exception as exc:  # the policy failed, or the mirror diverged
            self._over = True
            return failure_record(exc, self.questions, self.now)
