"""Where the last gain came from: the lines of a program that the edit which created it changed.

Owns: reading those line numbers from a program's stored diff against its parent (the new side
of each hunk), and deciding whether a parent's creation was a gain worth following: the
adaptive search asks the offline mutator to prefer edits on those lines when it exploits that
parent (a knob that just paid off, like a sample count raised from 10 to 11, is likely to pay
again), and tells an LLM in words what the last gain was.

Must not: parse programs or choose parents.
"""

from __future__ import annotations

import re

from adrs.archive.elites import Elites
from adrs.archive.records import ProgramRecord, ProgramStatus

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")
MAX_FOCUS_LINES = 12  # a larger change is not a place to focus on


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
