"""Checks on what comes back from a txn_scheduling candidate process (untrusted JSON).

Owns: the shape check of the driver's value (a malformed value means the candidate tampered with
its own result, so it is a recorded invalid_output failure), the permutation check of each
schedule with a sentence saying what is wrong (missing, duplicated or foreign ids), and the
budget checks (a counter past its budget, or makespans computed around the budgeted counters).
Must not: compute scores, or accept a makespan the candidate reported.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from adrs.problemkit import INVALID_OUTPUT, CandidateError

STATUSES = ("returned", "budget_exhausted")
SHOWN_IDS = 6  # ids listed in a feedback sentence before "..."


@dataclass(frozen=True)
class Record:
    """One workload's answer, shape-checked (its contents are still the candidate's word)."""

    name: str
    status: str
    calls: int
    schedule: list[int] | None
    claimed: float | None
    problem: str | None


def read_set_value(value: Any, names: list[str]) -> tuple[list[Record], int]:
    """The driver's value for one set -> records in workload order and the process's makespan tally."""
    if not isinstance(value, dict) or not isinstance(value.get("workloads"), list):
        raise CandidateError(INVALID_OUTPUT, "the candidate's result is not the driver's {workloads, tally} record")
    tally = value.get("tally")
    if not _is_int(tally) or tally < 0:
        raise CandidateError(INVALID_OUTPUT, f"the makespan tally {tally!r} is not a count")
    raw = value["workloads"]
    if len(raw) != len(names):
        raise CandidateError(INVALID_OUTPUT, f"{len(raw)} workload records for {len(names)} workloads")
    return [_record(item, name) for item, name in zip(raw, names, strict=True)], tally


def _record(item: Any, name: str) -> Record:
    if not isinstance(item, dict) or item.get("name") != name:
        raise CandidateError(INVALID_OUTPUT, f"the record of workload {name} is missing or misnamed")
    status, calls, schedule = item.get("status"), item.get("calls"), item.get("schedule")
    claimed, problem = item.get("claimed"), item.get("problem")
    if status not in STATUSES:
        raise CandidateError(INVALID_OUTPUT, f"workload {name}: unknown status {status!r}")
    if not _is_int(calls) or calls < 0:
        raise CandidateError(INVALID_OUTPUT, f"workload {name}: the call count {calls!r} is not a count")
    if schedule is not None and not (isinstance(schedule, list) and all(_is_int(t) for t in schedule)):
        raise CandidateError(INVALID_OUTPUT, f"workload {name}: the schedule is not a list of ints")
    if claimed is not None and (isinstance(claimed, bool) or not isinstance(claimed, int | float)):
        claimed = None
    if problem is not None and not isinstance(problem, str):
        problem = repr(problem)
    return Record(name, status, calls, schedule, claimed, None if problem is None else problem[:300])


def permutation_problem(schedule: list[int], num_txns: int) -> str | None:
    """None if `schedule` holds each of 0..num_txns-1 exactly once, else what is wrong with it."""
    if len(schedule) == num_txns and sorted(schedule) == list(range(num_txns)):
        return None
    counts = Counter(schedule)
    foreign = sorted(t for t in counts if not 0 <= t < num_txns)
    duplicated = sorted(t for t, c in counts.items() if c > 1 and 0 <= t < num_txns)
    missing = [t for t in range(num_txns) if t not in counts]
    size = f"more than {2 * num_txns}" if len(schedule) > 2 * num_txns else str(len(schedule))
    parts = [f"not a permutation of 0..{num_txns - 1}: {size} ids for {num_txns} transactions"]
    if missing:
        parts.append(f"missing {_ids(missing)}")
    if duplicated:
        parts.append(f"duplicated {_ids(duplicated)}")
    if foreign:
        parts.append(f"foreign (out of range) {_ids(foreign)}")
    return "; ".join(parts)


def budget_problems(records: list[Record], tally: int, budget: int) -> list[str]:
    """Sentences for counters past the budget, or makespans computed outside the budgeted counters."""
    problems = [
        f"{r.name}: {r.calls} cost-function calls reported against a budget of {budget}: the budget was tampered with"
        for r in records
        if r.calls > budget
    ]
    counted = sum(r.calls for r in records)
    if tally != counted:
        problems.append(
            f"the process computed {tally} makespans but the budgeted cost functions counted {counted}: "
            "schedules were evaluated around the budget (a reset counter, a second simulator)"
        )
    return problems


def _ids(ids: list[int]) -> str:
    shown = ", ".join(str(t) for t in ids[:SHOWN_IDS])
    return shown + (f", ... ({len(ids)} in all)" if len(ids) > SHOWN_IDS else "")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
