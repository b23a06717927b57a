"""Trusted glue that runs INSIDE the candidate's process: calls compute_model_placement per case.

Rebuilds fresh model objects for every case from the JSON payload (sizes, rates, SLOs only),
calls the candidate once per case with a per-case time limit, and turns each answer into JSON:
{"status": "placed", "placement": [[gpu_id, [model indices]], ...]} with models identified by
object identity, {"status": "raised", "error": text} when the call raised or ran out of time, or
{"status": "invalid", "reason": text} for what only this process can see (not a dict, a value
that is not a list, a GPU id that is not an int, an object that is not one of the input models).
Must not repair anything or score anything: the evaluator re-validates every record, since the
candidate shares this process and could have tampered with it.
"""

import numbers
import signal
import time
import traceback
from dataclasses import dataclass

DEFAULT_CASE_TIMEOUT_S = 10.0
MAX_TEXT = 400


@dataclass
class Model:
    """The object the candidate sees, with the leaderboard's field names."""

    model_name: str
    model_size: int
    req_rate: int
    slo: int
    cur_gpu_id: int


class CaseTimeout(BaseException):
    """Raised in the candidate's frame when one case exceeds its time; a BaseException so that a
    candidate's `except Exception` does not swallow it."""


def run(candidate, payload):
    if not callable(getattr(candidate, "compute_model_placement", None)):
        raise AttributeError("the program defines no function compute_model_placement(gpu_num, models)")
    timeout_s = float(payload.get("case_timeout_s", DEFAULT_CASE_TIMEOUT_S))
    records = []
    for case in payload["cases"]:
        records.append(_run_case(candidate, case["gpu_num"], case["models"], timeout_s))
    return records


def _run_case(candidate, gpu_num, specs, timeout_s):
    models = [Model(f"model_{j}", size, rate, slo, j) for j, (size, rate, slo) in enumerate(specs)]
    started = time.perf_counter()
    try:
        with _time_limit(timeout_s):
            result = candidate.compute_model_placement(gpu_num, list(models))
    except CaseTimeout:
        return {"status": "raised", "error": f"TimeoutError: the case took more than {timeout_s:g} s"}
    except Exception:
        return {"status": "raised", "error": traceback.format_exc(limit=-3)[-MAX_TEXT * 4 :]}
    seconds = time.perf_counter() - started
    try:
        return _to_record(result, models, seconds)
    except Exception as exc:  # a dict subclass or list whose methods raise, and the like
        return {"status": "invalid", "reason": f"the result could not be read: {_short(exc)}"}


def _to_record(result, models, seconds):
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
    return {"status": "placed", "placement": placement, "seconds": seconds}


class _time_limit:
    """SIGALRM-based limit for one call (the candidate runs in this process's main thread)."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.usable = hasattr(signal, "setitimer") and seconds > 0

    def __enter__(self):
        if self.usable:
            self.previous = signal.signal(signal.SIGALRM, self._expire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc_info):
        if self.usable:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
        return False

    @staticmethod
    def _expire(signum, frame):
        raise CaseTimeout()


def _short(value):
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text[:MAX_TEXT]
