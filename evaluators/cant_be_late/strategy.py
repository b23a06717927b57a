"""What a cant_be_late policy sees: ClusterType, the Strategy base class, the env and task views.

Candidates import this module (`from evaluators.cant_be_late.strategy import ClusterType, Strategy`)
in place of the original `sky_spot.strategies.strategy` / `sky_spot.utils`; names and attributes
follow the ADRS-Leaderboard simulator so its programs port by changing those two imports.

Exposes only what the spec lists as readable: the env view knows the tick, the gap and the current
cluster type, never the availability trace. Runs inside the candidate's process: nothing here is
trusted for scoring (the trusted side replays the action log).

Must not: hold or reach the trace, compute costs, or import anything heavy.
"""

from __future__ import annotations

import enum
from typing import Any

from evaluators.cant_be_late import rules


class ClusterType(enum.Enum):
    """What runs during the next tick. Values are the action codes of the action log."""

    NONE = rules.NONE
    SPOT = rules.SPOT
    ON_DEMAND = rules.ON_DEMAND


class EnvView:
    """The simulator state a policy may read (set by the simulator before every decision)."""

    __slots__ = ("gap_seconds", "tick", "cluster_type")

    def __init__(self, gap_seconds: float):
        self.gap_seconds = gap_seconds
        self.tick = 0
        self.cluster_type = ClusterType.NONE  # the type running now, after any preemption

    @property
    def elapsed_seconds(self) -> float:
        return self.tick * self.gap_seconds


class Task:
    """The single job of a simulation; progress is read from the strategy's task_done_time."""

    def __init__(self, duration_hours: float):
        self.duration_hours = duration_hours
        self._progress: list[float] = []

    def set_progress_source(self, task_done_time: list[float]) -> None:
        self._progress = task_done_time

    def get_total_duration_hours(self) -> float:
        return self.duration_hours

    def get_total_duration_seconds(self) -> float:
        return self.duration_hours * 3600

    @property
    def is_done(self) -> bool:
        return self.get_total_duration_seconds() - sum(self._progress) <= rules.DONE_TOLERANCE_S


class Strategy:
    """Base class of a policy: subclass it and implement `_step(last_cluster_type, has_spot)`.

    One instance is built per simulation (through `_from_args`), then `reset(env, task)` fills the
    readable state: `env` (EnvView), `deadline`, `task_duration`, `restart_overhead` (seconds),
    `task_done_time` (seconds of useful work credited per finished tick) and
    `remaining_restart_overhead` (seconds of restart overhead still to pay).
    """

    NAME = "abstract"

    def __init__(self, args: Any):
        self.args = args

    def reset(self, env: EnvView, task: Task) -> None:
        args = self.args
        self.env = env
        self.task = task
        self.deadline: float = args.deadline_hours * 3600
        self.task_duration: float = task.get_total_duration_seconds()
        self.restart_overheads: list[float] = [hours * 3600 for hours in args.restart_overhead_hours]
        self.restart_overhead: float = self.restart_overheads[0]
        self.task_done_time: list[float] = []
        task.set_progress_source(self.task_done_time)
        self.remaining_restart_overhead: float = 0.0

    def _step(self, last_cluster_type: ClusterType, has_spot: bool) -> ClusterType:
        """Choose the type for the tick about to start. `last_cluster_type` ran during the tick
        that just ended (before any preemption); `has_spot`: spot is available for the next tick."""
        raise NotImplementedError

    @property
    def task_done(self) -> bool:
        return self.task.is_done

    @property
    def name(self) -> str:
        return self.NAME

    @classmethod
    def _from_args(cls, parser: Any) -> Strategy:
        args, _ = parser.parse_known_args()
        return cls(args)
