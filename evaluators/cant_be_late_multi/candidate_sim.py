"""Runs a candidate policy inside the candidate process, one tick per message, and logs its actions.

Owns: building a fresh policy per simulation (the candidate module is re-executed so module and
class state cannot leak between runs, as in the original's one-process-per-run), feeding it the
observations of the tick machine as the trusted side sends each tick's availability (feed.py:
nothing of a later tick is ever in this process), answering each tick with the requested type and
region, and, when a run ends, what this side claims about it (end tick, applied types, cost) and
the writes the policy made to simulator state it may only read.

Everything returned is untrusted: the policy shares this process and can alter any of it. The
trusted side replays the action log (see replay.py) and compares the claims made here with its
own results. Must not: compute a score, or hold availability beyond the current tick.
"""

from __future__ import annotations

import argparse
import enum
import sys
import traceback
import types
from typing import Any

from evaluators.cant_be_late_multi import api
from evaluators.cant_be_late_multi.machine import Machine, TraceEnded
from evaluators.cant_be_late_multi.model import NONE, ON_DEMAND, SPOT, Job, Rules, ZoneTrace

_CODES = {"NONE": NONE, "SPOT": SPOT, "ON_DEMAND": ON_DEMAND}
_MEMBERS = {NONE: api.ClusterType.NONE, SPOT: api.ClusterType.SPOT, ON_DEMAND: api.ClusterType.ON_DEMAND}
MAX_NOTES = 5


class PolicyError(Exception):
    """The candidate broke the interface (no strategy class, a wrong return type)."""


class Run:
    """One simulation on the candidate side; its machine learns each tick's availability as it comes."""

    def __init__(self, code: types.CodeType, job: Job, rules: Rules, prices: list[list[float]]):
        zones = [
            ZoneTrace("", [], float(spot), float(on_demand))  # type: ignore[arg-type]
            for spot, on_demand in prices
        ]
        self.machine = Machine(job, zones, rules)
        self.machine.length = 0  # grows by one tick per message
        self.notes: list[str] = []
        self.decided: list | None = None
        self.strategy = _build_strategy(code, job)
        machine = self.machine
        self.env = api.RegionEnv(
            machine.gap, machine.spot_prices, machine.od_prices, job.deadline_hours, job.overhead_hours
        )
        self.task = api.JobTask(machine.duration)
        self.strategy.reset(self.env, self.task)

    def tick(self, unavailable: str) -> list:
        """This tick's decision: [type, region]; the machine is finished afterwards if the work is done."""
        machine = self.machine
        self.decided = None
        for zone, bit in zip(machine.available, unavailable, strict=True):
            zone.append(bit == "0")
        machine.length += 1
        last, has_spot = machine.observe()
        _expose(machine, self.strategy, self.env, self.task)
        decision = self.strategy._step(_MEMBERS[last], has_spot)
        kind = _code_of(decision)
        region = self.env._region if type(self.env._region) is int else -1
        _note_writes(machine, self.strategy, self.env, self.notes)
        self.decided = [kind, region]  # logged even if applying it fails (a region that does not exist)
        machine.apply(kind, region)
        return self.decided

    def summary(self, error: dict | None = None) -> dict:
        machine = self.machine
        return {
            "claimed": {"end_tick": machine.tick - 1, "applied": "".join(machine.applied), "cost": machine.cost()},
            "notes": self.notes,
            "error": error,
        }


class Lockstep:
    """The runs of one session, all advanced by one message per tick (the driver's state).

    Message: {"add": [[key, [[spot $/h, on-demand $/h] per zone]], ...], "drop": [keys],
    "bits": [one string per active run: "1" where spot is NOT available this tick, per zone]}.
    Dropped keys (their trace ran out) leave the active list, added ones join at the end; the
    answer: {"codes": [[type, region] or None per active run], "ended": {key: summary}} where a run
    ends when its work is done, when its policy failed (None, with the error in its summary), or
    when it was dropped.
    """

    def __init__(self, code: types.CodeType, job: Job, rules: Rules):
        self.code, self.job, self.rules = code, job, rules
        self.active: list[tuple[int, Run | None]] = []
        self.failed_start: dict[int, dict] = {}

    def tick(self, message: dict) -> dict:
        ended: dict[str, dict] = {}
        dropped = set(message["drop"])
        for key, run in self.active:
            if key in dropped and run is not None:
                error = {
                    "kind": "trace_ended",
                    "tick": run.machine.tick,
                    "message": f"the job is unfinished at tick {run.machine.tick}, the end of the trace",
                }
                ended[str(key)] = run.summary(error)
        self.active = [(key, run) for key, run in self.active if key not in dropped]
        for key, prices in message["add"]:
            try:
                self.active.append((key, Run(self.code, self.job, self.rules, prices)))
            except Exception as exc:
                self.active.append((key, None))
                self.failed_start[key] = _error(exc, -1)
        codes: list = []
        still = []
        for (key, run), unavailable in zip(self.active, message["bits"], strict=True):
            if run is None:
                codes.append(None)
                ended[str(key)] = {
                    "claimed": {"end_tick": -1, "applied": "", "cost": 0.0},
                    "notes": [],
                    "error": self.failed_start.pop(key),
                }
                continue
            try:
                codes.append(run.tick(unavailable))
            except TraceEnded as exc:
                codes.append(None)
                ended[str(key)] = run.summary({"kind": "trace_ended", "tick": run.machine.tick, "message": str(exc)})
                continue
            except Exception as exc:
                codes.append(run.decided)
                ended[str(key)] = run.summary(_error(exc, run.machine.tick))
                continue
            if run.machine.finished:
                ended[str(key)] = run.summary()
            else:
                still.append((key, run))
        self.active = still
        return {"codes": codes, "ended": ended}


