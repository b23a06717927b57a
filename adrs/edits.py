"""Turning a model's reply into a child program: SEARCH/REPLACE blocks and full rewrites.

Owns: the failure kinds of a proposal that produced no program, `apply_reply` (the pipeline:
find the edits, apply them, check the child), applying SEARCH/REPLACE blocks to the parent
(tolerant of trailing spaces and indentation drift, exact matches preferred, a part of a line as
the last resort), and checking the child: frozen text and EVOLVE-BLOCK markers preserved, the
child compiles, the child differs from the parent. Every refusal is an `EditResult` with a failure
kind and a message written to be shown in the next prompt. Finding the edits in free text is
edits_parse.py's; turning a full rewrite into a child is edits_rewrite.py's.

A reply holding SEARCH/REPLACE blocks is applied as a diff, all blocks or none (a half-applied
edit can leave a renamed function with stale callers).

Must not: call models, build prompts, touch the archive, or run the program (`compile` only).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from adrs.edits_parse import ParsedReply, SearchReplace, line_body, parse_reply
from adrs.edits_rewrite import rewrite_to_child
from adrs.program import END_MARKER, START_MARKER, check_edit_allowed, compiles, normalized_hash, split_lines

# Failure kinds of a proposal that produced no program (the engine adds "duplicate" of the archive).
NO_EDIT = "no_edit"
SEARCH_NOT_FOUND = "search_not_found"
SYNTAX = "syntax"
MARKER_VIOLATION = "marker_violation"
DUPLICATE = "duplicate"
EDIT_FAILURE_KINDS = (NO_EDIT, SEARCH_NOT_FOUND, SYNTAX, MARKER_VIOLATION, DUPLICATE)


@dataclass(frozen=True)
class EditResult:
    code: str | None  # the child, or None when the edit was refused
    parsed: ParsedReply
    kind: str | None = None  # one of EDIT_FAILURE_KINDS when refused
    message: str = ""
    matches: tuple[str, ...] = ()  # how each block matched: exact, whitespace, indentation, substring; or rewrite

    @property
    def ok(self) -> bool:
        return self.code is not None


# applying SEARCH/REPLACE -----------------------------------------------------------------------
@dataclass(frozen=True)
class _Match:
    first: int  # 0-based index of the first matched line
    count: int
    how: str
    shift: int  # indentation to add to the replacement (negative: remove)


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip(" \t"))


def _find(lines: list[str], search: list[str]) -> list[_Match]:
    """All windows of `lines` equal to `search` at the strictest tier that has any."""
    bodies = [line_body(line) for line in lines]
    stripped_search = [s.rstrip() for s in search]
    n = len(search)
    windows = [(first, bodies[first : first + n]) for first in range(len(bodies) - n + 1)]
    exact = [_Match(first, n, "exact", 0) for first, window in windows if window == search]
    if exact:
        return exact
    loose = [
        _Match(first, n, "whitespace", 0)
        for first, window in windows
        if [w.rstrip() for w in window] == stripped_search
    ]
    if loose:
        return loose
    shifted = [(first, _uniform_shift(window, search)) for first, window in windows]
    return [_Match(first, n, "indentation", shift) for first, shift in shifted if shift is not None]


def _uniform_shift(window: list[str], search: list[str]) -> int | None:
    shift: int | None = None
    for have, want in zip(window, search, strict=True):
        if not want.strip():
            if have.strip():
                return None
            continue
        if have.strip() != want.strip():
            return None
        delta = _indent(have) - _indent(want)
        if shift is None:
            shift = delta
        elif delta != shift:
            return None
    return shift


def _shifted(lines: list[str], shift: int) -> list[str]:
    if shift > 0:
        return [" " * shift + line if line.strip() else line for line in lines]
    if shift < 0:
        return [line[min(-shift, _indent(line)) :] if line.strip() else line for line in lines]
    return lines


def _trim_blank_ends(search: list[str], replace: list[str]) -> tuple[list[str], list[str]]:
    """Blank lines around a SEARCH text are rarely meant literally; trim them (from REPLACE too, where it has them)."""
    while search and not search[0].strip():
        search = search[1:]
        if replace and not replace[0].strip():
            replace = replace[1:]
    while search and not search[-1].strip():
        search = search[:-1]
        if replace and not replace[-1].strip():
            replace = replace[:-1]
    return search, replace


def _splice(lines: list[str], match: _Match, replace: list[str], newline: str) -> str:
    last = lines[match.first + match.count - 1]
    ending = last[len(line_body(last)) :]  # keep the file's final-line state (terminated or not)
    new = [line + newline for line in _shifted(replace, match.shift)]
    if new and not ending:
        new[-1] = new[-1][: -len(newline)]
    return "".join(lines[: match.first] + new + lines[match.first + match.count :])


def _substring_edit(code: str, block: SearchReplace, newline: str) -> str | None:
    """Last resort for a SEARCH text that is part of a line: its first exact occurrence that stays in the regions."""
    search = block.search.strip("\n").replace("\n", newline)
    if not search.strip():
        return None
    replace = block.replace.strip("\n").replace("\n", newline)
    start = code.find(search)
    while start >= 0:
        child = code[:start] + replace + code[start + len(search) :]
        if check_edit_allowed(code, child) is None:
            return child
        start = code.find(search, start + 1)
    return None


def _closest_hint(lines: list[str], search: list[str]) -> str:
    wanted = next((s.strip() for s in search if s.strip()), "")
    bodies = [line_body(line).strip() for line in lines]
    close = difflib.get_close_matches(wanted, bodies, n=1, cutoff=0.6)
    if not close:
        return ""
    line_no = bodies.index(close[0]) + 1
    return f"; the closest line in the parent is line {line_no}: {close[0]!r}"


def apply_blocks(parent: str, blocks: tuple[SearchReplace, ...]) -> tuple[str | None, str | None, str, tuple[str, ...]]:
    """Apply every block in order: (child, failure kind, message, how each block matched)."""
    newline = "\r\n" if "\r\n" in parent else "\n"
    current = parent
    hows: list[str] = []
    for number, block in enumerate(blocks, 1):
        search, replace = _trim_blank_ends(block.search.split("\n"), block.replace.split("\n"))
        if not search:
            return (
                None,
                NO_EDIT,
                f"SEARCH/REPLACE block {number} has an empty SEARCH section: copy the lines to replace",
                tuple(hows),
            )
        lines = split_lines(current)
        matches = _find(lines, search)
        if not matches:
            child = _substring_edit(current, block, newline)
            if child is not None:
                current = child
                hows.append("substring")
                continue
            hint = _closest_hint(lines, search)
            message = f"SEARCH/REPLACE block {number}: the SEARCH text does not occur in the program{hint}"
            return None, SEARCH_NOT_FOUND, message, tuple(hows)
        reason = ""
        for match in matches:  # prefer an occurrence whose edit stays inside the EVOLVE-BLOCK regions
            child = _splice(lines, match, replace, newline)
            reason = check_edit_allowed(current, child) or ""
            if not reason:
                current = child
                hows.append(match.how)
                break
        else:
            return None, MARKER_VIOLATION, f"SEARCH/REPLACE block {number} {_violation(reason)}", tuple(hows)
    return current, None, "", tuple(hows)


def _violation(reason: str) -> str:
    if "outside the EVOLVE-BLOCK" in reason:
        return f"edits frozen code ({reason}); change only the lines between {START_MARKER} and {END_MARKER}"
    return f"breaks the EVOLVE-BLOCK markers ({reason}); keep the marker lines as they are"


# the whole pipeline ----------------------------------------------------------------------------
def apply_reply(parent: str, reply: str) -> EditResult:
    """Parse `reply`, apply its edits to `parent` and check the child; never raises for bad replies."""
    parsed = parse_reply(reply)
    if parsed.problem:
        return EditResult(None, parsed, NO_EDIT, parsed.problem)
    if parsed.blocks:
        child, kind, message, hows = apply_blocks(parent, parsed.blocks)
        if child is None:
            return EditResult(None, parsed, kind, message, hows)
    elif parsed.rewrite is not None:
        child, reason = rewrite_to_child(parent, parsed.rewrite)
        hows = ("rewrite",)
        if child is None:
            return EditResult(None, parsed, MARKER_VIOLATION, reason, hows)
    else:
        return EditResult(None, parsed, NO_EDIT, "the reply holds no SEARCH/REPLACE block and no fenced code block")
    return check_child(parent, child, parsed, hows)


def check_child(parent: str, child: str, parsed: ParsedReply, hows: tuple[str, ...]) -> EditResult:
    reason = check_edit_allowed(parent, child)
    if reason:
        return EditResult(None, parsed, MARKER_VIOLATION, _violation(reason), hows)
    error = compiles(child)
    if error is not None:
        line = _line_of(child, error)
        return EditResult(None, parsed, SYNTAX, f"the edited program does not compile: {error}{line}", hows)
    if normalized_hash(child) == normalized_hash(parent):
        return EditResult(
            None, parsed, DUPLICATE, "the edit leaves the program unchanged (up to comments and layout)", hows
        )
    return EditResult(child, parsed, None, "", hows)


def _line_of(code: str, error: str) -> str:
    found = re.match(r"line (\d+):", error)
    lines = split_lines(code)
    if not found or not 0 < int(found.group(1)) <= len(lines):
        return ""
    return f" (the line reads {line_body(lines[int(found.group(1)) - 1]).strip()!r})"
