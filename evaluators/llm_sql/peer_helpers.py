"""The helper modules llm_sql programs of the leaderboard import: `solver` (Algorithm) and `utils`.

Every leaderboard solution ships the same two helpers beside its program (`from solver import
Algorithm`, `from utils import ...`); the driver makes both names importable in the candidate's
process and builds them from this module: `solver` = Algorithm (+ Trie), `utils` = TrieNode,
Trie, calculate_length, evaluate_df_prefix_hit_cnt. Written here from their documented behaviour
(same names, signatures and results), not copied.

Runs inside the candidate's process; nothing here is trusted (the evaluator validates the plan
and computes hit rates itself). Must not: be imported by the trusted side.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from pandas.api.types import is_bool_dtype, is_object_dtype, is_string_dtype

from evaluators.llm_sql.frames import rendered_rows
from evaluators.llm_sql.hitrate import prefix_hits


class TrieNode:
    def __init__(self) -> None:
        self.children: dict[str, TrieNode] = {}
        self.end_of_word = False


class Trie:
    """A character trie of earlier strings; longest_common_prefix(word) is the hit of `word`."""

    def __init__(self) -> None:
        self.root = TrieNode()

    def insert(self, word: str) -> None:
        node = self.root
        for char in word:
            node = node.children.setdefault(char, TrieNode())
        node.end_of_word = True

    def longest_common_prefix(self, word: str) -> int:
        node, depth = self.root, 0
        for char in word:
            if char not in node.children:
                break
            node, depth = node.children[char], depth + 1
        return depth


def calculate_length(value: Any) -> int:
    """The squared text length GGR weighs a value by: 4**2 for a bool, len(str)**2 for a number or
    a string, 0 for anything else (numpy integers included, as in the original)."""
    if isinstance(value, bool):
        return 16
    if isinstance(value, int | float):
        return len(str(value)) ** 2
    if isinstance(value, str):
        return len(value) ** 2
    return 0


def evaluate_df_prefix_hit_cnt(df: pd.DataFrame) -> tuple[int, float]:
    """(total prefix hits, hit rate in percent) of the rows' concatenated texts, in row order."""
    strings = ["".join(texts) for texts in rendered_rows(df)]
    hits = sum(prefix_hits(strings))
    total = sum(len(s) for s in strings)
    return hits, (100.0 * hits / total if total else 0.0)


class Algorithm:
    """Base class of the leaderboard's GGR-style reorderers, with its static helpers."""

    def __init__(self, df: pd.DataFrame | None = None):
        self.df = df

    def reorder(self, df: pd.DataFrame) -> pd.DataFrame:
        raise NotImplementedError("Subclasses should implement this!")

    @staticmethod
    def evaluate_df_prefix_hit_cnt(self: Any, df: pd.DataFrame) -> int:
        """Total prefix hits of the rows rendered with astype(str) (NaN shows as "nan"), as the
        original's static method (which takes an unused first argument)."""
        strings = ["".join(row.astype(str).values) for _, row in df.iterrows()]
        return sum(prefix_hits(strings))

    @staticmethod
    def evaluate_cell_hit_cnt(df: pd.DataFrame) -> int:
        """Per row, the number of leading cells whose prefix tuple is an earlier complete row."""
        total, seen = 0, set()
        for _, row in df.iterrows():
            prefix: list[Any] = []
            for value in row:
                prefix.append(value)
                if tuple(prefix) not in seen:
                    break
                total += 1
            seen.add(tuple(row))
        return total

    @staticmethod
    def get_groups_values(df: pd.DataFrame):
        """Counts of every value in the frame (NaN excluded), most frequent first; {} when empty."""
        if df.empty:
            return {}
        counts = df.stack().value_counts()
        return {} if counts.empty else counts

    @staticmethod
    def calculate_length(value: Any) -> int:
        return calculate_length(value)

    @staticmethod
    def drop_col(df: pd.DataFrame, col: str) -> pd.DataFrame:
        return df.drop(columns=[col])

    @staticmethod
    def drop_rows(df: pd.DataFrame, rows) -> pd.DataFrame:
        return df.drop(index=rows)

    @staticmethod
    def merging_columns(
        df: pd.DataFrame, col_names: list[str], delimiter: str = "_", prepended: bool = False
    ) -> pd.DataFrame:
        """Replace `col_names` by one column named by joining them with `delimiter`, holding each
        row's values concatenated (f"{value}", so NaN shows as "nan"), appended last."""
        if not all(col in df.columns for col in col_names):
            raise ValueError("Column names not found in DataFrame")
        if len(set(df[col_names].nunique())) != 1:
            raise ValueError(f"Columns to be merged {col_names} do not have the same number of unique values")
        name = delimiter.join(col_names)
        if prepended:  # values look like "<column>: <value>"; keep one "<merged name>: " prefix
            df[name] = df[col_names].apply(
                lambda row: name + ": " + delimiter.join(str(v).split(": ", 1)[1] for v in row), axis=1
            )
        else:
            df[name] = df[col_names].apply(lambda row: "".join(f"{v}" for v in row), axis=1)
        return df.drop(columns=col_names)

    @staticmethod
    def calculate_col_stats(df: pd.DataFrame, enable_index: bool = False):
        """(rows, [(column, distinct values, mean squared text length, score), ...]) by score,
        highest first; score = length² x (rows per distinct value - 1), 0 for all-distinct columns.
        With enable_index, an "original_index" column is listed last with score 0."""
        rows = len(df)
        stats = []
        for col in df.columns:
            if col == "original_index":
                continue
            series = df[col]
            groups = series.nunique()
            if is_bool_dtype(series.dtype):
                length = 4
            elif is_object_dtype(series.dtype) or is_string_dtype(series.dtype) or series.dtype in ("int64", "float64"):
                length = series.astype(str).str.len().mean()
            else:
                length = 0
            length = length**2
            score = 0 if groups == 0 or rows == groups else length * (rows / groups - 1)
            stats.append((col, groups, length, score))
        if enable_index and "original_index" in df.columns:
            stats.append(("original_index", rows, 0, 0))
        stats.sort(key=lambda entry: entry[3], reverse=True)
        return rows, stats
