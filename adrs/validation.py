"""The rules numeric settings must follow, in one place for run settings and problem.toml.

Owns: `problem_with(value, ...)`, the phrase that says why a number does not fit its rule (not a
number, not whole, not finite, out of range), and `SettingError`, raised by `require` with the
setting's name in front. RunConfig and SelectionConfig check every field with it when they are
built, so `adrs run`, `adrs resume` and `adrs.evolve(...)` refuse the same values with the same
message; problem_toml.py wraps the same phrases into ProblemError with the file and the key.

Must not: know any setting's name or default (the records that own them do).
"""

from __future__ import annotations

import math
from typing import Any


class SettingError(ValueError):
    """A run setting that cannot be used; the message names it (and its command-line flag)."""


def problem_with(
    value: Any,
    *,
    whole: bool = False,
    at_least: float | None = None,
    above: float | None = None,
    at_most: float | None = None,
    below: float | None = None,
) -> str | None:
    """Why `value` breaks the rule, as a phrase; None when it fits."""
    kind = "a whole number" if whole else "a number"
    if isinstance(value, bool) or not isinstance(value, int | float) or (whole and not isinstance(value, int)):
        return f"expected {kind}, got {value!r}"
    if not math.isfinite(value):
        return f"expected a finite number, got {value!r}"
    if at_least is not None and value < at_least:
        return f"must be at least {at_least:g}, got {value!r}"
    if above is not None and value <= above:
        return f"must be greater than {above:g}, got {value!r}"
    if at_most is not None and value > at_most:
        return f"must be at most {at_most:g}, got {value!r}"
    if below is not None and value >= below:
        return f"must be less than {below:g}, got {value!r}"
    return None


def require(name: str, value: Any, *, optional: bool = False, **rule: Any) -> None:
    """Raise SettingError("NAME: why") unless `value` fits the rule (or is None, when `optional`)."""
    if optional and value is None:
        return
    phrase = problem_with(value, **rule)
    if phrase is not None:
        raise SettingError(f"{name}: {phrase}")