def _error(exc: Exception, tick: int) -> dict:
    if isinstance(exc, api.InvalidRegionError):
        return {"kind": "invalid_region", "tick": tick, "message": str(exc)}
    kind = "invalid_region" if isinstance(exc, ValueError) and "does not exist" in str(exc) else "exception"
    text = "".join(traceback.format_exception(exc, limit=-6, chain=False))[-3000:]
    return {"kind": kind, "tick": tick, "message": text}


def compile_candidate(module: types.ModuleType) -> types.CodeType:
    """The candidate's code, re-executed for every run (its module and class state stay per run)."""
    path = getattr(module, "__file__", None)
    if not path:
        raise PolicyError("the candidate module has no source file")
    with open(path) as f:
        return compile(f.read(), path, "exec")


def simulator_parser(job: Job) -> argparse.ArgumentParser:
    """The argument parser `_from_args` receives, preset with the leaderboard's command line."""
    argv = [
        "--env=multi_trace",
        f"--task-duration-hours={job.task_hours:g}",
        f"--deadline-hours={job.deadline_hours:g}",
        f"--restart-overhead-hours={job.overhead_hours:g}",
    ]

    class SimulatorArgs(argparse.ArgumentParser):
        def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
            return super().parse_known_args(argv if args is None else args, namespace)

    parser = SimulatorArgs("Skypilot spot simulator", add_help=False)
    parser.add_argument("--deadline-hours", type=float, default=10)
    parser.add_argument("--task-duration-hours", type=float, nargs="+", default=[10])
    parser.add_argument("--restart-overhead-hours", type=float, nargs="+", default=[0.2])
    parser.add_argument("--env", type=str, default="multi_trace")
    return parser


def find_strategy_class(module: types.ModuleType) -> type:
    """The alphabetically first Strategy subclass defined in the module itself (as the original)."""
    for attr in dir(module):
        obj = getattr(module, attr)
        if (
            isinstance(obj, type)
            and issubclass(obj, api.Strategy)
            and obj.__name__ not in ("Strategy", "MultiRegionStrategy")
            and getattr(obj, "__module__", None) == module.__name__
        ):
            return obj
    raise PolicyError("no strategy class found: define a subclass of MultiRegionStrategy in the program")


def _build_strategy(code: types.CodeType, job: Job) -> api.Strategy:
    module = types.ModuleType("candidate")
    module.__file__ = code.co_filename
    saved = sys.modules.get("candidate")
    sys.modules["candidate"] = module
    try:
        exec(code, module.__dict__)
    finally:
        if saved is not None:
            sys.modules["candidate"] = saved
    cls = find_strategy_class(module)
    strategy = cls._from_args(simulator_parser(job))
    if not isinstance(strategy, api.Strategy):
        raise PolicyError(f"{cls.__name__}._from_args returned {type(strategy).__name__}, not a strategy")
    return strategy


def _expose(machine: Machine, strategy: api.Strategy, env: api.RegionEnv, task: api.JobTask) -> None:
    """Write the simulator's state into what the policy reads, undoing anything it changed."""
    env.tick = machine.tick
    env.gap_seconds = machine.gap
    env.cluster_type = _MEMBERS[machine.cluster]
    env._region = machine.zone
    env._available_now = tuple(machine.spot_available(z) for z in range(machine.num_zones))
    task._duration = machine.duration
    task._done = machine.done
    strategy.env = env
    strategy.task = task
    strategy.deadline = machine.deadline
    strategy.task_duration = machine.duration
    strategy.restart_overhead = machine.overhead
    strategy.task_done_time = machine.credits.copy()
    strategy.remaining_restart_overhead = machine.remaining_overhead


def _note_writes(machine: Machine, strategy: api.Strategy, env: api.RegionEnv, notes: list[str]) -> None:
    """Record writes to read-only simulator state (they are undone before the next decision)."""
    if len(notes) >= MAX_NOTES:
        return
    checks = (
        ("env.tick", env.tick == machine.tick),
        ("env.gap_seconds", env.gap_seconds == machine.gap),
        ("env.cluster_type", env.cluster_type is _MEMBERS[machine.cluster]),
        ("self.deadline", getattr(strategy, "deadline", None) == machine.deadline),
        ("self.task_duration", getattr(strategy, "task_duration", None) == machine.duration),
        ("self.restart_overhead", getattr(strategy, "restart_overhead", None) == machine.overhead),
        (
            "self.remaining_restart_overhead",
            getattr(strategy, "remaining_restart_overhead", None) == machine.remaining_overhead,
        ),
        ("self.task_done_time", getattr(strategy, "task_done_time", None) == machine.credits),
    )
    for name, unchanged in checks:
        if not unchanged and len(notes) < MAX_NOTES:
            notes.append(f"tick {machine.tick}: the policy changed {name}")


def _code_of(decision: Any) -> str:
    name = getattr(decision, "name", None)
    if isinstance(name, str) and name in _CODES and isinstance(decision, enum.Enum):
        return _CODES[name]
    raise PolicyError(f"_step returned {decision!r}; expected ClusterType.NONE, SPOT or ON_DEMAND")
