"""The trusted side of a cant_be_late_multi stage: availability fed tick by tick, decisions collected.

A policy may decide only on what its run has shown so far. The old causality audits tested that
on six runs per stage; now it holds by construction: the runs are split into interactive sessions
(adrs.problemkit.SessionGroup), each one candidate process running its runs in lockstep
(candidate_sim.Lockstep), and a tick's availability reaches the process only when that tick
begins, for every run at once.

Which runs share a session: those of one window index whose zones' windows all start at the same
moment (the real traces are "aligned": window i starts at the same time in every zone; synthetic
windows are independent draws, one per index). They advance on one clock, so whatever one run
shows another is the same moment. Windows of different indices never share a session (they cover
other days of the same zones).

Owns: planning the sessions, each tick's message, assembling each run's action log record (the
shape replay.check_record validates). Must not: score, or trust an answer beyond its shape.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from adrs.problemkit import INVALID_OUTPUT, NONZERO_EXIT, CandidateError, CandidateSession, SessionGroup
from evaluators.cant_be_late_multi.model import Job, Rules, Simulation

SESSION_SEED = 1031  # seeds `random` (and numpy's) in every session, per session
PARALLEL_PER_CPU = 3  # sessions wait on round trips as much as they compute


@dataclass
class _Run:
    sim: Simulation
    kinds: list[str] = field(default_factory=list)
    regions: list[int] = field(default_factory=list)
    summary: dict | None = None

    def record(self) -> dict:
        """The record replay.check_record validates (summary fields are the candidate's claims)."""
        summary = self.summary or {}
        return {
            "key": self.sim.key,
            "types": "".join(self.kinds),
            "regions": self.regions,
            "claimed": summary.get("claimed"),
            "notes": summary.get("notes", []),
            "error": summary.get("error"),
        }


def plan_sessions(sims: list[Simulation]) -> list[list[Simulation]]:
    """Runs grouped by window index and start time (a run whose zones start apart stays alone)."""
    groups: dict[tuple, list[Simulation]] = {}
    for sim in sims:
        starts = {zone.start for zone in sim.zones}
        key = (sim.trace_index, starts.pop()) if len(starts) == 1 else (sim.trace_index, sim.key)
        groups.setdefault(key, []).append(sim)
    return list(groups.values())


def run_stage(
    program_path: str | os.PathLike,
    driver: Path,
    sims: list[Simulation],
    job: Job,
    rules: Rules,
    workdir: str | os.PathLike | None,
) -> tuple[dict[str, dict], float]:
    """Every run's record by key, and the longest session's wall time."""
    plans = plan_sessions(sims)
    setup = {"job": job.to_json(), "rules": rules.to_json()}
    with SessionGroup(program_path, driver, workdir=workdir) as group:

        def converse(numbered: tuple[int, list[Simulation]]) -> tuple[dict[str, dict], float]:
            number, plan = numbered
            with group.open({**setup, "seed": SESSION_SEED + number}) as session:
                return _feed(session, plan), session.wall_s

        answers = group.map(converse, list(enumerate(plans)), parallel=PARALLEL_PER_CPU * (os.cpu_count() or 1))
    records: dict[str, dict] = {}
    for found, _ in answers:
        records.update(found)
    return records, max((wall for _, wall in answers), default=0.0)


def _feed(session: CandidateSession, plan: list[Simulation]) -> dict[str, dict]:
    runs = [_Run(sim) for sim in plan]  # key in messages = position here
    active = list(range(len(runs)))
    added = list(active)
    tick = 0
    while active:
        dropped = [key for key in active if tick >= runs[key].sim.length]
        active = [key for key in active if key not in dropped]
        message = {
            "add": [[key, runs[key].sim.prices()] for key in added],
            "drop": dropped,
            "bits": [runs[key].sim.unavailable(tick) for key in active],
        }
        reply = session.call(message)
        if not reply.ok:
            raise CandidateError(reply.error_kind or NONZERO_EXIT, reply.error)
        active = _read(reply.value, runs, active, dropped)
        added = []
        tick += 1
    return {run.sim.key: run.record() for run in runs}


def _read(answer: object, runs: list[_Run], active: list[int], dropped: list[int]) -> list[int]:
    """Record one tick's answer; the runs still active afterwards."""
    if (
        not isinstance(answer, dict)
        or not isinstance(answer.get("codes"), list)
        or len(answer["codes"]) != len(active)
        or not isinstance(answer.get("ended"), dict)
    ):
        raise CandidateError(
            INVALID_OUTPUT, f"the answer to a tick must hold {len(active)} codes and the runs that ended"
        )
    ended = answer["ended"]
    for key in dropped:
        runs[key].summary = _summary(ended.get(str(key)))
    still = []
    for key, code in zip(active, answer["codes"], strict=True):
        if code is not None:
            if not (
                isinstance(code, list)
                and len(code) == 2
                and isinstance(code[0], str)
                and len(code[0]) == 1
                and type(code[1]) is int
            ):
                raise CandidateError(INVALID_OUTPUT, f"a tick's code must be [type, region], not {str(code)[:80]}")
            runs[key].kinds.append(code[0])
            runs[key].regions.append(code[1])
        if str(key) in ended:
            runs[key].summary = _summary(ended[str(key)])
        elif code is None:
            raise CandidateError(INVALID_OUTPUT, "a run gave no decision and did not end")
        else:
            still.append(key)
    return still


def _summary(value: object) -> dict:
    return value if isinstance(value, dict) else {}
