"""Tables for the LLM-SQL problem: loading a CSV and turning every cell into the text a prompt holds.

Owns: the `Table` record and the conversion of raw CSV fields to the exact text that the original
evaluator's pandas pipeline (`read_csv` + `iterrows` + `astype(str)`) puts into a prompt, written
with the csv module (pandas is not a dependency). Rules, per column, after pandas' type inference:

- missing values (pandas' default NA strings) give "" as a field, but "nan" inside a merged column
  (the original merges with f"{value}");
- an all-integer column gives str(int) ("007" -> "7"); with any missing value it becomes a float
  column ("63836" -> "63836.0");
- an all-numeric column gives str(float) ("4.50" -> "4.5"); booleans give "True"/"False";
- anything else keeps its text unchanged;
- a table whose columns are all numeric with at least one float column, and no merge, shows its
  integers as floats ("5" -> "5.0"), as pandas upcasts such a row.

Must not: reorder anything or score anything.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

NA_STRINGS = frozenset(
    {
        "",
        "#N/A",
        "#N/A N/A",
        "#NA",
        "-1.#IND",
        "-1.#QNAN",
        "-NaN",
        "-nan",
        "1.#IND",
        "1.#QNAN",
        "<NA>",
        "N/A",
        "NA",
        "NULL",
        "NaN",
        "None",
        "n/a",
        "nan",
        "null",
    }
)
_INT = re.compile(r"\s*[+-]?\d+\s*")
_TRUE = frozenset({"True", "TRUE", "true"})
_FALSE = frozenset({"False", "FALSE", "false"})


@dataclass(frozen=True)
class Table:
    """A table as the policy sees it: cell texts, column names and the column groups to merge.

    `merge_groups` holds column indices, each group in the order the dataset lists it; a merged
    group becomes one field of the prompt (its cells adjacent, concatenated without a separator).
    """

    name: str
    columns: list[str]
    cells: list[list[str]]
    merge_groups: list[list[int]]

    @property
    def n_rows(self) -> int:
        return len(self.cells)

    @property
    def n_cols(self) -> int:
        return len(self.columns)

    def merge_spec(self) -> list[list[str]]:
        """The merge groups by column name, as the original passes `col_merge`."""
        return [[self.columns[i] for i in group] for group in self.merge_groups]

    def to_json(self) -> dict:
        return {"name": self.name, "columns": self.columns, "rows": self.cells, "col_merge": self.merge_spec()}


def load_csv(path: str | Path, merge_spec: Sequence[Sequence[str]] = (), *, every: int = 1) -> Table:
    """Read a CSV and convert its cells as pandas would; keep every `every`-th row (1 = all).

    Merge groups naming a column the file lacks are skipped, as the original evaluator does.
    """
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        raw = [row for row in reader if row]
    width = len(header)
    for number, row in enumerate(raw, start=2):
        if len(row) != width:
            raise ValueError(f"{path}: line {number} has {len(row)} fields, the header has {width}")
    raw = raw[::every]
    return from_raw(Path(path).name, header, raw, merge_spec)


def from_raw(name: str, columns: list[str], raw: list[list[str]], merge_spec: Sequence[Sequence[str]] = ()) -> Table:
    """Build a Table from raw CSV strings (header + rows)."""
    index = {c: i for i, c in enumerate(columns)}
    groups = [[index[c] for c in group] for group in merge_spec if all(c in index for c in group)]
    merged = {i for group in groups for i in group}
    kinds = [_infer_kind([row[j] for row in raw]) for j in range(len(columns))]
    upcast = not groups and all(k in ("int", "float") for k in kinds) and "float" in kinds
    converters = [_converter(kind, upcast, j in merged) for j, kind in enumerate(kinds)]
    cells = [[convert(value) for convert, value in zip(converters, row, strict=True)] for row in raw]
    return Table(name=name, columns=list(columns), cells=cells, merge_groups=groups)


def _infer_kind(values: list[str]) -> str:
    """pandas' dtype for a column: int, int_na (ints with missing values), float, bool, or str."""
    present = [v for v in values if v not in NA_STRINGS]
    missing = len(present) != len(values)
    if not present:
        return "float"  # an all-missing column is float64 NaN in pandas
    if all(_INT.fullmatch(v) for v in present):
        return "int_na" if missing else "int"
    if all(_is_float(v) for v in present):
        return "float"
    if all(v in _TRUE or v in _FALSE for v in present):
        return "bool"
    return "str"


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _converter(kind: str, upcast: bool, in_merge: bool):
    missing = "nan" if in_merge else ""

    def convert(value: str) -> str:
        if value in NA_STRINGS:
            return missing
        if kind == "int":
            return str(float(int(value))) if upcast else str(int(value))
        if kind in ("int_na", "float"):
            return str(float(value))
        if kind == "bool":
            return "True" if value in _TRUE else "False"
        return value

    return convert
