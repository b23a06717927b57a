"""Which simulations each stage runs: traces (real or synthetic) crossed with the job configurations.

Stages: quick = 5 traces per env (every 6th of the scored 30) x 6 configurations = 180 runs;
full = the leaderboard's 6 envs x 30 traces x 2 deadlines x 3 overheads = 1080 runs; holdout =
8 envs x 15 traces never scored during evolution x 6 configurations = 720 runs. With real data the
traces come from the tarballs (real_traces.py), otherwise from the fitted synthetic model with the
problem's fixed seed (synthetic.py; the holdout draws from another split of that seed).

Must not: run anything, or depend on evaluate()'s `seed` (workloads are fixed by the problem).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from adrs.problemkit import find_data
from evaluators.cant_be_late import real_traces, rules, synthetic
from evaluators.cant_be_late.real_traces import Trace

STAGES = ("quick", "full", "holdout")
QUICK_EVERY = 6  # quick keeps traces 0, 6, 12, 18, 24 of each env's scored 30
PROBLEM_SUBDIR = "cant_be_late"


@dataclass(frozen=True)
class Simulation:
    trace: Trace
    deadline_hours: float
    overhead_hours: float
    duration_hours: float = rules.TASK_HOURS

    @property
    def scenario(self) -> str:
        """The group the feedback reports per-scenario costs for (env x job configuration)."""
        return f"{self.trace.env} dl{self.deadline_hours:g} o{self.overhead_hours:g}"

    @property
    def label(self) -> str:
        return (
            f"{self.trace.env}/{self.trace.name} "
            f"(deadline {self.deadline_hours:g} h, overhead {self.overhead_hours:g} h)"
        )


@dataclass(frozen=True)
class Workload:
    stage: str
    source: str  # "real" or "synthetic"
    traces: dict[str, list[Trace]]  # env -> the stage's traces (probe twins borrow futures here)
    simulations: tuple[Simulation, ...]


def data_folder(data_dir: str | os.PathLike | None) -> Path | None:
    """The folder holding the real traces, or None for the synthetic workload (see find_data).

    Either tarball will do for quick and full; this problem's folder holding neither is an error.
    """
    try:
        return find_data(data_dir, PROBLEM_SUBDIR, real_traces.SCORED_TARBALL)
    except FileNotFoundError as missing:
        try:
            return find_data(data_dir, PROBLEM_SUBDIR, real_traces.POOL_TARBALL)
        except FileNotFoundError:
            raise missing from None


def stage_traces(stage: str, folder: Path | None) -> dict[str, list[Trace]]:
    if stage not in STAGES:
        raise ValueError(f"cant_be_late has no stage {stage!r}; stages: {', '.join(STAGES)}")
    if stage == "holdout":
        if folder is not None:
            return real_traces.holdout_traces(folder)
        envs = real_traces.SCORED_ENVS + real_traces.POOL_ONLY_ENVS
        return synthetic.synthetic_traces(envs, "holdout", real_traces.HOLDOUT_TRACES_PER_ENV)
    if folder is not None:
        traces = real_traces.scored_traces(folder)
    else:
        traces = synthetic.synthetic_traces(real_traces.SCORED_ENVS, "scored", real_traces.TRACES_PER_ENV)
    if stage == "quick":
        traces = {env: found[::QUICK_EVERY] for env, found in traces.items()}
    return traces


def stage_workload(stage: str, data_dir: str | os.PathLike | None) -> Workload:
    folder = data_folder(data_dir)
    traces = stage_traces(stage, folder)
    simulations = tuple(
        Simulation(trace, deadline, overhead)
        for env_traces in traces.values()
        for trace in env_traces
        for deadline, overhead in rules.JOB_CONFIGS
    )
    return Workload(stage, "synthetic" if folder is None else "real", traces, simulations)
