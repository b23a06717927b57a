"""Layout plans: the policy's answer (row order + per-row field order), checked and turned into prompts.

Owns: `check_plan`, which rejects anything that is not a true reordering of the table (every row
exactly once, every row's fields exactly once, each merge group's cells adjacent), and
`prompt_strings`, which builds the prompt of each row from the trusted copy of the table. Since the
strings are built here from indices, a policy cannot lose, duplicate, edit or invent a value.

Must not: trust anything about the plan before checking it, or score it (hitrate.py does).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from evaluators.llm_sql.table import Table

Plan = list[tuple[int, list[int]]]


class PlanError(ValueError):
    """The plan is not a valid reordering of the table; the message says which rule it breaks."""


def check_plan(table: Table, value: Any) -> Plan:
    """Validate untrusted JSON as a plan for `table`; return it typed, or raise PlanError."""
    n, k = table.n_rows, table.n_cols
    if not isinstance(value, list):
        raise PlanError(f"expected a list of [row_index, field_order] pairs, got {type(value).__name__}")
    if len(value) != n:
        raise PlanError(f"the plan has {len(value)} rows, the table has {n}: every row must appear exactly once")
    rows: list[int] = []
    flat: list[Any] = []
    for position, entry in enumerate(value):
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], list)):
            raise PlanError(f"plan[{position}] is not a [row_index, field_order] pair: {str(entry)[:80]}")
        row, fields = entry
        if len(fields) != k:
            raise PlanError(f"plan[{position}] orders {len(fields)} fields, the table has {k} columns")
        rows.append(row)
        flat.extend(fields)
    if not all(type(x) is int for x in rows) or (rows and (min(rows) < 0 or max(rows) >= n)):
        raise PlanError(f"row indices must be integers in [0, {n})")
    if not all(type(x) is int for x in flat) or (flat and (min(flat) < 0 or max(flat) >= k)):
        raise PlanError(f"field indices must be integers in [0, {k})")
    counts = np.bincount(np.asarray(rows, dtype=np.int64), minlength=n)
    if n and counts.max() != 1:
        duplicated = int(np.argmax(counts))
        raise PlanError(f"row {duplicated} appears {int(counts[duplicated])} times (and some row is missing)")
    orders = np.asarray(flat, dtype=np.int64).reshape(n, k)
    if n and k and not (np.sort(orders, axis=1) == np.arange(k)).all():
        bad = int(np.flatnonzero(~(np.sort(orders, axis=1) == np.arange(k)).all(axis=1))[0])
        raise PlanError(f"plan[{bad}] field order {flat[bad * k : (bad + 1) * k]} is not a permutation of 0..{k - 1}")
    if n and table.merge_groups:
        where = np.argsort(orders, axis=1)  # where[r, c] = position of column c in row r
        for group in table.merge_groups:
            spots = where[:, group]
            apart = np.flatnonzero(spots.max(axis=1) - spots.min(axis=1) != len(group) - 1)
            if apart.size:
                names = [table.columns[c] for c in group]
                raise PlanError(f"plan[{int(apart[0])}] splits the merged column {names}: its cells must be adjacent")
    return [(r, flat[i * k : (i + 1) * k]) for i, r in enumerate(rows)]


def prompt_strings(table: Table, plan: Sequence[tuple[int, Sequence[int]]]) -> list[str]:
    """The prompt of each row of the plan, in plan order: its cells in field order, no separator."""
    cells = table.cells
    return ["".join([cells[r][c] for c in fields]) for r, fields in plan]


def original_order(table: Table, *, merge: bool = True) -> Plan:
    """Rows in file order; with `merge`, merged groups appended at the end in their listed order.

    With merges this is the original evaluator's baseline layout (its 0-point anchor).
    """
    if not merge:
        return [(r, list(range(table.n_cols))) for r in range(table.n_rows)]
    merged = [c for group in table.merge_groups for c in group]
    taken = set(merged)
    fields = [c for c in range(table.n_cols) if c not in taken] + merged
    return [(r, list(fields)) for r in range(table.n_rows)]
