"""Trusted glue that runs INSIDE the candidate's process: calls get_best_schedule once per workload.

Before the program is imported: loads the makespan model (simulator.py, copied beside this file by
the evaluator), removes the file, and makes the leaderboard's module names importable, so that
leaderboard programs run unchanged: `txn_simulator` (Workload = the simulator's
LeaderboardWorkload, built from a JSON string; the makespans it computes count in the tally) and
`workloads` (WORKLOAD_1, WORKLOAD_2, ... = this payload's workloads in the leaderboard's JSON
string form). Then seeds `random` (and numpy's global generator when the candidate imported
numpy) once, then for each workload of the payload, in order: builds a fresh budgeted
cost-function object, calls get_best_schedule(workload, num_seqs) (or get_best_schedule(workload)
when that is all it takes, as in LEVI's leaderboard program), and turns the answer into a JSON
record {"name", "status", "calls", "schedule", "claimed", "problem"}:
- status "returned": the candidate returned; schedule = its ids as ints (None if unreadable, with
  `problem` saying why), claimed = the makespan it reported (only compared, never used);
- status "budget_exhausted": BudgetExhausted escaped the candidate; schedule = the best complete
  schedule its cost function evaluated (None if there was none).
The value also carries "tally": how many makespans this process computed in all, so the trusted
side can spot evaluations made around the budget. Any other exception from the candidate ends the
run (a recorded failure). Must not score or repair anything: the evaluator re-validates every
record and recomputes every makespan, since the candidate shares this process.
"""

import importlib.util
import inspect
import itertools
import math
import operator
import os
import random
import sys
from pathlib import Path

from evaluators.leaderboard import provide_modules

MAX_TEXT = 300
_SIMULATOR = []  # the makespan model, loaded once by before_import


class CandidateFailure(RuntimeError):
    """get_best_schedule raised: names the workload; the original exception is chained."""


def before_import(payload):
    sim = _simulator()
    texts = {
        f"WORKLOAD_{number}": sim.leaderboard_json(spec["ops"])
        for number, spec in enumerate(payload["workloads"], start=1)
    }
    provide_modules(
        {
            "txn_simulator": lambda: {"Workload": sim.LeaderboardWorkload, "BudgetExhausted": sim.BudgetExhausted},
            "workloads": lambda: dict(texts),
        }
    )


def run(candidate, payload):
    entry = getattr(candidate, "get_best_schedule", None)
    if not callable(entry):
        raise AttributeError("the program defines no function get_best_schedule(workload, num_seqs)")
    call = _caller(entry)
    sim = _simulator()
    seed = int(payload["rng_seed"])
    random.seed(seed)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed(seed)
    records, meters = [], []
    for spec in payload["workloads"]:
        parsed = sim.parse_workload(spec["ops"])
        workload, meter = sim.budgeted_workload(parsed, int(payload["budget"]))
        try:
            answer = call(workload, int(payload["num_seqs"]))
        except sim.BudgetExhausted:
            record = {
                "status": "budget_exhausted",
                "schedule": meter.best_schedule,
                "claimed": meter.best_makespan,
            }
            record["problem"] = None if meter.best_schedule is not None else "no complete schedule was evaluated"
        except Exception as exc:
            raise CandidateFailure(
                f"get_best_schedule raised on workload {spec['name']}: {type(exc).__name__}: {_short(exc)}"
            ) from exc
        else:
            record = {"status": "returned", **_unpack(answer, parsed.num_txns)}
        record["name"] = spec["name"]
        records.append(record)
        meters.append(meter)
    for record, meter in zip(records, meters, strict=True):
        record["calls"] = meter.calls  # read at the end: a kept workload object may still be used later
    return {"workloads": records, "tally": sim.tally()}


def _caller(entry):
    """entry(workload, num_seqs), or entry(workload) for a function that takes only the workload."""
    try:
        signature = inspect.signature(entry)
    except (TypeError, ValueError):  # no signature to read: call it the documented way
        return entry
    for arguments in ((None, None), (None,)):
        try:
            signature.bind(*arguments)
        except TypeError:
            continue
        return entry if len(arguments) == 2 else (lambda workload, num_seqs: entry(workload))
    return entry  # neither fits: the call raises a TypeError that names the problem


def _simulator():
    if not _SIMULATOR:
        _SIMULATOR.append(_load_simulator())
    return _SIMULATOR[0]


def _load_simulator():
    path = Path(__file__).with_name("simulator.py")
    spec = importlib.util.spec_from_file_location("adrs_txn_simulator", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    try:
        os.remove(path)  # no fresh copy (with a fresh call tally) for the candidate to load
    except OSError:
        pass
    return module


def _unpack(answer, num_txns):
    """(makespan, schedule) -> schedule as ints; anything unreadable -> schedule None and a reason."""
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        return {
            "schedule": None,
            "claimed": None,
            "problem": f"expected (makespan, schedule), got {_short(answer)}",
        }
    claimed, schedule = answer
    try:
        claimed = float(claimed)
        claimed = claimed if math.isfinite(claimed) else None
    except Exception:
        claimed = None
    if isinstance(schedule, (str, bytes, dict)) or not hasattr(schedule, "__iter__"):
        return {
            "schedule": None,
            "claimed": claimed,
            "problem": f"the schedule is a {type(schedule).__name__}, not a list",
        }
    ids = []
    try:
        # A few more than needed is enough to say "too long" without reading an endless iterator.
        for position, item in enumerate(itertools.islice(schedule, 2 * num_txns + 1)):
            if isinstance(item, bool):
                raise TypeError(f"schedule[{position}] is a bool")
            try:
                ids.append(operator.index(item))
            except TypeError:
                raise TypeError(
                    f"schedule[{position}] is {_short(item)} ({type(item).__name__}), not an int id"
                ) from None
    except Exception as exc:
        return {"schedule": None, "claimed": claimed, "problem": _short(exc)}
    return {"schedule": ids, "claimed": claimed, "problem": None}


def _short(value):
    try:
        text = str(value) if isinstance(value, BaseException) else repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text[:MAX_TEXT]
