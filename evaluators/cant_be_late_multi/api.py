"""What a candidate policy imports: ClusterType, the Strategy base classes and the views it reads.

Owns: an interface close to the leaderboard simulator's (`sky_spot.strategies.multi_strategy.
MultiRegionStrategy`, `sky_spot.utils.ClusterType`), so leaderboard programs port by changing
their imports. A policy subclasses MultiRegionStrategy, defines NAME, `_from_args(parser)` and
`_step(last_cluster_type, has_spot) -> ClusterType`, and reads:

  self.env: elapsed_seconds, gap_seconds, tick, cluster_type, get_num_regions(),
      get_current_region(), switch_region(i), spot_available(), spot_available_in_region(i),
      get_all_regions_spot_available(), get_all_regions_spot_prices(),
      get_all_regions_ondemand_prices(), get_constant_cost_map(), get_price()
  self.task_duration, self.task_done_time, self.deadline, self.restart_overhead,
  self.remaining_restart_overhead (seconds)

The views answer for the current tick only: no future availability is reachable through them.

Runs inside the candidate process. Must not: hold trace data beyond the current tick, or decide
anything the trusted replay relies on (the simulator state here is rewritten every tick, and the
replay recomputes everything from the action log).
"""

from __future__ import annotations

import argparse
import enum
import operator
from typing import Any


class ClusterType(enum.Enum):
    NONE = enum.auto()
    SPOT = enum.auto()
    ON_DEMAND = enum.auto()


class InvalidRegionError(AssertionError):
    """switch_region() was given a region that does not exist (the original asserts, too)."""


class RegionEnv:
    """The environment a policy sees. The simulator rewrites its fields before every decision."""

    def __init__(
        self,
        gap_seconds: float,
        spot_prices: list[float],
        on_demand_prices: list[float],
        deadline_hours: float = 52.0,
        overhead_hours: float = 0.2,
    ):
        self.gap_seconds = gap_seconds
        # The job's settings, for strategies built without the simulator's argument namespace.
        self._job_hours = {"deadline_hours": deadline_hours, "restart_overhead_hours": [overhead_hours]}
        self.tick = 0
        self.cluster_type = ClusterType.NONE
        self._num_regions = len(spot_prices)
        self._spot_prices = list(spot_prices)
        self._on_demand_prices = list(on_demand_prices)
        self._region = 0
        self._available_now: tuple[bool, ...] = (False,) * self._num_regions

    @property
    def elapsed_seconds(self) -> float:
        return self.tick * self.gap_seconds

    def get_num_regions(self) -> int:
        return self._num_regions

    def get_current_region(self) -> int:
        return self._region

    def switch_region(self, region_idx: int) -> bool:
        """Move the job's region pointer; takes effect for the decision being made."""
        try:
            index = operator.index(region_idx)
        except TypeError:
            raise InvalidRegionError(f"region index must be an integer, got {region_idx!r}") from None
        if not 0 <= index < self._num_regions:
            raise InvalidRegionError(
                f"region {index} does not exist: this scenario has regions 0..{self._num_regions - 1}"
            )
        self._region = index
        return True

    def spot_available(self) -> bool:
        return self._available_now[self._region]

    def spot_available_in_region(self, region_idx: int) -> bool:
        index = operator.index(region_idx)
        if not 0 <= index < self._num_regions:
            raise InvalidRegionError(f"region {index} out of range 0..{self._num_regions - 1}")
        return self._available_now[index]

    def get_all_regions_spot_available(self) -> list[bool]:
        return list(self._available_now)

    def get_all_regions_spot_prices(self) -> list[float | None]:
        """Spot price of each region now ($/h), None where spot is unavailable."""
        return [p if a else None for p, a in zip(self._spot_prices, self._available_now, strict=True)]

    def get_all_regions_ondemand_prices(self) -> list[float]:
        return list(self._on_demand_prices)

    def get_constant_cost_map(self) -> dict[ClusterType, float]:
        """Prices of the current region ($/h); the job is billed these in the region it runs in."""
        return {
            ClusterType.ON_DEMAND: self._on_demand_prices[self._region],
            ClusterType.SPOT: self._spot_prices[self._region],
            ClusterType.NONE: 0.0,
        }

    def get_price(self) -> dict[ClusterType, float]:
        return self.get_constant_cost_map()


class JobTask:
    """The task a policy sees: its total duration and whether it is done."""

    def __init__(self, duration_seconds: float):
        self._duration = duration_seconds
        self._done = 0.0

    def get_total_duration_seconds(self) -> float:
        return self._duration

    def get_total_duration_hours(self) -> float:
        return self._duration / 3600.0

    def get_current_progress_seconds(self) -> float:
        return self._done

    def get_remaining_duration_seconds(self) -> float:
        return max(0.0, self._duration - self._done)

    @property
    def is_done(self) -> bool:
        return self.get_remaining_duration_seconds() <= 1e-8


class Strategy:
    """Base of every policy. Only `reset` and `_step` are called by the simulator."""

    NAME = "abstract"
    SUBCLASSES: dict[str, type[Strategy]] = {}

    def __init__(self, args: Any = None):
        self.args = args

    def __init_subclass__(cls, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        if cls.NAME != "abstract":
            cls.SUBCLASSES[cls.NAME] = cls

    def reset(self, env: RegionEnv, task: JobTask) -> None:
        args = self.args
        self.task = task
        self.env = env
        self.deadline = getattr(args, "deadline_hours", env._job_hours["deadline_hours"]) * 3600
        self.task_duration = task.get_total_duration_seconds()
        overheads = getattr(args, "restart_overhead_hours", env._job_hours["restart_overhead_hours"])
        self.restart_overheads: list[float] = [oh * 3600 for oh in overheads]
        self.restart_overhead: float = self.restart_overheads[0]
        self.inter_task_overheads: list[float] = [oh * 3600 for oh in getattr(args, "inter_task_overhead", [0.0])]
        self.inter_task_overhead: float = self.inter_task_overheads[0]
        self.task_done_time: list[float] = []
        self.remaining_restart_overhead: float = 0.0

    def _step(self, last_cluster_type: ClusterType, has_spot: bool) -> ClusterType:
        raise NotImplementedError

    @property
    def task_done(self) -> bool:
        return self.task.is_done

    @property
    def name(self) -> str:
        return self.NAME

    @classmethod
    def _from_args(cls, parser: argparse.ArgumentParser) -> Strategy:
        raise NotImplementedError


class MultiRegionStrategy(Strategy):
    """Base of multi-region policies (region switch overhead: 0, as in the leaderboard evaluator)."""

    NAME = "multi_region_strategy"

    def __init__(self, args: Any = None):
        super().__init__(args)
        self.last_startup_region: int | None = None
        self.migration_overhead_seconds = getattr(args, "region_switch_overhead_hours", 0.0) * 3600

    @classmethod
    def _from_args(cls, parser: argparse.ArgumentParser) -> MultiRegionStrategy:
        group = parser.add_argument_group(cls.NAME)
        group.add_argument("--region-switch-overhead-hours", type=float, default=0.0)
        group.add_argument("--inter-task-overhead", type=float, default=[0.0], nargs="+")
        args, _ = parser.parse_known_args()
        return cls(args)
