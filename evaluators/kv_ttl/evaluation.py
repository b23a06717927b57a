"""One evaluation of a KV-TTL policy, in two halves around the candidate processes.

`plan_stage` builds the stage's agent traces (stages.py, workload.py) plus one probe twin
(probe.py) and splits them over as many candidate processes as asked (at least two, so the twin
never shares a process with its original), each in a seeded shuffled order. The problem's
evaluator runs the payloads through the trusted harness; each process runs the driver, which
simulates its traces with the policy in the loop and returns the answer logs (episode.py).
`score_stage` replays every log on the trusted engine (replay.py), which alone decides every figure
(scoring.py), and compares the twin's answers with the original's up to the first visible
difference.

A broken or dishonest answer raises `Rejected` with the failure kind the evaluator records.

Must not: import or call the candidate, run processes, or use any number the candidate reported.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from adrs.problemkit import EXCEPTION, INVALID_OUTPUT
from evaluators.kv_ttl import scoring
from evaluators.kv_ttl.anchors import anchor
from evaluators.kv_ttl.probe import Twin, plan_twin
from evaluators.kv_ttl.replay import LogError, Replayed, replay
from evaluators.kv_ttl.stages import SETUPS, stage_specs
from evaluators.kv_ttl.workload import AgentSpec, AgentTrace, generate

Entry = tuple[str, int]  # ("run", trace index) or ("twin", 0)


class Rejected(Exception):
    """The candidate's answers cannot be scored: recorded as a failure of `kind`."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass
class Plan:
    stage: str
    specs: list[AgentSpec]
    traces: list[AgentTrace]
    twin: Twin
    buckets: list[list[Entry]]
    payloads: list[dict]


def plan_stage(stage: str, processes: int) -> Plan:
    specs = list(stage_specs(stage))
    traces = [generate(spec) for spec in specs]
    twin = plan_twin(stage, specs, traces)
    buckets: list[list[Entry]] = [[] for _ in range(min(max(2, processes), len(specs) + 1))]
    for index in range(len(specs)):
        buckets[index % len(buckets)].append(("run", index))
    buckets[(twin.original + 1) % len(buckets)].append(("twin", 0))
    order = random.Random(f"kv_ttl-order-{stage}")
    for bucket in buckets:
        order.shuffle(bucket)
    buckets = [bucket for bucket in buckets if bucket]
    payloads = [{"runs": [_run_entry(traces, twin, entry) for entry in bucket]} for bucket in buckets]
    return Plan(stage, specs, traces, twin, buckets, payloads)


def _run_entry(traces: list[AgentTrace], twin: Twin, entry: Entry) -> dict:
    kind, index = entry
    original = index if kind == "run" else twin.original
    trace = traces[index] if kind == "run" else twin.trace
    return {"seed": original, "trace": trace.to_payload()}


def score_stage(plan: Plan, values: list[object]) -> dict:
    """Replay and score the values the candidate processes returned (one per payload, in order)."""
    answers: dict[Entry, list] = {}
    for bucket, value in zip(plan.buckets, values, strict=True):
        answers.update(zip(bucket, _parse(value, bucket, plan), strict=True))
    started = time.perf_counter()
    replays: list[Replayed] = []
    for index, (spec, trace) in enumerate(zip(plan.specs, plan.traces, strict=True)):
        marks = plan.twin.original_marks if index == plan.twin.original else None
        replays.append(_replay(spec, trace, answers["run", index], marks, None))
    violation, compared = _compare_twin(
        plan.specs[plan.twin.original], plan.twin, replays[plan.twin.original], answers["twin", 0]
    )
    replay_s = time.perf_counter() - started
    results = [
        scoring.measure(spec, SETUPS[spec.setup], trace, replayed.outcome, anchor(spec))
        for spec, trace, replayed in zip(plan.specs, plan.traces, replays, strict=True)
    ]
    summary = scoring.summarise(results, violation, compared)
    summary["metrics"]["replay_s"] = round(replay_s, 3)
    return summary


def _parse(value: object, bucket: list[Entry], plan: Plan) -> list[list]:
    if not isinstance(value, dict):
        raise Rejected(INVALID_OUTPUT, "the driver's answer is not an object")
    error = value.get("error")
    if error is not None:
        index = error.get("index") if isinstance(error, dict) else None
        if type(index) is not int or not 0 <= index < len(bucket):
            raise Rejected(INVALID_OUTPUT, "malformed error record from the candidate process")
        kind, number = bucket[index]
        name = plan.specs[number if kind == "run" else plan.twin.original].name
        where = name if kind == "run" else f"a probe twin of {name} (same programs up to a cut time)"
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


def _replay(spec: AgentSpec, trace: AgentTrace, answers: list, marks, stop_after: int | None) -> Replayed:
    try:
        return replay(SETUPS[spec.setup], trace, answers, marks, stop_after)
    except LogError as exc:
        raise Rejected(
            INVALID_OUTPUT,
            f"trace {spec.name}: the answer log does not replay: {exc} (was the engine "
            "in the candidate's process changed?)",
        ) from None


def _compare_twin(spec: AgentSpec, twin: Twin, original: Replayed, twin_answers: list) -> tuple[str | None, int]:
    """(violation or None, questions compared). Replays the twin only as far as needed."""
    first_original = original.outcome.reveal_call
    limit = first_original if first_original is not None else original.decider.calls
    replayed = _replay(spec, twin.trace, twin_answers, twin.twin_marks, limit)
    first_twin = replayed.outcome.reveal_call
    compared = min(limit, replayed.decider.calls, first_twin if first_twin is not None else limit)
    mine = original.decider.answers[:compared]
    theirs = replayed.decider.answers[:compared]
    if mine == theirs:
        return None, compared
    at = next((i for i, (a, b) in enumerate(zip(mine, theirs, strict=False)) if a != b), min(len(mine), len(theirs)))
    return (
        f"trace {spec.name} and a twin that differs only in the future (other programs from the {twin.cut}th on, "
        f"other tool durations and turn counts for some programs) got different answers before any difference "
        f"was visible (question {at}): the policy uses future or hidden information, state kept across traces, "
        "or unseeded randomness",
        compared,
    )
