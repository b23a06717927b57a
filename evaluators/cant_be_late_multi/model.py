"""Records and constants of the multi-region spot problem: the job, a zone's trace, a simulation.

Owns: the job parameters of the leaderboard evaluator (48 h of work, 52 h deadline, 0.2 h restart
overhead, 195 s ticks), the price anchors of the score, the one-letter codes of the three cluster
types, and what the candidate process is told about a simulation (its zones' prices; availability
arrives tick by tick, feed.py).

Must not: simulate, score, or read files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# One-letter codes of the cluster types, used in action logs and in the machine.
NONE, SPOT, ON_DEMAND = "N", "S", "O"
TYPES = (NONE, SPOT, ON_DEMAND)

GAP_SECONDS = 195.0
TASK_HOURS = 48.0
DEADLINE_HOURS = 52.0
OVERHEAD_HOURS = 0.2
ON_DEMAND_PRICE = 3.06  # $/h, every zone is a single V100 (v100_1)

# Score anchors of the leaderboard evaluator: 3.06 x 48 and 0.9731 x 48 dollars.
OD_ANCHOR = 3.06 * TASK_HOURS
SPOT_ANCHOR = 0.9731 * TASK_HOURS

# Float tolerances of the original simulator (task done, overhead exhausted, guard).
DONE_TOLERANCE = 1e-8
OVERHEAD_TOLERANCE = 1e-3


@dataclass(frozen=True)
class Job:
    """The job every simulation runs. Seconds are derived exactly as the original does (h * 3600)."""

    task_hours: float = TASK_HOURS
    deadline_hours: float = DEADLINE_HOURS
    overhead_hours: float = OVERHEAD_HOURS
    gap_seconds: float = GAP_SECONDS

    @property
    def duration_s(self) -> float:
        return float(self.task_hours) * 3600.0

    @property
    def deadline_s(self) -> float:
        return self.deadline_hours * 3600

    @property
    def overhead_s(self) -> float:
        return self.overhead_hours * 3600

    def to_json(self) -> dict:
        return {
            "task_hours": self.task_hours,
            "deadline_hours": self.deadline_hours,
            "overhead_hours": self.overhead_hours,
            "gap_seconds": self.gap_seconds,
        }

    @classmethod
    def from_json(cls, data: dict) -> Job:
        return cls(**{k: float(data[k]) for k in ("task_hours", "deadline_hours", "overhead_hours", "gap_seconds")})


@dataclass(frozen=True)
class Rules:
    """Which leaderboard quirks the machine reproduces. The defaults close the loopholes.

    per_tick_billing: bill each tick at the zone it ran in (the original reprices every spot tick
        at the zone the job ends in).
    migration_restarts: moving a running job to another zone is a restart (pays the overhead); the
        original lets a job keep its type across zones for free.
    """

    per_tick_billing: bool = True
    migration_restarts: bool = True

    def to_json(self) -> dict:
        return {"per_tick_billing": self.per_tick_billing, "migration_restarts": self.migration_restarts}

    @classmethod
    def from_json(cls, data: dict) -> Rules:
        return cls(per_tick_billing=bool(data["per_tick_billing"]), migration_restarts=bool(data["migration_restarts"]))


LEADERBOARD_RULES = Rules(per_tick_billing=False, migration_restarts=False)


@dataclass(frozen=True)
class ZoneTrace:
    """One zone's availability for one trace window. available[t] is True when spot can run in tick t."""

    zone: str
    available: tuple[bool, ...]
    spot_price: float  # $/h, constant over the run (the first price of the trace file)
    on_demand_price: float = ON_DEMAND_PRICE
    start: str = ""  # when the window starts (the file's metadata.start_time; "" for synthetic windows)


@dataclass(frozen=True)
class Simulation:
    """One run of the job: a scenario (ordered zones, index 0 starts) on one trace window."""

    scenario: str
    trace_index: int
    zones: tuple[ZoneTrace, ...]
    key: str = ""  # opaque id (it must not reveal scenario or trace)

    @property
    def label(self) -> str:
        return f"{self.scenario}/trace {self.trace_index}"

    @property
    def length(self) -> int:
        return min(len(z.available) for z in self.zones)

    def prices(self) -> list[list[float]]:
        """What the candidate process is told when the run starts: each zone's prices, no names."""
        return [[z.spot_price, z.on_demand_price] for z in self.zones]

    def unavailable(self, tick: int) -> str:
        """One tick's availability, "1" where spot is NOT available (the trace files' convention)."""
        return "".join("1" if not z.available[tick] else "0" for z in self.zones)


@dataclass
class RunOutcome:
    """What the trusted replay found for one simulation."""

    label: str
    cost: float = 0.0  # $, under the evaluation's rules
    cost_final_zone_billing: float = 0.0  # $, as the leaderboard prices it (every tick at the last zone)
    end_tick: int = 0
    finish_hours: float = 0.0
    deadline_met: bool = True
    spot_hours: float = 0.0
    on_demand_hours: float = 0.0
    region_switches: int = 0
    infeasible: str = ""  # why the run cannot be scored (empty when it can)
    tampered: list[str] = field(default_factory=list)  # disagreements between claims and replay
