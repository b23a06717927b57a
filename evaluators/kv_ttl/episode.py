"""The candidate-side mirror of one agent trace: the policy answers each question as it is asked.

Runs inside the candidate's sandboxed process (problems/kv_ttl/driver.py), one trace per session.
`PolicySession` builds an engine on programs that hold nothing yet, the policy's views, seeds
`random` (and numpy's global generator when numpy is loaded) with the run's seed and builds
`Policy(engine_view)`. Each message then brings what the trusted run showed since the previous
question: programs workers took, turns that arrived (with the duration of the tool call that just
returned), output lengths of turns the instance tried to admit, the tool each finished turn calls
(evaluators/llm_serving/episode_kit.py applies them and runs the mirror to the question). Answers:
a finite number per priority question, a TTL in [0, max_ttl_s] per tool call. The trusted side
checks them again and runs the simulation that counts.

Must not: compute metrics or scores, or give the policy anything but the views.
"""

from __future__ import annotations

from types import ModuleType

from evaluators.kv_ttl.engine import PRIORITY, AgentEngine, Outcome, Recorder
from evaluators.kv_ttl.stages import SETUPS
from evaluators.kv_ttl.views import EngineView, RequestView, TurnView
from evaluators.kv_ttl.workload import AgentTrace
from evaluators.llm_serving.episode_kit import MirrorLoop, PolicyFailure, failure_record, real, seed_randomness


class MirrorTurn:
    """A turn as far as it has been shown (None: not yet)."""

    __slots__ = ("new_tokens", "output_tokens", "tool", "tool_s")

    def __init__(self, new_tokens: int):
        self.new_tokens = new_tokens
        self.output_tokens: int | None = None
        self.tool: str | None = None
        self.tool_s: float | None = None


class MirrorProgram:
    __slots__ = ("pid", "kind", "turns")

    def __init__(self, pid: int, kind: str):
        self.pid = pid
        self.kind = kind
        self.turns: list[MirrorTurn] = []


def find_policy(module: ModuleType) -> type:
    policy = getattr(module, "Policy", None)
    if not isinstance(policy, type) or not callable(getattr(policy, "ttl", None)):
        raise TypeError("the program defines no class Policy with a method ttl(self, turn, engine)")
    return policy


def run_local(policy_cls: type, trace: AgentTrace, seed: int = 0) -> Outcome:
    """Trusted tools only (benchmarks, tests of known programs): the policy answers every question of
    the whole `trace` in this process. Never for a candidate: evaluations go through sessions."""
    session = PolicySession(policy_cls, trace.setup, trace.concurrency, trace.stagger_s, seed, whole=trace)
    if "error" in session.ready:
        raise RuntimeError(session.ready["error"]["message"])
    steps = session.engine.steps()
    answer = None
    try:
        while True:
            answer, _ = session._decide(steps.send(answer))
    except StopIteration as stop:
        return stop.value


class PolicySession:
    """One trace's mirror (the driver's state); `ready` is what `start` returns."""

    def __init__(
        self,
        policy_cls: type,
        setup: str,
        concurrency: int,
        stagger_s: float,
        seed: int,
        whole: AgentTrace | None = None,
        record: Recorder | None = None,
    ):
        seed_randomness(seed)
        trace = whole or AgentTrace(None, [], concurrency, stagger_s, setup)
        self.engine = AgentEngine(SETUPS[setup], trace, record=record, mirror=whole is None)
        self.view = EngineView(self.engine)
        self._max_ttl = self.engine.setup.max_ttl_s
        self.loop = MirrorLoop(self._apply, self.engine.steps(), self._wire, self._decide)
        try:
            policy = policy_cls(self.view)
        except Exception as exc:
            failure = PolicyFailure("raised", "Policy(engine) raised")
            failure.__cause__ = exc
            self.ready = failure_record(failure, 0, 0.0)
            return
        self._ttl = policy.ttl
        self._priority = getattr(policy, "priority", None)
        self.ready = {"priority": self._priority is not None}

    def _apply(self, message: dict) -> None:
        engine = self.engine
        programs = engine.programs
        for index, pid, kind in message.get("s", ()):
            if index != len(programs):
                raise PolicyFailure("diverged", f"program {index} was started out of order")
            programs.append(MirrorProgram(pid, kind))
        engine.extend(len(programs))
        for index, turn, new_tokens, tool_s in message.get("a", ()):
            turns = programs[index].turns
            if turn != len(turns):
                raise PolicyFailure("diverged", f"turn {turn} of program {index} arrived out of order")
            turns.append(MirrorTurn(new_tokens))
            if turn:
                engine.reveal_return(index, turn, tool_s)
        for index, turn, output_tokens in message.get("o", ()):
            engine.reveal_output(index, turn, output_tokens)
        for index, turn, tool in message.get("f", ()):
            programs[index].turns[turn].tool = tool

    # --- the mirror's questions ----------------------------------------------------------------------

    def _wire(self, question: tuple) -> list | None:
        kind, job, now = question
        if kind == PRIORITY and self._priority is None:
            return None  # vLLM's order (arrival): the trusted side does not ask
        return [kind, job.owner[0], job.owner[1], now]

    def _decide(self, question: tuple) -> tuple[float, float]:
        kind, job, now = question
        self.view.now = now
        if kind == PRIORITY:
            request = RequestView(self.engine, job, now)
            if self._priority is None:
                return request.arrival, request.arrival
            try:
                answer = self._priority(request, self.view)
            except Exception as exc:
                raise PolicyFailure("raised", "priority raised") from exc
            value = real(answer, "priority")
            return value, value
        try:
            answer = self._ttl(TurnView(self.engine, job, now), self.view)
        except Exception as exc:
            raise PolicyFailure("raised", "ttl raised") from exc
        value = real(answer, "ttl")
        if not 0.0 <= value <= self._max_ttl:
            raise PolicyFailure("invalid", f"ttl returned {value!r}; expected seconds in [0, {self._max_ttl:g}]")
        return value, value
