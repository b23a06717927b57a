"""The candidate-side run: the policy answers every priority and TTL question of a payload's traces.

Runs inside the candidate's sandboxed process (called by problems/kv_ttl/driver.py). For each trace
it builds a fresh engine and a fresh `Policy(engine_view)`, seeds `random` (and numpy's global
generator when numpy is loaded) with the run's seed, and runs the engine with a decider that asks
the policy and logs each checked answer as a float. The log is all that goes back; the trusted
side replays it.

Must not: compute metrics or scores, or give the policy anything but the views.
"""

from __future__ import annotations

import math
import numbers
import random
import sys
import traceback
from types import ModuleType

from evaluators.kv_ttl.engine import AgentEngine
from evaluators.kv_ttl.stages import SETUPS
from evaluators.kv_ttl.views import EngineView, RequestView, TurnView
from evaluators.kv_ttl.workload import AgentTrace, trace_from_payload
from evaluators.llm_serving import Job

_TRACEBACK_FRAMES = 8


class PolicyFailure(Exception):
    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind  # "raised" or "invalid"
        self.where = ""


def find_policy(module: ModuleType) -> type:
    policy = getattr(module, "Policy", None)
    if not isinstance(policy, type) or not callable(getattr(policy, "ttl", None)):
        raise TypeError("the program defines no class Policy with a method ttl(self, turn, engine)")
    return policy


def _describe(value: object) -> str:
    try:
        text = repr(value)
    except Exception:
        text = "<unprintable>"
    return f"{text[:80]} ({type(value).__name__})"


def _real(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise PolicyFailure("invalid", f"{what} returned {_describe(value)}; expected a number")
    try:
        number = float(value)
    except (OverflowError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise PolicyFailure("invalid", f"{what} returned {_describe(value)}; expected a finite number")
    return number


class PolicyDecider:
    def __init__(self, policy: object, engine: AgentEngine, view: EngineView):
        self.calls = 0
        self.log: list[float] = []
        self._ttl = policy.ttl
        self._priority = getattr(policy, "priority", None)
        self._engine = engine
        self._view = view
        self._max_ttl = engine.setup.max_ttl_s

    def priority(self, job: Job, now: float) -> float:
        self.calls += 1
        request = RequestView(self._engine, job, now)
        if self._priority is None:
            value = request.arrival
        else:
            self._view.now = now
            try:
                answer = self._priority(request, self._view)
            except Exception as exc:
                raise PolicyFailure("raised", "priority raised") from exc
            value = _real(answer, "priority")
        self.log.append(value)
        return value

    def ttl(self, job: Job, now: float) -> float:
        self.calls += 1
        self._view.now = now
        try:
            answer = self._ttl(TurnView(self._engine, job, now), self._view)
        except Exception as exc:
            raise PolicyFailure("raised", "ttl raised") from exc
        value = _real(answer, "ttl")
        if not 0.0 <= value <= self._max_ttl:
            raise PolicyFailure("invalid", f"ttl returned {value!r}; expected seconds in [0, {self._max_ttl:g}]")
        self.log.append(value)
        return value


def _seed_randomness(seed: int) -> None:
    random.seed(seed)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed(seed % 2**32)


def run_trace(policy_cls: type, trace: AgentTrace, seed: int) -> PolicyDecider:
    _seed_randomness(seed)
    engine = AgentEngine(SETUPS[trace.setup], trace)
    view = EngineView(engine)
    try:
        policy = policy_cls(view)
    except Exception as exc:
        raise PolicyFailure("raised", "Policy(engine) raised") from exc
    decider = PolicyDecider(policy, engine, view)
    try:
        engine.run(decider)
    except PolicyFailure as exc:
        exc.where = f"at question {decider.calls} (t={engine.now:.3f} s)"
        raise
    return decider


def run_payload(module: ModuleType, payload: dict) -> dict:
    """Every run of the payload, in order: {"runs": [...]} or {"error": {...}} (untrusted)."""
    policy_cls = find_policy(module)
    runs = []
    for index, entry in enumerate(payload["runs"]):
        trace = trace_from_payload(entry["trace"])
        try:
            decider = run_trace(policy_cls, trace, entry["seed"])
        except PolicyFailure as exc:
            cause = exc.__cause__
            detail = "".join(traceback.format_exception(cause, limit=-_TRACEBACK_FRAMES, chain=False)) if cause else ""
            message = f"{exc} {exc.where}".strip()
            return {"error": {"index": index, "kind": exc.kind, "message": f"{message}\n{detail}"[-3000:]}}
        runs.append({"answers": decider.log, "calls": decider.calls})
    return {"runs": runs}
