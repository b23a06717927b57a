"""The trusted side of a cant_be_late stage: availability fed tick by tick, decisions collected.

A policy may decide only on what its run has shown so far. Instead of testing that (the old
causality probes caught a 1-tick peek from the simulator's frames in 0 of 54 runs), it holds by
construction: the candidate process never receives a tick's availability before that tick begins.
The runs of a stage are split into interactive sessions (adrs.problemkit.SessionGroup), each one
candidate process running many runs in lockstep (episode.Lockstep); one message per tick carries
the availability of that tick for every run then active, and the answer is every run's request.

Which runs may share a session, and on what clock:
- real traces: every env's windows are cut from ONE underlying trace (they overlap), so a session
  holds windows of one env only (up to ten, consecutive in time), and runs them on that trace's
  clock: a window joins when the clock reaches its start (metadata.start_time), so at any moment
  the process has seen the underlying trace up to that moment and no further, whichever window it
  came through. Windows
  of different envs never share a session (whether their clocks align is not known);
- synthetic traces are independent draws: any of them may share a session, all starting at tick 0.
The six job configurations of a trace are six runs on the same ticks.

Owns: planning the sessions, the message of each tick, reading the answers into RunLogs (the
shape the trusted replay takes). Must not: score, or trust an answer beyond its shape.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from adrs.problemkit import (
    EXCEPTION,
    INVALID_OUTPUT,
    NONZERO_EXIT,
    CandidateError,
    CandidateSession,
    SessionGroup,
)
from evaluators.cant_be_late.logs import RunLog
from evaluators.cant_be_late.rules import DONE
from evaluators.cant_be_late.workload import Simulation, Workload

_CODES = frozenset("012")
# Traces per session (each with its six runs). Narrow sessions keep each process's working set
# small (every tick touches every run of the session): measured 30 % less CPU than two wide ones.
TRACES_PER_SESSION = 10
PARALLEL_PER_CPU = 3
SESSION_SEED = 20_240_416  # seeds `random` (and numpy's) in every session, per session


@dataclass
class _Run:
    """What one run has answered so far (trusted side)."""

    sim: Simulation
    requests: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    ticks: int = 0
    finished: bool = False

    def log(self) -> RunLog:
        return RunLog("".join(self.requests), "".join(self.actions), self.ticks, self.finished)


def plan_sessions(workload: Workload, traces_per_session: int = TRACES_PER_SESSION) -> list[list[int]]:
    """Simulation indices per session: up to `traces_per_session` traces (all their runs) each;
    on real data the windows of one env only, consecutive in start time (they overlap: fewer ticks)."""
    sims = workload.simulations
    by_trace: dict[tuple[str, str], list[int]] = {}
    for index, sim in enumerate(sims):
        by_trace.setdefault((sim.trace.env, sim.trace.name), []).append(index)
    groups: dict[str, list[tuple[str, str]]] = {}
    for key in by_trace:
        env = key[0] if workload.source == "real" else ""  # synthetic traces are independent
        groups.setdefault(env, []).append(key)
    plans = []
    for keys in groups.values():
        keys.sort(key=lambda key: sims[by_trace[key][0]].trace.start)
        for first in range(0, len(keys), traces_per_session):
            plans.append([index for key in keys[first : first + traces_per_session] for index in by_trace[key]])
    return plans


def run_stage(
    program_path: str | os.PathLike, driver: Path, workload: Workload, workdir: str | os.PathLike | None
) -> tuple[list[RunLog], float]:
    """Every run's log, in the workload's order, and the longest session's wall time."""
    plans = plan_sessions(workload)
    with SessionGroup(program_path, driver, workdir=workdir) as group:

        def converse(numbered: tuple[int, list[int]]) -> tuple[dict[int, RunLog], float]:
            number, plan = numbered
            with group.open({"seed": SESSION_SEED + number}) as session:
                return _feed(session, workload, plan), session.wall_s

        # More sessions at once than CPUs: a session waits on round trips as much as it computes,
        # so on a busy machine running them side by side shortens the evaluation.
        answers = group.map(converse, list(enumerate(plans)), parallel=PARALLEL_PER_CPU * (os.cpu_count() or 1))
    logs: dict[int, RunLog] = {}
    for found, _ in answers:
        logs.update(found)
    return [logs[index] for index in range(len(workload.simulations))], max(wall for _, wall in answers)


