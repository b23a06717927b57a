"""One evaluation of a routing policy, in two halves around the candidate processes.

`plan_stage` builds the stage's traces (stages.py, workload.py) plus two probe twins (probe.py)
and splits them over as many candidate processes as asked (at least two, so no twin shares a
process with its original), each in a seeded shuffled order. The problem's evaluator runs the
payloads through the trusted harness; each process runs the driver, which simulates its traces
with the policy in the loop and returns the answer logs (episode.py). `score_stage` replays every
log on the trusted simulator (replay.py), which alone decides every figure (scoring.py), and
compares each twin's answers with its original's up to the first visible difference.

A broken or dishonest answer raises `Rejected` with the failure kind the evaluator records.

Must not: import or call the candidate, run processes, or use any number the candidate reported.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from adrs.problemkit import EXCEPTION, INVALID_OUTPUT
from evaluators.llm_routing import scoring
from evaluators.llm_routing.anchors import anchor
from evaluators.llm_routing.probe import Twin, plan_twins
from evaluators.llm_routing.replay import LogError, Replayed, replay
from evaluators.llm_routing.stages import LAYOUTS, StageTrace, stage_traces
from evaluators.llm_routing.workload import Trace, generate

Entry = tuple[str, int]  # ("run", trace index) or ("twin", twin index)


class Rejected(Exception):
    """The candidate's answers cannot be scored: recorded as a failure of `kind`."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass
class Plan:
    stage: str
    items: list[StageTrace]
    traces: list[Trace]
    twins: list[Twin]
    buckets: list[list[Entry]]
    payloads: list[dict]


def plan_stage(stage: str, processes: int) -> Plan:
    items = list(stage_traces(stage))
    traces = [generate(item.spec) for item in items]
    twins = plan_twins(stage, items, traces)
    buckets = _buckets(stage, len(items), twins, max(2, processes))
    payloads = [{"runs": [_run_entry(items, traces, twins, entry) for entry in bucket]} for bucket in buckets]
    return Plan(stage, items, traces, twins, buckets, payloads)


def score_stage(plan: Plan, values: list[object]) -> dict:
    """Replay and score the values the candidate processes returned (one per payload, in order)."""
    answers: dict[Entry, list] = {}
    for bucket, value in zip(plan.buckets, values, strict=True):
        answers.update(zip(bucket, _parse(value, bucket, plan), strict=True))
    started = time.perf_counter()
    replays = [
        _replay(item, trace, answers["run", index], None, None)
        for index, (item, trace) in enumerate(zip(plan.items, plan.traces, strict=True))
    ]
    violation, compared = None, 0
    for number, twin in enumerate(plan.twins):
        found, count = _compare_twin(
            plan.items[twin.original],
            plan.traces[twin.original],
            twin,
            answers["run", twin.original],
            answers["twin", number],
        )
        violation = violation or found
        compared += count
    replay_s = time.perf_counter() - started
    results = [
        scoring.measure(item, LAYOUTS[item.layout], trace, replayed.outcome, anchor(item))
        for item, trace, replayed in zip(plan.items, plan.traces, replays, strict=True)
    ]
    summary = scoring.summarise(results, violation, compared)
    summary["metrics"]["replay_s"] = round(replay_s, 3)
    return summary


def _buckets(stage: str, count: int, twins: list[Twin], processes: int) -> list[list[Entry]]:
    buckets: list[list[Entry]] = [[] for _ in range(min(processes, count + len(twins)))]
    for index in range(count):
        buckets[index % len(buckets)].append(("run", index))
    for number, twin in enumerate(twins):
        buckets[(twin.original + 1) % len(buckets)].append(("twin", number))
    order = random.Random(f"llm_routing-order-{stage}")
    for bucket in buckets:
        order.shuffle(bucket)
    return [bucket for bucket in buckets if bucket]


def _run_entry(items: list[StageTrace], traces: list[Trace], twins: list[Twin], entry: Entry) -> dict:
    kind, index = entry
    original = index if kind == "run" else twins[index].original
    trace = traces[index] if kind == "run" else twins[index].trace
    return {"layout": items[original].layout, "seed": original, "trace": trace.to_payload()}


def _parse(value: object, bucket: list[Entry], plan: Plan) -> list[list]:
    if not isinstance(value, dict):
        raise Rejected(INVALID_OUTPUT, "the driver's answer is not an object")
    error = value.get("error")
    if error is not None:
        index = error.get("index") if isinstance(error, dict) else None
        if type(index) is not int or not 0 <= index < len(bucket):
            raise Rejected(INVALID_OUTPUT, "malformed error record from the candidate process")
        kind, number = bucket[index]
        name = plan.items[number if kind == "run" else plan.twins[number].original].spec.name
        where = name if kind == "run" else f"a probe twin of {name} (same requests up to a cut time)"
        failure = INVALID_OUTPUT if error.get("kind") == "invalid" else EXCEPTION
        raise Rejected(failure, f"the policy failed on trace {where}: {str(error.get('message', ''))[:3000]}")
    runs = value.get("runs")
    if not isinstance(runs, list) or len(runs) != len(bucket):
        raise Rejected(INVALID_OUTPUT, f"expected {len(bucket)} runs from the candidate process")
    out = []
    for run in runs:
        answers = run.get("answers") if isinstance(run, dict) else None
        if not isinstance(answers, list):
            raise Rejected(INVALID_OUTPUT, "a run's answer log is not a list")
        out.append(answers)
    return out


def _replay(
    item: StageTrace, trace: Trace, answers: list, marks, stop_after: int | None, stop_at_reveal: bool = False
) -> Replayed:
    try:
        return replay(LAYOUTS[item.layout], trace, answers, marks, stop_after, stop_at_reveal)
    except LogError as exc:
        raise Rejected(
            INVALID_OUTPUT,
            f"trace {item.spec.name}: the answer log does not replay: {exc} (was the "
            "simulator in the candidate's process changed?)",
        ) from None


def _compare_twin(
    item: StageTrace, trace: Trace, twin: Twin, original_answers: list, twin_answers: list
) -> tuple[str | None, int]:
    """(violation or None, questions compared). Replays both runs only as far as needed."""
    original = _replay(item, trace, original_answers, twin.original_marks, None, stop_at_reveal=True)
    first_original = original.outcome.reveal_call
    limit = first_original if first_original is not None else original.decider.calls
    replayed = _replay(item, twin.trace, twin_answers, twin.twin_marks, limit)
    first_twin = replayed.outcome.reveal_call
    compared = min(limit, replayed.decider.calls, first_twin if first_twin is not None else limit)
    mine = original.decider.answers_before(compared)
    theirs = replayed.decider.answers_before(compared)
    if mine == theirs:
        return None, compared
    at = next((i for i, (a, b) in enumerate(zip(mine, theirs, strict=False)) if a != b), min(len(mine), len(theirs)))
    change = (
        f"other arrivals after t={twin.cut_s:.1f} s"
        if twin.kind == "arrivals"
        else f"longer outputs for a few requests arriving after t={twin.cut_s:.1f} s"
    )
    return (
        f"trace {item.spec.name} and a twin that differs only in its future ({change}) got different "
        f"answers before any difference was visible (log entry {at}): the policy uses future or hidden "
        "information, state kept across traces, or unseeded randomness",
        compared,
    )
