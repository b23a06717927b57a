"""Where the last gain came from: the lines of a program that the edit which created it changed.

Owns: reading those line numbers from a program's stored diff against its parent (the new side
of each hunk), the numeric `Step`s of that diff (a line whose only change is one or more numbers:
which value became which), and deciding whether a parent's creation was a gain worth following:
the adaptive search asks the offline mutator to prefer edits on those lines when it exploits that
parent (a knob that just paid off, like a sample count raised from 10 to 11, is likely to pay
again), to push its steps further (adrs/mutate/offline/momentum.py), and tells an LLM in words
what the last gain was.

Must not: parse programs or choose parents.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from adrs.archive.elites import Elites
from adrs.archive.records import ProgramRecord, ProgramStatus

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")
MAX_FOCUS_LINES = 12  # a larger change is not a place to focus on
# The offline mutator's operator name for a momentum edit (a gain's number pushed further): the head of
# the stored description of such a child, which is how the adaptive search counts pushes without a gain.
PUSH_OPERATOR = "extrapolate_constant"
MAX_STEPS = 4  # numbers changed by one edit that still read as a direction (a larger change is a rewrite)
# A decimal literal not glued to a name, attribute or another number (so `x1`, `a.5` and `1e5x` are not numbers).
_NUMBER = re.compile(r"(?<![\w.])(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w.])")


@dataclass(frozen=True)
class Step:
    """One number an edit changed: on `line` (1-based, in the edited program) `before` became `after`."""

    line: int
    before: int | float
    after: int | float


def changed_lines(diff: str) -> tuple[int, ...]:
    """1-based line numbers, in the new program, of the lines a unified diff adds or changes."""
    lines: list[int] = []
    number = 0
    for text in diff.splitlines():
        header = _HUNK.match(text)
        if header:
            number = int(header.group(1))
            continue
        if text.startswith(("---", "+++")) or number == 0:
            continue
        if text.startswith("+"):
            lines.append(number)
            number += 1
        elif text.startswith(" "):
            number += 1
    return tuple(lines)


def gain_of(program: ProgramRecord, view: Elites) -> ProgramRecord | None:
    """The program's original record when its creation improved on its parent's score, else None."""
    original = view.programs.get(program.migrated_from) if program.migrated_from is not None else program
    if original is None or original.parent_id is None or not original.complete or original.score is None:
        return None
    parent = view.programs.get(original.parent_id)
    if parent is None or parent.status != ProgramStatus.EVALUATED or parent.score is None:
        return None
    return original if original.score > parent.score else None


def focus_of(program: ProgramRecord, view: Elites) -> tuple[int, ...]:
    """The lines to prefer when mutating `program`: those its own gain changed (none: no gain, or too many)."""
    gain = gain_of(program, view)
    if gain is None:
        return ()
    lines = changed_lines(gain.diff)
    return lines if 0 < len(lines) <= MAX_FOCUS_LINES else ()


def _numbers(line: str) -> tuple[str, list[int | float]]:
    """The line with its numbers blanked out, and the numbers."""
    values: list[int | float] = []
    for text in _NUMBER.findall(line):
        try:
            value = ast.literal_eval(text.replace("_", ""))
        except (ValueError, SyntaxError):
            return line, []
        values.append(value)
    return _NUMBER.sub("#", line), values


def numeric_steps(diff: str) -> tuple[Step, ...]:
    """The numbers a unified diff changed on lines that differ in nothing else (pairs of -/+ lines)."""
    steps: list[Step] = []
    removed: list[str] = []
    added: list[tuple[int, str]] = []
    number = 0

    def flush() -> None:
        if removed and len(removed) == len(added):
            for old, (line, new) in zip(removed, added, strict=True):
                old_shape, old_values = _numbers(old)
                new_shape, new_values = _numbers(new)
                if old_shape != new_shape or len(old_values) != len(new_values):
                    continue
                steps.extend(Step(line, a, b) for a, b in zip(old_values, new_values, strict=True) if a != b)
        removed.clear()
        added.clear()

    for text in diff.splitlines():
        header = _HUNK.match(text)
        if header:
            flush()
            number = int(header.group(1))
            continue
        if text.startswith(("---", "+++")) or number == 0:
            continue
        if text.startswith("-"):
            if added:
                flush()
            removed.append(text[1:])
        elif text.startswith("+"):
            added.append((number, text[1:]))
            number += 1
        else:
            flush()
            number += 1
    flush()
    return tuple(steps) if len(steps) <= MAX_STEPS else ()


def momentum_of(program: ProgramRecord, view: Elites) -> tuple[Step, ...]:
    """The numbers whose change created `program` with a gain over its parent (none: no gain, or no numbers)."""
    gain = gain_of(program, view)
    return numeric_steps(gain.diff) if gain is not None else ()
