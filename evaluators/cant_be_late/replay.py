"""The trusted replay: re-runs action logs against the traces and computes what they cost.

Given, for every simulation, the type the policy requested at each tick (from the candidate's
action log), the replay applies the simulator's rules itself, vectorised over all simulations
with numpy: credit the finished tick (minus pending restart overhead), stop when the work is
done, apply the deadline guard and the availability guard (rules.py), charge restart overhead on
a switch. It yields the types that really ran, the billed ticks, the cost, and per-run counts for
feedback. Nothing the candidate claimed about costs, progress or guards is used.

Must not: call candidate code, or trust anything but the requested types.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evaluators.cant_be_late import rules

_PRICE_PER_TICK = np.asarray(rules.PRICES) * rules.GAP_SECONDS / 3600


@dataclass
class Replay:
    actions: np.ndarray  # (runs, ticks) int8: the type that ran each tick (valid before end_tick)
    end_tick: np.ndarray  # (runs,) billed ticks: the tick at which the work was found done
    finished: np.ndarray  # (runs,) bool: the work was done before the trace ran out
    cost: np.ndarray  # (runs,) dollars
    spot_ticks: np.ndarray  # (runs,) billed ticks on spot
    on_demand_ticks: np.ndarray  # (runs,) billed ticks on on-demand
    guard_forced: np.ndarray  # (runs,) ticks where the deadline guard replaced the request
    spot_denied: np.ndarray  # (runs,) ticks where SPOT was asked while unavailable (ran NONE)
    restarts: np.ndarray  # (runs,) switches that charged restart overhead
    deadline_met: np.ndarray  # (runs,) bool


def replay(
    unavailable: np.ndarray,
    requests: np.ndarray,
    deadline_s: np.ndarray,
    overhead_s: np.ndarray,
    duration_s: float,
) -> Replay:
    """Replay `requests` (runs x ticks, action codes) on `unavailable` (runs x ticks, bool)."""
    runs, ticks = unavailable.shape
    gap = rules.GAP_SECONDS
    current = np.zeros(runs, dtype=np.int8)  # NONE before the first tick
    overhead_left = np.zeros(runs)
    done = np.zeros(runs)
    finished = np.zeros(runs, dtype=bool)
    end_tick = np.full(runs, ticks)
    actions = np.zeros((runs, ticks), dtype=np.int8)
    forced = np.zeros((runs, ticks), dtype=bool)
    denied = np.zeros((runs, ticks), dtype=bool)
    restarted = np.zeros((runs, ticks), dtype=bool)
    for tick in range(ticks):
        last = current  # billed for the tick that just ended
        has_spot = ~unavailable[:, tick]
        running = np.where((last == rules.SPOT) & ~has_spot, rules.NONE, last)  # after preemption
        ran = last != rules.NONE
        work = np.maximum(gap - overhead_left, 0.0)
        left = overhead_left - (gap - work)
        overhead_left = np.where(ran, np.where(left < rules.GUARD_TOLERANCE_S, 0.0, left), overhead_left)
        done = np.where(ran, done + np.minimum(work, duration_s - done), done)
        now_done = ~finished & (duration_s - done <= rules.DONE_TOLERANCE_S)
        end_tick[now_done] = tick
        finished |= now_done
        if finished.all():
            break
        asked = requests[:, tick]
        work_left = duration_s - done
        time_left = np.floor((deadline_s - tick * gap) / gap) * gap
        needed = np.ceil((work_left + overhead_s) / gap) * gap
        tight = (work_left > rules.GUARD_TOLERANCE_S) & (needed >= time_left)
        keep_spot = (last == rules.SPOT) & (overhead_left < rules.GUARD_TOLERANCE_S)
        guarded = np.where(tight, np.where(keep_spot, rules.SPOT, rules.ON_DEMAND), asked)
        blocked = (guarded == rules.SPOT) & ~has_spot
        final = np.where(blocked, rules.NONE, guarded).astype(np.int8)
        active = ~finished
        switch = active & (final != running) & (final != rules.NONE)
        overhead_left = np.where(switch, overhead_s, overhead_left)
        current = np.where(active, final, current)
        actions[:, tick] = final
        forced[:, tick] = active & tight & (guarded != asked)
        denied[:, tick] = active & blocked
        restarted[:, tick] = switch
    billed = np.arange(ticks)[None, :] < end_tick[:, None]
    kinds = np.where(billed, actions, rules.NONE)
    return Replay(
        actions=actions,
        end_tick=end_tick,
        finished=finished,
        cost=_PRICE_PER_TICK[kinds].sum(axis=1),
        spot_ticks=(kinds == rules.SPOT).sum(axis=1),
        on_demand_ticks=(kinds == rules.ON_DEMAND).sum(axis=1),
        guard_forced=(forced & billed).sum(axis=1),
        spot_denied=(denied & billed).sum(axis=1),
        restarts=(restarted & billed).sum(axis=1),
        deadline_met=finished & (end_tick * gap <= deadline_s + 1e-6),
    )
