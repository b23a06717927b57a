"""Reading the action logs that come back from candidate processes (untrusted JSON).

Owns: the shape check of the driver's answer ({"runs": [...]} or {"error": {...}}), turning it
into typed records or a recorded failure, and comparing a claimed log with the trusted replay.
A malformed answer is an `invalid_output` failure; a policy that raised is an `exception` failure
naming the simulation and tick, as the spec says (any failing run fails the evaluation).

Must not: trust any field beyond its shape: requests are replayed, everything else is only
compared with the replay.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adrs.problemkit import INVALID_OUTPUT, CandidateError
from evaluators.cant_be_late import rules

_ACTION_CHARS = str.maketrans("", "", "012")


@dataclass(frozen=True)
class RunLog:
    requests: str  # what the policy asked for at each tick
    actions: str  # what the in-process simulator says ran after the guards
    ticks: int  # billed ticks, as the in-process simulator counted them
    finished: bool


@dataclass(frozen=True)
class RunFailure:
    index: int  # position in the chunk's payload
    tick: int
    message: str


def parse_chunk(value: Any, runs: int, max_ticks: int) -> list[RunLog] | RunFailure:
    """The chunk's logs, or the failure it reports. Raises CandidateError on a malformed answer."""
    if not isinstance(value, dict):
        raise _invalid(f"the driver returned {type(value).__name__}, expected an object")
    if "error" in value:
        error = value["error"]
        if not (
            isinstance(error, dict)
            and _is_int(error.get("index"))
            and _is_int(error.get("tick"))
            and isinstance(error.get("message"), str)
            and 0 <= error["index"] < runs
        ):
            raise _invalid("malformed error record")
        return RunFailure(error["index"], error["tick"], error["message"])
    records = value.get("runs")
    if not isinstance(records, list) or len(records) != runs:
        raise _invalid(f"expected a list of {runs} runs")
    return [_parse_run(record, position, max_ticks) for position, record in enumerate(records)]


def _parse_run(record: Any, position: int, max_ticks: int) -> RunLog:
    if not isinstance(record, dict):
        raise _invalid(f"run {position} is not an object")
    requests, actions = record.get("requests"), record.get("actions")
    ticks, finished = record.get("ticks"), record.get("finished")
    for name, text in (("requests", requests), ("actions", actions)):
        if not isinstance(text, str) or len(text) > max_ticks or text.translate(_ACTION_CHARS):
            raise _invalid(f"run {position}: {name} must be a string of at most {max_ticks} codes 0/1/2")
    if not _is_int(ticks) or not 0 <= ticks <= max_ticks or not isinstance(finished, bool):
        raise _invalid(f"run {position}: bad ticks/finished")
    return RunLog(requests, actions, ticks, finished)


def first_disagreement(log: RunLog, replayed: str, finished: bool, trace: str) -> str | None:
    """Why the claimed log differs from the trusted replay (`replayed`: the types that ran in the
    billed ticks; `trace`: "1" where spot was unavailable), or None when they agree."""
    end_tick = len(replayed)
    claimed = log.actions[:end_tick]
    if claimed != replayed:
        pairs = enumerate(zip(claimed, replayed, strict=False))
        tick = next((t for t, (a, b) in pairs if a != b), len(claimed))
        reason = f"tick {tick}: the log says {_name(claimed, tick)} ran, the replay runs {_name(replayed, tick)}"
        if tick < len(claimed) and int(claimed[tick]) == rules.SPOT and trace[tick] == "1":
            reason += " (an invalid log: spot was not available then)"
        return reason
    if log.ticks != end_tick or log.finished != finished or len(log.actions) != end_tick:
        state = f"done after {end_tick} ticks" if finished else "not done when the trace ran out"
        return f"the log ends after {log.ticks} ticks, the replay is {state}"
    return None


def _name(codes: str, tick: int) -> str:
    return rules.ACTION_NAMES[int(codes[tick])] if tick < len(codes) else "nothing (log ended)"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _invalid(message: str) -> CandidateError:
    return CandidateError(INVALID_OUTPUT, f"the action log is malformed: {message}")
