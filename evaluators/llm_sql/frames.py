"""pandas DataFrames for llm_sql programs written for the leaderboard: the table they receive, and
the DataFrame they return turned back into a layout plan.

The leaderboard calls `Solution().solve(df, ...)` with `df = pd.read_csv(dataset)` and scores the
returned DataFrame by concatenating each row's cells (`row.fillna("").astype(str)`) in row order.
Here:
- `to_frame` builds that `df` from the table's cell texts with pandas' own CSV reader, so columns
  get the types pandas infers from the file (the texts are the canonical renderings of those
  values, see table.py, so they read back as the same values);
- `frame_to_plan` maps each returned row back to the input row it came from and to the columns
  each of its cells came from: a cell is one input cell, or a whole merge group's cells
  concatenated in any order (the leaderboard's programs merge `col_merge` groups themselves). The
  plan's prompts are therefore exactly the strings the leaderboard would score, and the trusted
  side validates the plan and rebuilds the prompts from its own copy of the table as for any
  program. A row that is not such a reordering of a distinct input row is a FrameError naming it.

Runs inside the candidate's process (the driver imports it only for leaderboard-style programs):
nothing here is trusted for scoring. Must not: score, or repair a DataFrame.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence

import pandas as pd

MAX_SEARCH_STEPS = 20_000  # per row: the decomposition search backtracks only over equal texts


class FrameError(ValueError):
    """The returned DataFrame is not a reordering of the table's rows and cells."""


