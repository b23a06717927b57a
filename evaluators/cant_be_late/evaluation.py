"""One evaluation of a cant_be_late policy: feed it tick by tick, replay its requests, score the replay.

Flow: the stage's workload (workload.py) runs in interactive candidate sessions that receive each
tick's availability only when the tick begins (feed.py: one env per session on real traces, on
that env's clock); the answers are shape-checked into action logs, the requested types are
replayed against the traces with the simulator's guards (replay.py), and the replay alone decides
cost, deadline and score (report.py).

Must not: import or call the candidate in this process, or use any number the candidate reported.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from adrs.problemkit import EXCEPTION, CandidateError
from evaluators.cant_be_late import feed, logs, report
from evaluators.cant_be_late.replay import Replay, replay
from evaluators.cant_be_late.workload import Simulation, stage_workload


def evaluate_stage(
    program_path: str | os.PathLike,
    driver: Path,
    stage: str,
    workdir: str | os.PathLike | None,
    data_dir: str | os.PathLike | None,
) -> dict:
    workload = stage_workload(stage, data_dir)
    run_logs, session_wall_s = feed.run_stage(program_path, driver, workload, workdir)
    started = time.perf_counter()
    outcome = replay_runs(workload.simulations, run_logs)
    replay_s = time.perf_counter() - started
    summary = report.summarise(workload, outcome, run_logs)
    summary["metrics"]["candidate_wall_s"] = round(session_wall_s, 3)
    summary["metrics"]["replay_s"] = round(replay_s, 3)
    return summary


def replay_runs(simulations: tuple[Simulation, ...], run_logs: list[logs.RunLog]) -> Replay:
    """The trusted replay of every scored run; a log shorter than needed continues on ON_DEMAND."""
    ticks = max(len(sim.trace.bits) for sim in simulations)
    unavailable = _matrix([sim.trace.bits.ljust(ticks, "1") for sim in simulations], ticks) == 1
    requests = _matrix([log.requests[:ticks].ljust(ticks, "2") for log in run_logs], ticks)
    outcome = replay(
        unavailable,
        requests,
        np.array([sim.deadline_hours * 3600 for sim in simulations]),
        np.array([sim.overhead_hours * 3600 for sim in simulations]),
        simulations[0].duration_hours * 3600,
    )
    for sim, end_tick in zip(simulations, outcome.end_tick.tolist(), strict=True):
        if end_tick >= len(sim.trace.bits):
            raise CandidateError(
                EXCEPTION,
                f"simulation {sim.label}: the job was not finished when the trace ran out "
                f"({len(sim.trace.bits)} ticks); the original simulator fails the whole evaluation",
            )
    return outcome


def _matrix(rows: list[str], ticks: int) -> np.ndarray:
    return (np.frombuffer("".join(rows).encode(), dtype=np.uint8).reshape(len(rows), ticks) - ord("0")).astype(np.int8)
