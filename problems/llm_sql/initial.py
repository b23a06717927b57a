"""Reorder a table's rows and each row's fields so that LLM prompts share long prefixes.

Every row becomes one prompt: its cell texts concatenated in the row's field order, no separator.
Prompts are sent in row order; a prompt's cache hit is the longest prefix it shares with ANY
earlier prompt. Maximise total hits / total characters.

solve(columns, rows, col_merge, *, early_stop, row_stop, col_stop, distinct_value_threshold)
  columns: column names; rows: list of rows, each a list of cell texts (str) in column order;
  col_merge: groups of column names whose cells must stay adjacent in every row (a merged field).
  The keyword arguments are the original GGR knobs (100000, 4, 2, 0.7); use or ignore them.
Return [(row_index, field_order), ...]: every row index exactly once, in the order to send them;
each field_order a permutation of range(len(columns)) in which each merge group's columns are
adjacent (in any order). Rows may use different field orders.

Starting point: rows in file order, fields in file order with merged groups moved to the end
(the scoring's zero point).
"""

# EVOLVE-BLOCK-START


def solve(columns, rows, col_merge, *, early_stop=100_000, row_stop=4, col_stop=2, distinct_value_threshold=0.7):
    index = {name: i for i, name in enumerate(columns)}
    merged = [index[name] for group in col_merge for name in group]
    field_order = [c for c in range(len(columns)) if c not in merged] + merged
    return [(r, list(field_order)) for r in range(len(rows))]


# EVOLVE-BLOCK-END
