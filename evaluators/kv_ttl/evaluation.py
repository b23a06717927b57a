"""One evaluation of a KV-TTL policy: the trusted engine, asking the candidate question by question.

Each agent trace of the stage (stages.py, workload.py) runs in an interactive session of its own
(evaluators/llm_serving/sessions.py): the trusted engine (engine.py) runs the whole trace here
and, at every priority or TTL question, sends the question with the facts shown since the previous
one; the candidate's process (episode.py) keeps a mirror fed only with those facts and answers. A
decision can therefore see only the past and the present turn: no later program, remaining turn or
running tool's duration exists in the candidate's process (this replaced the probe twin, which
caught a peek only when it changed an answer). Every answer is checked here before the trusted
engine applies it; the trusted run alone decides every figure (scoring.py). Priority questions go
out only to a Policy that has `priority` (otherwise a turn's priority is its arrival, vLLM's order).

Must not: import or call the candidate, or use any number the candidate reported but its answers.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from adrs.problemkit import SessionGroup
from evaluators.kv_ttl import scoring
from evaluators.kv_ttl.anchors import anchor
from evaluators.kv_ttl.engine import PRIORITY, TTL, AgentEngine, Outcome
from evaluators.kv_ttl.stages import SETUPS, stage_specs
from evaluators.kv_ttl.workload import AgentSpec, AgentTrace, generate
from evaluators.llm_serving import Job
from evaluators.llm_serving.sessions import Asker, run_sessions, started


class SessionDecider:
    """The trusted run's decider: asks the candidate, checks each answer."""

    def __init__(self, asker: Asker, max_ttl_s: float, asks_priority: bool):
        self.asker = asker
        self.calls = 0
        self._max_ttl = max_ttl_s
        self._asks_priority = asks_priority

    def _number(self, kind: str, job: Job, now: float) -> float:
        self.calls += 1
        value = self.asker.ask([kind, job.owner[0], job.owner[1], now])
        if type(value) not in (int, float) or not math.isfinite(value):
            raise self.asker.invalid(f"{value!r} is not a finite number")
        return float(value)

    def priority(self, job: Job, now: float) -> float:
        if not self._asks_priority:
            self.calls += 1
            return now
        return self._number(PRIORITY, job, now)

    def ttl(self, job: Job, now: float) -> float:
        value = self._number(TTL, job, now)
        if not 0.0 <= value <= self._max_ttl:
            raise self.asker.invalid(f"ttl {value!r} is outside [0, {self._max_ttl:g}]")
        return value


def run_trace(group: SessionGroup, spec: AgentSpec, seed: int) -> tuple[AgentTrace, Outcome, int, float]:
    """(trace, outcome, questions asked, the candidate process's wall time) of one trace."""
    trace = generate(spec)
    setup = SETUPS[spec.setup]
    payload = {"setup": spec.setup, "concurrency": trace.concurrency, "stagger_s": trace.stagger_s, "seed": seed}
    with group.open(payload) as session:
        options = started(session, spec.name)
        asker = Asker(session, spec.name)
        decider = SessionDecider(asker, setup.max_ttl_s, bool(options.get("priority")))
        outcome = AgentEngine(setup, trace, record=asker).run(decider)
        return trace, outcome, asker.questions, session.wall_s


def evaluate_stage(program_path: str | os.PathLike, driver: Path, stage: str, workdir: str | None) -> dict:
    specs = list(stage_specs(stage))
    runs = run_sessions(
        program_path, driver, list(enumerate(specs)), lambda group, task: run_trace(group, task[1], task[0]), workdir
    )
    results = [
        scoring.measure(spec, SETUPS[spec.setup], trace, outcome, anchor(spec))
        for spec, (trace, outcome, _, _) in zip(specs, runs, strict=True)
    ]
    summary = scoring.summarise(results)
    summary["metrics"]["questions"] = sum(run[2] for run in runs)
    summary["metrics"]["candidate_wall_s"] = round(max(run[3] for run in runs), 3)
    return summary
