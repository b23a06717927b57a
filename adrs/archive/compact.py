"""How metrics, features and per-instance scores are stored without repeating each other or their names.

Owns: the layout of the JSON columns since schema version 4, and reading them back into whole
dictionaries. What an engine computes is unchanged: a program's features are its metrics overlaid
with its last stage's own features, and its metrics are its last stage's (or, re-scored, their
mean). Stored, each value appears once and each list of names once per archive:

- `programs.features` holds only what the features add to or change in the metrics; a reader
  overlays it on `programs.metrics`. A row written before version 4 holds the whole dictionary,
  which already contains the metrics with the same values, so the same overlay reads it unchanged.
- The evaluation row a program's metrics were taken from (a program scored once: its last stage)
  holds JSON `null` (`SAME_AS_PROGRAM`) in `metrics` when they are the program's, and in `features`
  when its features are what the program's row stores; a reader takes them from the program's row.
  Every other row (other stages, a re-scored program, holdout stages, repeated evaluations) keeps
  its own.
- A dictionary whose names cost more than a reference to them (a problem's eleven metrics, its
  per-instance scores) is stored as a JSON array, `["<names key>", value, ...]`: the key names a
  row of `metric_names` holding the list of names (`names_key`: 12 hex digits of the sha256 of that
  list, so a key means one list in every archive and a process may keep what it read). Where the
  `metric_names` row is missing (a salvaged archive that lost it), the values read back under
  placeholder names, never as a crash.
- Since schema version 5, an array whose values are all floats, where that is shorter, is stored as
  `["<names key>~", "<the values as little-endian IEEE doubles, in base85>"]` (`~` marks the
  form): 10 characters a value, where a float of full precision takes 18-20 in JSON.
- JSON is written without the spaces of Python's default separators.

Floats keep every bit: Python writes the shortest text that reads back as the same number, and the
packed form holds the double itself (so -0.0, NaN and the infinities come back as they were).

Must not: import SQLAlchemy or the schema (a reader on the standard library's sqlite3 may use it
too), or decide what a program's metrics are (store.py and doctor_programs.py do).
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from collections.abc import Callable, Iterable, Mapping
from typing import Any

# An evaluation row's metrics (or features) are its program's: the row's stored value is JSON null.
SAME_AS_PROGRAM = None
# The JSON columns whose dictionaries may be stored as arrays under a names key.
PACKED_COLUMNS = ("metrics", "features", "instances")
_KEY_DIGITS = 12
_DOUBLES = "~"  # after a names key: the one value that follows holds the values as packed doubles
_names: dict[str, tuple[str, ...]] = {}  # names key -> names, for every key this process met


def dumps(value: Any) -> str:
    """JSON as the archive writes it: no spaces after separators (NaN and infinities as Python writes them)."""
    return json.dumps(value, separators=(",", ":"))


def _same(a: Any, b: Any) -> bool:
    """The same stored number: equal and written alike (so -0.0 is not 0.0, and NaN never matches)."""
    return type(a) is type(b) and a == b and repr(a) == repr(b)


def same_values(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    """The same dictionary as stored: the same keys in the same order, each value the same number."""
    if a is None or b is None:
        return False
    return list(a) == list(b) and all(_same(a[name], b[name]) for name in a)


# a program's features and an evaluation's borrowed values -------------------------------------
def stored_features(metrics: Mapping[str, Any], features: Mapping[str, Any]) -> dict[str, Any]:
    """What `programs.features` stores of a program's whole `features` (which hold every metric, as
    the engine and doctor write them): the entries the metrics do not hold alike.

    `full_features(metrics, stored_features(metrics, features)) == features`, in the same order: a
    metric the features override comes back at the metric's place, as `{**metrics, **features}`
    puts it."""
    return {name: value for name, value in features.items() if name not in metrics or not _same(metrics[name], value)}


def full_features(metrics: Mapping[str, Any] | None, stored: Mapping[str, Any] | None) -> dict[str, Any]:
    """A program's features from its stored metrics and features columns (either layout)."""
    return {**(metrics or {}), **(stored or {})}


def borrowed(stored: Any, program_value: Mapping[str, Any] | None) -> dict[str, Any]:
    """An evaluation row's metrics or features: its own, or (`SAME_AS_PROGRAM`) what its program's
    row stores in that column (empty when the program is gone, as in a salvaged archive)."""
    if stored is SAME_AS_PROGRAM:
        return dict(program_value or {})
    return stored


# names stored once ------------------------------------------------------------------------------
def names_key(names: Iterable[str]) -> str:
    """The key of a list of names: the same list gives the same key in every archive."""
    return hashlib.sha256(dumps(list(names)).encode("utf-8")).hexdigest()[:_KEY_DIGITS]


def pack(value: Any, store_names: Callable[[str, tuple[str, ...]], bool]) -> Any:
    """`value` as stored: a dictionary whose names cost more than a key, as `[key, value, ...]`
    once `store_names(key, names)` says the names row is there (False: stored as it is)."""
    if not isinstance(value, dict) or sum(len(name) + 4 for name in value) <= _KEY_DIGITS + 6:
        return value
    names = tuple(value)
    if not all(isinstance(name, str) for name in names):
        return value
    key = names_key(names)
    if not store_names(key, names):
        return value
    _names[key] = names
    values = list(value.values())
    if all(type(v) is float for v in values):
        packed = base64.b85encode(struct.pack(f"<{len(values)}d", *values)).decode("ascii")
        if len(packed) + 4 < len(dumps(values)):
            return [key + _DOUBLES, packed]
    return [key, *values]


def packed_keys(value: Any) -> str | None:
    """The names key of a stored array (None for a dictionary or anything else)."""
    if isinstance(value, list) and value and isinstance(value[0], str):
        if len(value[0]) == _KEY_DIGITS:
            return value[0]
        if len(value[0]) == _KEY_DIGITS + 1 and value[0].endswith(_DOUBLES):
            return value[0][:_KEY_DIGITS]
    return None


def missing_names(values: Iterable[Any]) -> set[str]:
    """The names keys among stored `values` this process has not read yet."""
    return {key for value in values if (key := packed_keys(value)) is not None and key not in _names}


def learn_names(rows: Iterable[tuple[str, Any]]) -> None:
    """Keep (key, names) rows read from `metric_names` (a row whose names do not give its key is ignored)."""
    for key, names in rows:
        if isinstance(names, list) and names_key(names) == key:
            _names[key] = tuple(names)


def unpack(value: Any) -> Any:
    """A stored value as a dictionary again (a dictionary, null or anything else passes through);
    the names of an array must have been learnt (`missing_names`, `learn_names`)."""
    key = packed_keys(value)
    if key is None:
        return value
    names = _names.get(key)
    values = _doubles(value) if value[0].endswith(_DOUBLES) else value[1:]
    if names is None or len(names) != len(values):
        return {f"[name lost from the archive: {key} #{i + 1}]": v for i, v in enumerate(values)}
    return dict(zip(names, values, strict=True))


def _doubles(value: list) -> list[Any]:
    """The values of a `[key~, packed]` array (a damaged one reads as what it still holds)."""
    try:
        raw = base64.b85decode(value[1]) if len(value) == 2 and isinstance(value[1], str) else b""
    except ValueError:
        raw = b""
    return list(struct.unpack(f"<{len(raw) // 8}d", raw[: len(raw) // 8 * 8]))
