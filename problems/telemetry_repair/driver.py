"""Trusted glue that runs INSIDE the candidate's process: calls run_repair once per scenario.

The payload holds each scenario's telemetry and topology only (never the ground truth). Each
call gets fresh copies, so one scenario cannot leak into the next through mutated inputs. Returns
one record per scenario: {"status": "repaired", "repair": ...} with the answer made JSON-safe
(tuples become lists, numpy numbers become floats, anything else becomes a short type tag that
the evaluator rejects), or {"status": "raised", "error": text}.
Must not repair or score anything: the evaluator re-validates every record, since the candidate
shares this process and could have tampered with it.
"""

import copy
import math
import numbers
import traceback

MAX_ERROR_TEXT = 1500


def run(candidate, payload):
    if not callable(getattr(candidate, "run_repair", None)):
        raise AttributeError("the program defines no function run_repair(telemetry, topology)")
    records = []
    for scenario in payload["scenarios"]:
        try:
            answer = candidate.run_repair(copy.deepcopy(scenario["telemetry"]), copy.deepcopy(scenario["topology"]))
        except Exception:
            records.append({"status": "raised", "error": traceback.format_exc(limit=-3)[-MAX_ERROR_TEXT:]})
            continue
        records.append({"status": "repaired", "repair": _json_safe(answer, 0)})
    return records


def _json_safe(value, depth):
    if depth > 4:
        return {"unserialisable": "nested too deep"}
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else str(number)
    if isinstance(value, dict):
        return {str(k): _json_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v, depth + 1) for v in value]
    return {"unserialisable": type(value).__name__}
