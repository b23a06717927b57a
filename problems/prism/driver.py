"""Trusted glue that runs INSIDE the candidate's process: answers one case per message of a session.

The evaluator (problems/prism/evaluator.py) opens an interactive session (adrs.problemkit) and
sends the cases one at a time; it times each call from its own side and stops the process when a
case runs past the 10 s limit, so no limit or clock lives here. For each case this driver rebuilds
fresh model objects from the message (sizes, rates, SLOs only), calls compute_model_placement once
and turns the answer into JSON: {"status": "placed", "placement": [[gpu_id, [model indices]],
...]} with models identified by object identity, {"status": "raised", "error": text} when the
call raised, or {"status": "invalid", "reason": text} for what only this process can see (not a
dict, a value that is not a list, a GPU id that is not an int, an object that is not one of the
input models). Must not repair anything, score anything or time anything: the evaluator
re-validates every record, since the candidate shares this process and could have tampered with it.
"""

import numbers
import traceback
from dataclasses import dataclass

MAX_TEXT = 400


@dataclass
class Model:
    """The object the candidate sees, with the leaderboard's field names."""

    model_name: str
    model_size: int
    req_rate: int
    slo: int
    cur_gpu_id: int


def start(candidate, payload):
    if not callable(getattr(candidate, "compute_model_placement", None)):
        raise AttributeError("the program defines no function compute_model_placement(gpu_num, models)")


def handle(candidate, case):
    models = [Model(f"model_{j}", size, rate, slo, j) for j, (size, rate, slo) in enumerate(case["models"])]
    try:
        result = candidate.compute_model_placement(case["gpu_num"], list(models))
    except Exception:
        return {"status": "raised", "error": traceback.format_exc(limit=-3)[-MAX_TEXT * 4 :]}
    try:
        return _to_record(result, models)
    except Exception as exc:  # a dict subclass or list whose methods raise, and the like
        return {"status": "invalid", "reason": f"the result could not be read: {_short(exc)}"}


def _to_record(result, models):
    if not isinstance(result, dict):
        return {"status": "invalid", "reason": f"expected a dict, got {type(result).__name__}"}
    index_of = {id(m): j for j, m in enumerate(models)}
    placement = []
    for gpu_id, members in list(result.items()):
        if isinstance(gpu_id, bool) or not isinstance(gpu_id, numbers.Integral):
            return {
                "status": "invalid",
                "reason": f"GPU id {_short(gpu_id)} ({type(gpu_id).__name__}) is not an int",
            }
        if not isinstance(members, list):
            return {
                "status": "invalid",
                "reason": f"GPU {int(gpu_id)} value must be a list, got {type(members).__name__}",
            }
        indices = []
        for member in list(members):
            j = index_of.get(id(member))
            if j is None or models[j] is not member:
                return {
                    "status": "invalid",
                    "reason": f"GPU {int(gpu_id)} holds {_short(member)}, which is not one of the input model objects",
                }
            indices.append(j)
        placement.append([int(gpu_id), indices])
    return {"status": "placed", "placement": placement}


def _short(value):
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text[:MAX_TEXT]
