"""Trusted glue that runs INSIDE the candidate's process: calls solve() on one table.

Reads the table from the file the harness copied beside it (its base name is in the payload:
large inputs travel as files, not JSON), calls the candidate's
solve(columns, rows, col_merge, **params) and returns {"plan": [[row, [fields...]], ...]}, or
{"malformed": reason} when the answer cannot even be read as row/field indices (a float or a bool
where an index belongs, not a pair, ...). Integers of any integer type (numpy included) pass.
Must not repair or score anything: the evaluator re-validates every record, since the candidate
shares this process and could have tampered with it.
"""

import json
import operator


def run(candidate, payload):
    if not callable(getattr(candidate, "solve", None)):
        raise AttributeError("the program defines no function solve(columns, rows, col_merge, ...)")
    with open(payload["table_file"]) as f:
        table = json.load(f)
    plan = candidate.solve(table["columns"], table["rows"], table["col_merge"], **payload["params"])
    try:
        return {"plan": [[_index(row), [_index(c) for c in fields]] for row, fields in plan]}
    except (TypeError, ValueError) as exc:
        return {"malformed": f"solve() must return [(row_index, [column indices]), ...]: {exc}"[:400]}


def _index(value):
    if isinstance(value, bool):
        raise TypeError(f"an index is a bool ({value!r})")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"an index is not an integer: {value!r}") from None
