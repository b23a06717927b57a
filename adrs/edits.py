"""Turning a model's reply into a child program: SEARCH/REPLACE blocks and full rewrites.

Owns: finding the edits in free text (tolerant of code fences, trailing spaces and indentation
drift, exact matches preferred), applying them to the parent, and checking the child: frozen text
and EVOLVE-BLOCK markers preserved, the child compiles, the child differs from the parent. Every
refusal is an `EditResult` with a failure kind and a message written to be shown in the next prompt.

A reply holding SEARCH/REPLACE blocks is applied as a diff, all blocks or none (a half-applied
edit can leave a renamed function with stale callers). A reply without blocks is a full rewrite:
its first fenced code block (the first one that looks like the program, if several do not).

Must not: call models, build prompts, touch the archive, or run the program (`compile` only).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from adrs.program import (
    END_MARKER,
    START_MARKER,
    MarkerError,
    check_edit_allowed,
    compiles,
    normalized_hash,
    regions_of_lines,
    split_lines,
)

# Failure kinds of a proposal that produced no program (the engine adds "duplicate" of the archive).
NO_EDIT = "no_edit"
SEARCH_NOT_FOUND = "search_not_found"
SYNTAX = "syntax"
MARKER_VIOLATION = "marker_violation"
DUPLICATE = "duplicate"
EDIT_FAILURE_KINDS = (NO_EDIT, SEARCH_NOT_FOUND, SYNTAX, MARKER_VIOLATION, DUPLICATE)

_SEARCH_RE = re.compile(r"^\s*<{5,}\s*SEARCH\b.*$")
_DIVIDER_RE = re.compile(r"^\s*={5,}\s*$")
_REPLACE_RE = re.compile(r"^\s*>{5,}\s*(?:REPLACE\b.*)?$")
_FENCE_RE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+.-]*)\s*$")
_THINK_RE = re.compile(r"<think>.*?</think>", re.DOTALL)


@dataclass(frozen=True)
class SearchReplace:
    search: str
    replace: str


@dataclass(frozen=True)
class ParsedReply:
    """What was found in a reply: SEARCH/REPLACE blocks, else the code of a full rewrite."""

    blocks: tuple[SearchReplace, ...] = ()
    rewrite: str | None = None
    summary: str = ""  # the model's own one-line account of its idea, if it gave one
    problem: str = ""  # why the reply could not be read (malformed block, unclosed fence)


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


def _body(line: str) -> str:
    return line.rstrip("\r\n")


def _strip_inner_fence(lines: list[str]) -> list[str]:
    """Drop a fence line that opens or closes a SEARCH/REPLACE section (some models fence each half)."""
    if lines and _FENCE_RE.match(lines[0]):
        lines = lines[1:]
    if lines and _FENCE_RE.match(lines[-1]):
        lines = lines[:-1]
    return lines


def _summary(lines: list[str]) -> str:
    for line in lines:
        text = line.strip().lstrip("#*->").strip().strip("*").strip()
        if text and not _FENCE_RE.match(line):
            return text[:200]
    return ""


def parse_reply(reply: str) -> ParsedReply:
    """Find SEARCH/REPLACE blocks in `reply`, or else its full-rewrite code block."""
    reply = _THINK_RE.sub("", reply)  # reasoning models' drafts are not the answer
    lines = [_body(line) for line in split_lines(reply)]
    blocks: list[SearchReplace] = []
    prose: list[str] = []
    index = 0
    while index < len(lines):
        if not _SEARCH_RE.match(lines[index]):
            prose.append(lines[index])
            index += 1
            continue
        divider = next((k for k in range(index + 1, len(lines)) if _DIVIDER_RE.match(lines[k])), None)
        end = (
            None
            if divider is None
            else next((k for k in range(divider + 1, len(lines)) if _REPLACE_RE.match(lines[k])), None)
        )
        if divider is None or end is None:
            what = "has no ======= divider" if divider is None else "is not closed by >>>>>>> REPLACE"
            return ParsedReply(tuple(blocks), summary=_summary(prose), problem=f"SEARCH block {len(blocks) + 1} {what}")
        search = _strip_inner_fence(lines[index + 1 : divider])
        replace = _strip_inner_fence(lines[divider + 1 : end])
        blocks.append(SearchReplace("\n".join(search), "\n".join(replace)))
        index = end + 1
    if blocks:
        return ParsedReply(tuple(blocks), summary=_summary(prose))
    return _parse_rewrite(lines)


def _closes(line: str, fence: str) -> bool:
    """A closing fence: only fence characters, at least as many as the opening one."""
    text = line.strip()
    return len(text) >= len(fence) and text == fence[0] * len(text)


def _parse_rewrite(lines: list[str]) -> ParsedReply:
    fenced: list[str] = []
    prose: list[str] = []
    index = 0
    while index < len(lines):
        opening = _FENCE_RE.match(lines[index])
        if opening is None:
            prose.append(lines[index])
            index += 1
            continue
        fence = opening.group(1)
        close = next((k for k in range(index + 1, len(lines)) if _closes(lines[k], fence)), None)
        if close is None:
            if not fenced:
                problem = "the code block is not closed (was the reply cut off at max_tokens?)"
                return ParsedReply(summary=_summary(prose), problem=problem)
            break
        fenced.append("\n".join(lines[index + 1 : close]) + "\n")
        index = close + 1
    if not fenced:
        return ParsedReply(summary=_summary(prose))
    # The first block, unless a later one is clearly the program and the first is not.
    looks_like_program = [code for code in fenced if START_MARKER in code or re.search(r"^\s*def ", code, re.M)]
    chosen = fenced[0] if fenced[0] in looks_like_program or not looks_like_program else looks_like_program[0]
    return ParsedReply(rewrite=chosen, summary=_summary(prose))


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
    bodies = [_body(line) for line in lines]
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
    ending = last[len(_body(last)) :]  # keep the file's final-line state (terminated or not)
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
    bodies = [_body(line).strip() for line in lines]
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


# applying a full rewrite -----------------------------------------------------------------------
def _normalised(text: str) -> list[str]:
    return [_body(line).rstrip() for line in split_lines(text) if line.strip()]


def _drop_echo(body: list[str], frozen: list[str], *, at_end: bool) -> list[str]:
    """Remove a copy of frozen text (ignoring blank lines and trailing spaces) from one end of `body`."""
    wanted = [line.rstrip() for line in frozen if line.strip() and START_MARKER not in line and END_MARKER not in line]
    if not wanted:
        return body
    seq = list(reversed(body)) if at_end else list(body)
    wanted = list(reversed(wanted)) if at_end else wanted
    position, matched = 0, 0
    while position < len(seq) and matched < len(wanted):
        if not seq[position].strip():
            position += 1
            continue
        if _body(seq[position]).rstrip() != wanted[matched]:
            return body
        position += 1
        matched += 1
    if matched < len(wanted):
        return body
    rest = seq[position:]
    return list(reversed(rest)) if at_end else rest


def _frozen_chunks(lines: list[str], regions: list) -> list[list[str]]:
    """The lines before, between and after the regions (marker lines included)."""
    bounds = [0, *(edge for r in regions for edge in (r.start, r.end)), len(lines)]
    return [lines[bounds[k] : bounds[k + 1]] for k in range(0, len(bounds), 2)]


def _terminated(lines: list[str], newline: str) -> list[str]:
    if lines and not lines[-1].endswith(("\n", "\r")):
        return [*lines[:-1], lines[-1] + newline]
    return lines


def rewrite_to_child(parent: str, rewrite: str) -> tuple[str | None, str]:
    """The child a full rewrite stands for, with the parent's frozen text kept byte for byte; or a reason."""
    newline = "\r\n" if "\r\n" in parent else "\n"
    parent_lines = split_lines(parent)
    try:
        regions = regions_of_lines(parent_lines)
    except MarkerError as error:
        return None, f"the parent's EVOLVE-BLOCK markers are broken: {error}"
    marked = any(START_MARKER in line or END_MARKER in line for line in parent_lines)
    new_lines = split_lines(rewrite)
    if not marked:
        return rewrite, ""
    frozen = _frozen_chunks(parent_lines, regions)
    if any(START_MARKER in line or END_MARKER in line for line in new_lines):
        try:
            new_regions = regions_of_lines(new_lines)
        except MarkerError as error:
            return None, f"the rewrite's EVOLVE-BLOCK markers are broken: {error}"
        if len(new_regions) != len(regions):
            return None, f"the rewrite has {len(new_regions)} EVOLVE-BLOCK regions, the parent {len(regions)}"
        for k, (old, new) in enumerate(zip(frozen, _frozen_chunks(new_lines, new_regions), strict=True)):
            if _normalised("".join(old)) != _normalised("".join(new)):
                where = "before the first" if k == 0 else ("after the last" if k == len(frozen) - 1 else "between")
                return (
                    None,
                    f"the rewrite changes frozen code {where} EVOLVE-BLOCK region; change only the code between the "
                    f"markers",
                )
        bodies = [new_lines[r.start : r.end] for r in new_regions]
    elif len(regions) == 1:
        body = _drop_echo(new_lines, frozen[0], at_end=False)
        bodies = [_drop_echo(body, frozen[1], at_end=True)]
    else:
        return (
            None,
            f"the rewrite has no EVOLVE-BLOCK markers but the parent has {len(regions)} regions: return the whole "
            f"program with its markers",
        )
    out: list[str] = list(frozen[0])
    for body, after in zip(bodies, frozen[1:], strict=True):
        out += _terminated(list(body), newline) + after
    return "".join(out), ""


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
    return f" (the line reads {_body(lines[int(found.group(1)) - 1]).strip()!r})"
