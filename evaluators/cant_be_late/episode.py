"""The in-process simulator: steps a candidate's Strategy one tick at a time, as availability arrives.

Runs inside the candidate's sandboxed process (problems/cant_be_late/driver.py). The trusted side
(feed.py) sends each tick's availability only when that tick begins, so this process never holds a
tick before its decision is due. For every simulation an `Episode` builds a fresh Strategy
through `_from_args` and, per tick, does what the ADRS-Leaderboard simulator does (credit the
finished tick, ask `_step`, apply the deadline and availability guards, charge restart overhead),
answering two codes: the type the policy requested and the type that ran after the guards (or
"FF" once the work is done). `Lockstep` runs many episodes side by side, one tick per message.
Like the original, the progress state lives on the strategy object (`task_done_time`,
`remaining_restart_overhead`), so a policy that edits it fools this simulator, and the trusted
replay notices.

Must not: compute costs or scores (the trusted side replays the requests and does), or hold any
availability beyond the current tick.
"""

from __future__ import annotations

import argparse
import traceback
from collections.abc import Generator
from types import ModuleType
from typing import Any

from evaluators.cant_be_late import rules
from evaluators.cant_be_late.rules import DONE
from evaluators.cant_be_late.strategy import ClusterType, EnvView, Strategy, Task

_MEMBERS = (ClusterType.NONE, ClusterType.SPOT, ClusterType.ON_DEMAND)
_CODE_BY_NAME = {name: code for code, name in enumerate(rules.ACTION_NAMES)}
_CHARS = "012"
_PAIRS = tuple(tuple(requested + ran for ran in _CHARS) for requested in _CHARS)  # answer of one tick
_TRACEBACK_FRAMES = 8


class PresetParser(argparse.ArgumentParser):
    """An argument parser that parses the simulation's preset argv, as the original evaluator's."""

    def __init__(self, argv: list[str]):
        super().__init__(add_help=False, allow_abbrev=False)
        self.preset_argv = argv

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        return super().parse_known_args(self.preset_argv if args is None else args, namespace)


def build_parser(deadline_hours: float, overhead_hours: float, duration_hours: float) -> PresetParser:
    argv = [
        "--deadline-hours",
        repr(deadline_hours),
        "--task-duration-hours",
        repr(duration_hours),
        "--restart-overhead-hours",
        repr(overhead_hours),
    ]
    parser = PresetParser(argv)
    parser.add_argument("--deadline-hours", type=float, default=52.0)
    parser.add_argument("--task-duration-hours", type=float, nargs="+", default=[48.0])
    parser.add_argument("--restart-overhead-hours", type=float, nargs="+", default=[0.0])
    return parser


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


class Episode:
    """One simulation, advanced one tick at a time by `advance(bit)` ("1": spot NOT available).

    The tick loop is a generator, so its state stays in fast local variables between ticks, as in
    the original simulator's loop.
    """

    def __init__(
        self, strategy_cls: type[Strategy], deadline_hours: float, overhead_hours: float, duration_hours: float
    ):
        try:
            strategy = strategy_cls._from_args(build_parser(deadline_hours, overhead_hours, duration_hours))
            env = EnvView(rules.GAP_SECONDS)
            strategy.reset(env, Task(duration_hours))
            self._ticks = _loop(strategy, env, deadline_hours * 3600, overhead_hours * 3600, duration_hours * 3600)
            next(self._ticks)
        except Exception as exc:
            raise EpisodeError(-1) from exc
        self.advance = self._ticks.send  # advance(bit) -> two codes (requested, run), or DONE


def _loop(
    strategy: Strategy, env: EnvView, deadline_s: float, overhead_s: float, duration_s: float
) -> Generator[str | None, str, None]:
    gap = rules.GAP_SECONDS
    guard = rules.deadline_guard
    step = strategy._step
    current = rules.NONE
    # Work credited so far, as the sum of the strategy's list. Only the policy can change that list,
    # and only inside its calls, so the list is summed once after each call (one O(ticks) pass per
    # tick instead of two); in between, the new credit is added (credits are whole seconds here,
    # so both ways give the same float).
    credited = sum(strategy.task_done_time)
    tick = 0
    bit = yield None
    try:
        while True:
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
                yield DONE
                return
            code = _code(step(_MEMBERS[last], has_spot))
            credited = sum(strategy.task_done_time)
            final = guard(
                code, last, tick, duration_s - credited, strategy.remaining_restart_overhead, deadline_s, overhead_s
            )
            if final == rules.SPOT and not has_spot:
                final = rules.NONE
            if final != current and final != rules.NONE:
                strategy.remaining_restart_overhead = overhead_s
            current = final
            bit = yield _PAIRS[code][final]
            tick += 1
    except Exception as exc:  # the policy raised, returned garbage or broke its own state
        raise EpisodeError(tick) from exc


class Lockstep:
    """The episodes of one session, all advanced by one message per tick (the driver's state).

    Message: {"add": [[key, deadline_h, overhead_h, duration_h], ...], "drop": [keys], "bits": "..."}.
    The active list is kept in the same order on both sides: episodes that answered DONE and the
    dropped keys (whose trace ended) leave it, the added ones join at the end, then `bits` holds
    one availability code per active episode. The answer: two codes per active episode, or
    {"error": {"key", "tick", "message"}} when the policy failed (the evaluation fails then).
    """

    def __init__(self, strategy_cls: type[Strategy]):
        self.strategy_cls = strategy_cls
        self.active: list[tuple[int, Episode]] = []

    def tick(self, message: dict) -> Any:
        dropped = set(message["drop"])
        self.active = [(key, episode) for key, episode in self.active if key not in dropped]
        for key, deadline_hours, overhead_hours, duration_hours in message["add"]:
            try:
                episode = Episode(self.strategy_cls, deadline_hours, overhead_hours, duration_hours)
            except EpisodeError as exc:
                return _failure(key, exc)
            self.active.append((key, episode))
        codes = []
        try:
            for (_, episode), bit in zip(self.active, message["bits"], strict=True):
                codes.append(episode.advance(bit))
        except EpisodeError as exc:
            return _failure(self.active[len(codes)][0], exc)
        self.active = [entry for entry, code in zip(self.active, codes, strict=True) if code != DONE]
        return "".join(codes)


def _failure(key: int, error: EpisodeError) -> dict:
    cause = error.__cause__ or error
    text = "".join(traceback.format_exception(cause, limit=-_TRACEBACK_FRAMES, chain=False))
    return {"error": {"key": key, "tick": error.tick, "message": text[-3000:]}}
