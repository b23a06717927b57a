"""The rules of the single-region Can't-Be-Late simulator: constants, prices, the deadline guard.

Owns: the numbers every side must agree on (tick length, prices, job configurations, tolerances),
the action codes used in action logs, the scalar deadline guard the simulator applies after every
policy decision, and the cost-to-score mapping of the leaderboard. Semantics follow the
ADRS-Leaderboard simulator (sky_spot @ f856497), including its guard quirk (see README).

Must not: import numpy or anything heavy (the candidate process imports this module through the
driver, and every candidate process pays for its imports), read files, or know about payloads.
"""

from __future__ import annotations

import math

GAP_SECONDS = 600.0  # one tick; traces have 10-minute resolution
TASK_HOURS = 48.0
DEADLINES_HOURS = (52.0, 70.0)
OVERHEADS_HOURS = (0.02, 0.05, 0.10)
JOB_CONFIGS = tuple((deadline, overhead) for deadline in DEADLINES_HOURS for overhead in OVERHEADS_HOURS)

# Action codes in action logs (one character per tick: "0", "1", "2").
NONE, SPOT, ON_DEMAND = 0, 1, 2
ACTION_NAMES = ("NONE", "SPOT", "ON_DEMAND")
DONE = "FF"  # a run's answer, instead of two action codes, at the tick its work is found done

# Prices per hour. The simulator sets every device to 3.06 "to be consistent with the original
# results" and derives spot as on-demand / (3.06 / 0.9731); computed the same way for fidelity.
ON_DEMAND_PRICE = 3.06
SPOT_PRICE = ON_DEMAND_PRICE / (ON_DEMAND_PRICE / 0.9731)
PRICES = (0.0, SPOT_PRICE, ON_DEMAND_PRICE)

GUARD_TOLERANCE_S = 1e-3  # work or overhead below this counts as none (guard, overhead reset)
DONE_TOLERANCE_S = 1e-8  # the job is done when less than this much work is left

# Score anchors: the whole job on on-demand (0 points) and on spot (100 points).
ON_DEMAND_ANCHOR = ON_DEMAND_PRICE * TASK_HOURS
SPOT_ANCHOR = SPOT_PRICE * TASK_HOURS


def deadline_guard(
    request: int,
    last_billed: int,
    tick: int,
    work_left_s: float,
    overhead_left_s: float,
    deadline_s: float,
    overhead_s: float,
) -> int:
    """The decision after the simulator's deadline guard (applied before the availability guard).

    When finishing on time needs every remaining tick, it forces ON_DEMAND, except that it keeps
    SPOT when the tick that just ended ran on spot with no pending overhead. That exception holds
    even if spot was just preempted, so the availability guard then turns the tick into NONE: a
    quirk of the original simulator, reproduced so scores match the leaderboard.
    """
    if work_left_s <= GUARD_TOLERANCE_S:
        return request
    time_left = math.floor((deadline_s - tick * GAP_SECONDS) / GAP_SECONDS) * GAP_SECONDS
    needed = math.ceil((work_left_s + overhead_s) / GAP_SECONDS) * GAP_SECONDS
    if needed < time_left:
        return request
    if last_billed == SPOT and overhead_left_s < GUARD_TOLERANCE_S:
        return SPOT
    return ON_DEMAND


def score_from_cost(mean_cost: float) -> float:
    """The leaderboard's 0-100 score before rounding: where the mean cost sits between the anchors."""
    fraction = (ON_DEMAND_ANCHOR - mean_cost) / (ON_DEMAND_ANCHOR - SPOT_ANCHOR)
    return 100.0 * min(1.0, max(0.0, fraction))
