"""Trusted glue that runs INSIDE the candidate's process: calls solve() on one table.

Reads the table from the file the harness copied beside it (its base name is in the payload:
large inputs travel as files, not JSON), calls the candidate's
solve(columns, rows, col_merge, **params) and returns {"plan": [[row, [fields...]], ...]}, or
{"malformed": reason} when the answer cannot even be read as row/field indices (a float or a bool
where an index belongs, not a pair, ...). Integers of any integer type (numpy included) pass.

A program written for the leaderboard (a `Solution` class with a solve method: the leaderboard's
entry point, whatever else the module defines) runs unchanged:
it gets the table as a pandas DataFrame, as `pd.read_csv` gives it, through
`Solution().solve(df, early_stop, row_stop, col_stop, col_merge, one_way_dep=[],
distinct_value_threshold, parallel=True)`, and the DataFrame it returns is mapped back to a plan
(evaluators/llm_sql/frames.py). Its `from solver import ...` / `from utils import ...` are served
by evaluators/llm_sql/peer_helpers.py.
Must not repair or score anything: the evaluator re-validates every record, since the candidate
shares this process and could have tampered with it.
"""

import json
import operator

from evaluators.leaderboard import module_factories, provide_modules
from evaluators.llm_sql.export import PEER_MODULES


def before_import(payload):
    provide_modules(module_factories(PEER_MODULES))  # `from solver import ...`, `from utils import ...`


def run(candidate, payload):
    with open(payload["table_file"]) as f:
        table = json.load(f)
    solution = getattr(candidate, "Solution", None)
    if isinstance(solution, type) and callable(getattr(solution, "solve", None)):
        return _run_leaderboard_style(solution, table, payload["params"])
    if not callable(getattr(candidate, "solve", None)):
        raise AttributeError(
            "the program defines no function solve(columns, rows, col_merge, ...) "
            "(nor a leaderboard-style class Solution with solve(df, ...))"
        )
    plan = candidate.solve(table["columns"], table["rows"], table["col_merge"], **payload["params"])
    try:
        return {"plan": [[_index(row), [_index(c) for c in fields]] for row, fields in plan]}
    except (TypeError, ValueError) as exc:
        return {"malformed": f"solve() must return [(row_index, [column indices]), ...]: {exc}"[:400]}


def _run_leaderboard_style(solution_class, table, params):
    from evaluators.llm_sql.frames import FrameError, frame_to_plan, to_frame

    columns = table["columns"]
    position = {name: i for i, name in enumerate(columns)}
    groups = [[position[name] for name in group] for group in table["col_merge"]]
    frame = to_frame(columns, table["rows"])
    answer = solution_class().solve(
        frame,
        early_stop=params["early_stop"],
        row_stop=params["row_stop"],
        col_stop=params["col_stop"],
        col_merge=[list(group) for group in table["col_merge"]],
        one_way_dep=[],
        distinct_value_threshold=params["distinct_value_threshold"],
        parallel=True,
    )
    try:
        plan = frame_to_plan(answer, table["rows"], groups)
    except FrameError as exc:
        return {"malformed": f"Solution.solve(df, ...): {exc}"[:400]}
    return {"plan": [[row, fields] for row, fields in plan]}


def _index(value):
    if isinstance(value, bool):
        raise TypeError(f"an index is a bool ({value!r})")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"an index is not an integer: {value!r}") from None