def _feed(session: CandidateSession, workload: Workload, plan: list[int]) -> dict[int, RunLog]:
    """One session: advance its clock tick by tick until every run has finished or run out."""
    sims = workload.simulations
    order = sorted(plan, key=lambda index: (sims[index].trace.start, index))
    runs = [_Run(sims[index]) for index in order]  # key = position here
    pending = 0  # runs[pending:] have not joined yet
    active: list[int] = []
    clock = runs[0].sim.trace.start
    while pending < len(runs) or active:
        if not active and runs[pending].sim.trace.start > clock:
            clock = runs[pending].sim.trace.start  # nothing runs in between: skip ahead
        dropped = [key for key in active if clock - runs[key].sim.trace.start >= len(runs[key].sim.trace.bits)]
        for key in dropped:  # the trace ran out before the work was done
            runs[key].ticks = len(runs[key].sim.trace.bits)
        active = [key for key in active if key not in dropped]
        added = []
        while pending < len(runs) and runs[pending].sim.trace.start == clock:
            added.append(pending)
            pending += 1
        active += added
        if active:
            bits = "".join(runs[key].sim.trace.bits[clock - runs[key].sim.trace.start] for key in active)
            message = {
                "add": [
                    [key, runs[key].sim.deadline_hours, runs[key].sim.overhead_hours, runs[key].sim.duration_hours]
                    for key in added
                ],
                "drop": dropped,
                "bits": bits,
            }
            active = _answer(session, message, runs, active, clock)
        clock += 1
    return {index: run.log() for index, run in zip(order, runs, strict=True)}


def _answer(session: CandidateSession, message: dict, runs: list[_Run], active: list[int], clock: int) -> list[int]:
    """Record one tick's answer; the runs still active afterwards."""
    reply = session.call(message)
    if not reply.ok:
        raise CandidateError(reply.error_kind or NONZERO_EXIT, reply.error)
    codes = reply.value
    if isinstance(codes, dict) and "error" in codes:
        raise _policy_failed(codes["error"], runs)
    if not isinstance(codes, str) or len(codes) != 2 * len(active):
        raise CandidateError(INVALID_OUTPUT, f"the answer to a tick must be {2 * len(active)} action codes")
    still = []
    for position, key in enumerate(active):
        pair = codes[2 * position : 2 * position + 2]
        run = runs[key]
        if pair == DONE:
            run.ticks, run.finished = clock - run.sim.trace.start, True
        elif pair[0] in _CODES and pair[1] in _CODES:
            run.requests.append(pair[0])
            run.actions.append(pair[1])
            still.append(key)
        else:
            raise CandidateError(INVALID_OUTPUT, f"the answer to a tick holds {pair!r}, not two action codes 0/1/2")
    return still


def _policy_failed(error: object, runs: list[_Run]) -> CandidateError:
    if not (
        isinstance(error, dict)
        and isinstance(error.get("key"), int)
        and 0 <= error["key"] < len(runs)
        and isinstance(error.get("tick"), int)
        and isinstance(error.get("message"), str)
    ):
        return CandidateError(INVALID_OUTPUT, "malformed error record")
    tick = error["tick"]
    where = "before the first tick" if tick < 0 else f"at tick {tick}"
    return CandidateError(
        EXCEPTION,
        f"the policy failed in simulation {runs[error['key']].sim.label} {where}; any failing run fails "
        f"the evaluation, as in the original:\n{error['message']}",
    )
