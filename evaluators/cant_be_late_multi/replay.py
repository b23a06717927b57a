"""Trusted replay: validates what came back from the candidate process and re-runs the action log.

Owns: checking the untrusted JSON record of one simulation (shape, types, sizes), replaying its
action log (requested type + region per tick) against the real traces with the tick machine, and
comparing the candidate-side claims (applied types, end tick, cost) with the replay's own figures.
A disagreement means the policy altered the simulator in its process; the replay's figures are
the ones that count, so the alteration gains nothing, and it is reported.

Must not: trust any number from the record, run candidate code, or decide the stage's score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from adrs.problemkit import INVALID_OUTPUT, CandidateError
from evaluators.cant_be_late_multi.machine import Machine, TraceEnded
from evaluators.cant_be_late_multi.model import (
    ON_DEMAND,
    SPOT,
    TYPES,
    Job,
    Rules,
    RunOutcome,
    Simulation,
)

ERROR_KINDS = ("exception", "invalid_region", "trace_ended")
MAX_NOTES = 5


@dataclass
class ActionLog:
    """A validated record: still candidate-made, but well-formed."""

    kinds: str
    regions: list[int]
    claimed_end_tick: int
    claimed_applied: str
    claimed_cost: float
    notes: list[str] = field(default_factory=list)
    error_kind: str = ""
    error_tick: int = -1
    error_message: str = ""


def check_record(record: Any, sim: Simulation) -> ActionLog:
    """Validate one simulation's record; a malformed one fails the evaluation as invalid output."""

    def bad(why: str) -> CandidateError:
        return CandidateError(INVALID_OUTPUT, f"{sim.label}: malformed action log: {why}")

    if not isinstance(record, dict):
        raise bad("not an object")
    if record.get("key") != sim.key:
        raise bad("records are out of order or missing")
    kinds, regions = record.get("types"), record.get("regions")
    if not isinstance(kinds, str) or any(ch not in TYPES for ch in kinds):
        raise bad("'types' must be a string of N, S and O")
    if len(kinds) > sim.length:
        raise bad(f"{len(kinds)} actions for a trace of {sim.length} ticks")
    if not isinstance(regions, list) or len(regions) != len(kinds):
        raise bad("'regions' must be a list with one entry per action")
    if any(type(r) is not int for r in regions):
        raise bad("regions must be integers")
    claimed = record.get("claimed")
    if not isinstance(claimed, dict):
        raise bad("'claimed' must be an object")
    end_tick, applied, cost = claimed.get("end_tick"), claimed.get("applied"), claimed.get("cost")
    if type(end_tick) is not int or not isinstance(applied, str) or not _is_number(cost):
        raise bad("'claimed' needs end_tick (int), applied (str) and cost (number)")
    notes = record.get("notes", [])
    if not isinstance(notes, list) or any(not isinstance(n, str) for n in notes):
        raise bad("'notes' must be a list of strings")
    log = ActionLog(
        kinds, regions, end_tick, applied[: sim.length + 1], float(cost), [n[:300] for n in notes[:MAX_NOTES]]
    )
    error = record.get("error")
    if error is not None:
        if not isinstance(error, dict) or error.get("kind") not in ERROR_KINDS:
            raise bad(f"'error' must be null or an object whose kind is one of {ERROR_KINDS}")
        log.error_kind = error["kind"]
        log.error_tick = error["tick"] if type(error.get("tick")) is int else -1
        log.error_message = str(error.get("message", ""))[-3000:]
    return log


def replay(sim: Simulation, log: ActionLog, job: Job, rules: Rules) -> RunOutcome:
    """Re-run the log against the simulation's traces; the outcome holds the trusted figures."""
    machine = Machine(job, sim.zones, rules)
    outcome = RunOutcome(label=sim.label)
    tick = 0
    while True:
        try:
            machine.observe()
        except TraceEnded as exc:
            outcome.infeasible = str(exc)
            break
        finished = machine.finished
        if tick >= len(log.kinds):
            break
        region = log.regions[tick]
        if not 0 <= region < machine.num_zones:
            outcome.infeasible = (
                f"tick {tick}: region {region} does not exist (this scenario has regions 0..{machine.num_zones - 1})"
            )
            break
        before = machine.zone
        machine.apply(log.kinds[tick], region)
        if machine.zone != before:
            outcome.region_switches += 1
        tick += 1
        if finished:
            break
    outcome.end_tick = len(machine.history) - 1
    outcome.cost = machine.cost()
    outcome.cost_final_zone_billing = machine.cost(per_tick_billing=False)
    outcome.spot_hours = machine.hours_of(SPOT)
    outcome.on_demand_hours = machine.hours_of(ON_DEMAND)
    if not outcome.infeasible and not machine.finished and not log.error_kind:
        work_left = (machine.duration - machine.done) / 3600
        outcome.infeasible = (
            f"the action log ends at tick {outcome.end_tick} with {work_left:.2f} h of work left, although the "
            "candidate-side simulator reported no error: its state was altered"
        )
        outcome.tampered.append(outcome.infeasible)
    finish_s = machine.finish_s if machine.finish_s is not None else math.inf
    outcome.finish_hours = finish_s / 3600
    outcome.deadline_met = finish_s <= machine.deadline + 1e-6
    if not outcome.infeasible and not log.error_kind:
        outcome.tampered.extend(_disagreements(log, machine, outcome, tick))
    outcome.tampered.extend(f"candidate-side check: {n}" for n in log.notes)
    return outcome


def _disagreements(log: ActionLog, machine: Machine, outcome: RunOutcome, used: int) -> list[str]:
    found = []
    applied = "".join(machine.applied)
    if log.claimed_end_tick != outcome.end_tick:
        found.append(f"the candidate side ended at tick {log.claimed_end_tick}, the replay at tick {outcome.end_tick}")
    if log.claimed_applied != applied:
        at = next(
            (i for i, (a, b) in enumerate(zip(log.claimed_applied, applied, strict=False)) if a != b),
            min(len(applied), len(log.claimed_applied)),
        )
        found.append(f"the candidate side applied different types from tick {at} on")
    if not math.isclose(log.claimed_cost, outcome.cost, rel_tol=1e-9, abs_tol=1e-9):
        found.append(f"the candidate side claimed ${log.claimed_cost:.2f}, the replay costs ${outcome.cost:.2f}")
    if used < len(log.kinds):
        found.append(f"the log holds {len(log.kinds) - used} action(s) after the job finished")
    return found


def _is_number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)
