"""The in-process simulator: runs a candidate's Strategy over the traces of a payload.

Runs inside the candidate's sandboxed process (called by problems/cant_be_late/driver.py). For
every simulation it builds a fresh Strategy through `_from_args`, steps it tick by tick exactly as
the ADRS-Leaderboard simulator does (credit the finished tick, ask `_step`, apply the deadline and
availability guards, charge restart overhead) and records the action log: the type the policy
requested each tick and the type that ran after the guards. Like the original, the progress state
lives on the strategy object (`task_done_time`, `remaining_restart_overhead`), so a policy that
edits it fools this simulator, and the trusted replay notices.

Must not: compute costs or scores (the trusted side replays the log and does), or expose the trace
to the strategy.
"""

from __future__ import annotations

import argparse
import random
import sys
import traceback
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from evaluators.cant_be_late import rules
from evaluators.cant_be_late.strategy import ClusterType, EnvView, Strategy, Task

_MEMBERS = (ClusterType.NONE, ClusterType.SPOT, ClusterType.ON_DEMAND)
_CODE_BY_NAME = {name: code for code, name in enumerate(rules.ACTION_NAMES)}
_CHARS = "012"
_TRACEBACK_FRAMES = 8


class PresetParser(argparse.ArgumentParser):
    """An argument parser that parses the simulation's preset argv, as the original evaluator's."""

    def __init__(self, argv: list[str]):
        super().__init__(add_help=False, allow_abbrev=False)
        self.preset_argv = argv

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        return super().parse_known_args(self.preset_argv if args is None else args, namespace)


def build_parser(deadline_hours: float, overhead_hours: float, duration_hours: float) -> PresetParser:
    argv = ["--deadline-hours", repr(deadline_hours), "--task-duration-hours", repr(duration_hours),
            "--restart-overhead-hours", repr(overhead_hours)]
    parser = PresetParser(argv)
    parser.add_argument("--deadline-hours", type=float, default=52.0)
    parser.add_argument("--task-duration-hours", type=float, nargs="+", default=[48.0])
    parser.add_argument("--restart-overhead-hours", type=float, nargs="+", default=[0.0])
    return parser


@dataclass
class EpisodeLog:
    requests: str  # one action code per tick: what `_step` returned
    actions: str  # one action code per tick: what ran after the guards
    ticks: int  # billed ticks (the tick at which the work was found done), or the trace length
    finished: bool


class EpisodeError(Exception):
    """The policy raised (or returned garbage) at `tick`; the cause carries the traceback."""

    def __init__(self, tick: int):
        super().__init__(f"tick {tick}")
        self.tick = tick


def find_strategy_class(module: ModuleType) -> type[Strategy]:
    """The first Strategy subclass in the module's namespace order, as the original evaluator."""
    for value in list(vars(module).values()):
        if isinstance(value, type) and issubclass(value, Strategy) and value is not Strategy:
            return value
    raise TypeError(
        "the program defines no subclass of Strategy "
        "(from evaluators.cant_be_late.strategy import ClusterType, Strategy)"
    )


def _code(choice: Any) -> int:
    if type(choice) is ClusterType:
        return choice._value_
    name = getattr(choice, "name", None)  # a look-alike enum of the program's own (as LEVI's)
    if isinstance(name, str) and name in _CODE_BY_NAME:
        return _CODE_BY_NAME[name]
    raise TypeError(f"_step returned {choice!r}; expected ClusterType.NONE, SPOT or ON_DEMAND")


def run_episode(
    strategy_cls: type[Strategy], trace: str, deadline_hours: float, overhead_hours: float,
    duration_hours: float,
) -> EpisodeLog:
    """One simulation. `trace[t]` is "1" when spot is NOT available during tick t."""
    tick = -1
    try:
        strategy = strategy_cls._from_args(build_parser(deadline_hours, overhead_hours, duration_hours))
        env = EnvView(rules.GAP_SECONDS)
        strategy.reset(env, Task(duration_hours))
        return _loop(strategy, env, trace, deadline_hours * 3600, overhead_hours * 3600,
                     duration_hours * 3600)
    except EpisodeError:
        raise
    except Exception as exc:
        raise EpisodeError(tick) from exc


def _loop(strategy: Strategy, env: EnvView, trace: str, deadline_s: float, overhead_s: float,
          duration_s: float) -> EpisodeLog:
    gap = rules.GAP_SECONDS
    guard = rules.deadline_guard
    step = strategy._step
    requests: list[str] = []
    actions: list[str] = []
    current = rules.NONE
    # Work credited so far, as the sum of the strategy's list. Only the policy can change that list,
    # and only inside its calls, so the list is summed once after each call (one O(ticks) pass per
    # tick instead of two); in between, the new credit is added (credits are whole seconds here,
    # so both ways give the same float).
    credited = sum(strategy.task_done_time)
    tick = 0
    try:
        for tick, bit in enumerate(trace):
            last = current  # billed for the tick that just ended
            has_spot = bit == "0"
            if current == rules.SPOT and not has_spot:
                current = rules.NONE  # preempted at the tick boundary
            env.tick = tick
            env.cluster_type = _MEMBERS[current]
            if last == rules.NONE:
                strategy.task_done_time.append(0)
            else:
                overhead_left = strategy.remaining_restart_overhead
                productive = max(gap - overhead_left, 0)
                overhead_left -= gap - productive
                strategy.remaining_restart_overhead = 0 if overhead_left < rules.GUARD_TOLERANCE_S else overhead_left
                work = min(productive, duration_s - credited)
                strategy.task_done_time.append(work)
                credited += work
            if duration_s - credited <= rules.DONE_TOLERANCE_S:
                return EpisodeLog("".join(requests), "".join(actions), tick, True)
            code = _code(step(_MEMBERS[last], has_spot))
            requests.append(_CHARS[code])
            credited = sum(strategy.task_done_time)
            final = guard(code, last, tick, duration_s - credited, strategy.remaining_restart_overhead,
                          deadline_s, overhead_s)
            if final == rules.SPOT and not has_spot:
                final = rules.NONE
            if final != current and final != rules.NONE:
                strategy.remaining_restart_overhead = overhead_s
            actions.append(_CHARS[final])
            current = final
    except Exception as exc:  # the policy raised, returned garbage or broke its own state
        raise EpisodeError(tick) from exc
    return EpisodeLog("".join(requests), "".join(actions), len(trace), False)


def _seed_randomness(seed: int) -> None:
    """The same seed for a simulation and its probe twin, so a random policy stays reproducible."""
    random.seed(seed)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed(seed % 2**32)


def run_payload(module: ModuleType, payload: dict) -> dict:
    """Every simulation of the payload, in order: {"runs": [...]} or {"error": {...}} (untrusted)."""
    strategy_cls = find_strategy_class(module)
    traces = payload["traces"]
    runs = []
    for index, sim in enumerate(payload["sims"]):
        _seed_randomness(sim["seed"])
        try:
            log = run_episode(strategy_cls, traces[sim["trace"]], sim["deadline_hours"], sim["overhead_hours"],
                              sim["duration_hours"])
        except EpisodeError as exc:
            cause = exc.__cause__ or exc
            text = "".join(traceback.format_exception(cause, limit=-_TRACEBACK_FRAMES, chain=False))
            return {"error": {"index": index, "tick": exc.tick, "message": text[-3000:]}}
        runs.append({"requests": log.requests, "actions": log.actions, "ticks": log.ticks,
                     "finished": log.finished})
    return {"runs": runs}