def to_frame(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> pd.DataFrame:
    """The table as `pd.read_csv` of the dataset gives it (typed columns, NaN where missing)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    text.seek(0)
    return pd.read_csv(text, low_memory=False)


def rendered_rows(frame: pd.DataFrame) -> list[tuple[str, ...]]:
    """Each row's cell texts as the leaderboard renders them: `row.fillna("").astype(str)`.

    A row of a frame with any non-numeric column holds every value as it is, so rendering column
    by column gives the same texts fast; an all-numeric frame is rendered row by row, since
    iterrows upcasts such a row to one dtype (integers then show as floats).
    """
    if not isinstance(frame, pd.DataFrame):
        raise FrameError(f"solve() must return a pandas DataFrame, got {type(frame).__name__}")
    dtypes = list(frame.dtypes)
    if dtypes and all(getattr(dtype, "kind", "O") in "biuf" for dtype in dtypes):
        return [tuple(row.fillna("").astype(str)) for _, row in frame.iterrows()]
    columns = [[_text(value) for value in frame.iloc[:, j].tolist()] for j in range(frame.shape[1])]
    return list(zip(*columns, strict=True)) if columns else [() for _ in range(len(frame))]


def _text(value: object) -> str:
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value):
        return ""
    return str(value)


def frame_to_plan(
    frame: pd.DataFrame, rows: Sequence[Sequence[str]], merge_groups: Sequence[Sequence[int]]
) -> list[tuple[int, list[int]]]:
    """[(input row, field order), ...] in the frame's row order; FrameError if there is none."""
    returned = rendered_rows(frame)
    if len(returned) != len(rows):
        raise FrameError(f"the returned DataFrame has {len(returned)} rows, the table has {len(rows)}")
    unmatched: dict[str, list[int]] = {}  # input rows by their sorted characters, not yet returned
    for index, cells in enumerate(rows):
        unmatched.setdefault(_letters(cells), []).append(index)
    groups = [list(g) for g in merge_groups if len(g) > 1]
    columns = _plain_first(len(rows[0]) if rows else 0, groups)
    plan = []
    for position, texts in enumerate(returned):
        candidates = unmatched.get(_letters(texts), [])
        for slot, index in enumerate(candidates):
            order = _greedy(texts, rows[index], groups, columns) or _search(texts, rows[index], groups)
            if order is not None:
                del candidates[slot]
                plan.append((index, order))
                break
        else:
            shown = "".join(texts)
            shown = shown if len(shown) <= 80 else shown[:77] + "..."
            raise FrameError(
                f"row {position} of the returned DataFrame ({shown!r}) is not a reordering of the cells of "
                "an input row not already returned (a value was changed, dropped, added or repeated)"
            )
    return plan


def _letters(cells: Sequence[str]) -> str:
    """The row's characters in sorted order: equal for a row and any reordering or merge of it."""
    return "".join(sorted("".join(cells)))


def decompose(texts: Sequence[str], cells: Sequence[str], groups: Sequence[Sequence[int]]) -> list[int] | None:
    """Column indices in field order such that `texts` are `cells` reordered, with each text one
    cell or one merge group's cells concatenated in some order; None if there is no such order."""
    return _greedy(texts, cells, groups, _plain_first(len(cells), groups)) or _search(texts, cells, groups)


def _plain_first(width: int, groups: Sequence[Sequence[int]]) -> list[int]:
    merged = {c for group in groups for c in group}
    return [c for c in range(width) if c not in merged] + [c for c in range(width) if c in merged]


def _greedy(
    texts: Sequence[str], cells: Sequence[str], groups: Sequence[Sequence[int]], columns: Sequence[int]
) -> list[int] | None:
    """The first choice at every text (a single cell, plain columns first, else a whole group): no
    backtracking. Enough for nearly every row; _search settles the rest."""
    used = [False] * len(cells)
    order: list[int] = []
    for text in texts:
        for c in columns:
            if not used[c] and cells[c] == text:
                used[c] = True
                order.append(c)
                break
        else:
            for group in groups:
                if any(used[c] for c in group) or sum(len(cells[c]) for c in group) != len(text):
                    continue
                spelled = next(_concatenations(group, cells, text, 0, ()), None)
                if spelled is not None:
                    for c in spelled:
                        used[c] = True
                    order.extend(spelled)
                    break
            else:
                return None
    return order if all(used) else None


def _search(texts: Sequence[str], cells: Sequence[str], groups: Sequence[Sequence[int]]) -> list[int] | None:
    """Backtracking over the ways each text can be read (equal plain cells tried once)."""
    merged = {c for group in groups for c in group}
    by_text: dict[str, list[int]] = {}
    for c in sorted(range(len(cells)), key=lambda c: c in merged):  # plain columns first
        by_text.setdefault(cells[c], []).append(c)
    group_length = [sum(len(cells[c]) for c in group) for group in groups]
    used = [False] * len(cells)

    def options(text: str) -> Iterator[tuple[int, ...]]:
        plain_tried = False
        for c in by_text.get(text, ()):
            if used[c]:
                continue
            if c not in merged:
                if plain_tried:  # equal plain cells are interchangeable: one is enough
                    continue
                plain_tried = True
            yield (c,)
        for group, length in zip(groups, group_length, strict=True):
            if length == len(text) and not any(used[c] for c in group):
                yield from _concatenations(group, cells, text, 0, ())

    order: list[int] = []
    steps = [0]

    def search(position: int) -> bool:
        steps[0] += 1
        if steps[0] > MAX_SEARCH_STEPS:
            return False
        if position == len(texts):
            return all(used)
        for option in options(texts[position]):
            for c in option:
                used[c] = True
            order.extend(option)
            if search(position + 1):
                return True
            del order[len(order) - len(option) :]
            for c in option:
                used[c] = False
        return False

    return order if search(0) else None


def _concatenations(
    group: Sequence[int], cells: Sequence[str], text: str, start: int, chosen: tuple[int, ...]
) -> Iterator[tuple[int, ...]]:
    """Orders of the whole `group` whose cells, concatenated, spell `text`."""
    if len(chosen) == len(group):
        if start == len(text):
            yield chosen
        return
    for c in group:
        if c not in chosen and text.startswith(cells[c], start):
            yield from _concatenations(group, cells, text, start + len(cells[c]), (*chosen, c))
