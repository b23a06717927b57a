"""Runs a candidate policy on simulations inside the candidate process and logs its actions.

Owns: building a fresh policy per simulation (the candidate module is re-executed so module and
class state cannot leak between runs, as in the original's one-process-per-run), feeding it the
observations of the tick machine, recording the action log (requested type and region per tick),
and noting when the policy writes to simulator state it may only read.

Everything returned is untrusted: the policy shares this process and can alter any of it. The
trusted side replays the action log (see replay.py) and compares the claims made here with its
own results. Must not: compute a score, or expose future ticks of a trace to the policy.
"""

from __future__ import annotations

import argparse
import enum
import random
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


def run_payload(module: types.ModuleType, payload: dict) -> dict:
    """Driver entry: run every simulation of the payload, each with a fresh policy."""
    job = Job.from_json(payload["job"])
    rules = Rules.from_json(payload["rules"])
    path = getattr(module, "__file__", None)
    if not path:
        raise PolicyError("the candidate module has no source file")
    with open(path) as f:
        code = compile(f.read(), path, "exec")
    return {"simulations": [run_simulation(code, job, rules, sim) for sim in payload["simulations"]]}


def run_simulation(code: types.CodeType, job: Job, rules: Rules, sim: dict) -> dict:
    zones = [ZoneTrace.from_json(z) for z in sim["zones"]]
    _seed_randomness(int(sim["seed"]))
    machine = Machine(job, zones, rules)
    kinds: list[str] = []
    regions: list[int] = []
    notes: list[str] = []
    error = None
    try:
        strategy = _build_strategy(code, job)
        env = api.RegionEnv(machine.gap, machine.spot_prices, machine.od_prices, job.deadline_hours, job.overhead_hours)
        task = api.JobTask(machine.duration)
        strategy.reset(env, task)
        while True:
            last, has_spot = machine.observe()
            _expose(machine, strategy, env, task)
            decision = strategy._step(_MEMBERS[last], has_spot)
            kind = _code_of(decision)
            region = env._region if type(env._region) is int else -1
            kinds.append(kind)
            regions.append(region)
            _note_writes(machine, strategy, env, notes)
            machine.apply(kind, region)
            if machine.finished:
                break
    except api.InvalidRegionError as exc:
        error = {"kind": "invalid_region", "tick": machine.tick, "message": str(exc)}
    except TraceEnded as exc:
        error = {"kind": "trace_ended", "tick": machine.tick, "message": str(exc)}
    except Exception as exc:
        kind = "invalid_region" if isinstance(exc, ValueError) and "does not exist" in str(exc) else "exception"
        error = {"kind": kind, "tick": machine.tick, "message": "".join(traceback.format_exc(limit=-6))[-3000:]}
    return {
        "key": sim["key"],
        "types": "".join(kinds),
        "regions": regions,
        "claimed": {"end_tick": machine.tick - 1, "applied": "".join(machine.applied), "cost": machine.cost()},
        "notes": notes,
        "error": error,
    }


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


def _seed_randomness(seed: int) -> None:
    """Seed the global generators so a policy that draws from them is reproducible (audits rely on it)."""
    random.seed(seed)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed(seed % 2**32)


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
        ("self.remaining_restart_overhead",
         getattr(strategy, "remaining_restart_overhead", None) == machine.remaining_overhead),
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
