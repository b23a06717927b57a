"""One evaluation of a routing policy: the trusted simulation, asking the candidate question by question.

Each trace of the stage (stages.py, workload.py) runs in an interactive session of its own
(evaluators/llm_serving/sessions.py): the trusted cluster simulator (cluster.py) runs the whole
trace here and, at every routing or rebalancing question, sends the question with the facts shown
since the previous one; the candidate's process (episode.py) keeps a mirror fed only with those
facts and answers. A decision can therefore see only the past and the present request: no later
arrival and no output length before admission exists in the candidate's process (this replaced
the probe twins, which caught a peek only when it changed an answer). Every answer is checked
here before the trusted simulator applies it; the trusted run alone decides every figure
(scoring.py). Rebalancing questions go out only to a Router that has `rebalance`.

Must not: import or call the candidate, or use any number the candidate reported but its answers.
"""

from __future__ import annotations

import os
from pathlib import Path

from adrs.problemkit import SessionGroup
from evaluators.llm_routing import scoring
from evaluators.llm_routing.anchors import anchor
from evaluators.llm_routing.cluster import HOLD, REBALANCE, ROUTE, Cluster, MoveError, Outcome
from evaluators.llm_routing.stages import LAYOUTS, StageTrace, stage_traces
from evaluators.llm_routing.workload import Trace, generate
from evaluators.llm_serving import Job
from evaluators.llm_serving.sessions import Asker, run_sessions, started


class SessionDecider:
    """The trusted run's decider: asks the candidate, checks the answer's shape and range."""

    def __init__(self, asker: Asker, instances: int, rebalances: bool):
        self.asker = asker
        self.calls = 0
        self._instances = instances
        self._rebalances = rebalances

    def route(self, job: Job, now: float) -> int:
        self.calls += 1
        answer = self.asker.ask([ROUTE, job.rid, now])
        if type(answer) is not int or not (answer == HOLD or 0 <= answer < self._instances):
            raise self.asker.invalid(f"route answered {answer!r}, not an instance id in 0..{self._instances - 1} or -1")
        return answer

    def rebalance(self, now: float) -> list[tuple[int, int]]:
        self.calls += 1
        if not self._rebalances:
            return []
        answer = self.asker.ask([REBALANCE, now])
        if not isinstance(answer, list):
            raise self.asker.invalid(f"rebalance answered {type(answer).__name__}, not a list of moves")
        moves = []
        for pair in answer:
            if not (isinstance(pair, list) and len(pair) == 2 and all(type(x) is int for x in pair)):
                raise self.asker.invalid(f"rebalance answered the move {pair!r}, not [request id, instance id]")
            if not 0 <= pair[1] < self._instances:
                raise self.asker.invalid(f"rebalance moved a request to instance {pair[1]}")
            moves.append((pair[0], pair[1]))
        return moves


def run_trace(group: SessionGroup, item: StageTrace, seed: int) -> tuple[Trace, Outcome, int, float]:
    """(trace, outcome, questions asked, the candidate process's wall time) of one trace."""
    layout = LAYOUTS[item.layout]
    trace = generate(item.spec)
    with group.open({"layout": item.layout, "seed": seed}) as session:
        options = started(session, item.spec.name)
        asker = Asker(session, item.spec.name)
        decider = SessionDecider(asker, layout.instances, bool(options.get("rebalance")))
        try:
            outcome = Cluster(layout, trace, record=asker).run(decider)
        except MoveError as exc:
            raise asker.invalid(str(exc)) from None
        return trace, outcome, asker.questions, session.wall_s


def evaluate_stage(program_path: str | os.PathLike, driver: Path, stage: str, workdir: str | None) -> dict:
    items = list(stage_traces(stage))
    runs = run_sessions(
        program_path, driver, list(enumerate(items)), lambda group, task: run_trace(group, task[1], task[0]), workdir
    )
    results = [
        scoring.measure(item, LAYOUTS[item.layout], trace, outcome, anchor(item))
        for item, (trace, outcome, _, _) in zip(items, runs, strict=True)
    ]
    summary = scoring.summarise(results)
    summary["metrics"]["questions"] = sum(run[2] for run in runs)
    summary["metrics"]["candidate_wall_s"] = round(max(run[3] for run in runs), 3)
    return summary
