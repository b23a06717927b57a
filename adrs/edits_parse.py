"""Finding the edits in a model's reply: SEARCH/REPLACE blocks, else a full rewrite's code block.

Owns `parse_reply` (tolerant of code fences around either half of a block, spaces around the
markers and reasoning models' <think> drafts; a malformed block or an unclosed fence is a
`problem`, not an exception), the records it returns (`ParsedReply`, `SearchReplace`), the model's own one-line
summary of its idea, and `line_body` (a line without its line ending), which applying the edits
uses too. A reply without blocks is a full rewrite: its first fenced code block (the first one
that looks like the program, if several do not).

Must not: apply the edits to a program or judge the child (edits.py and edits_rewrite.py do),
call models, or touch the archive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from adrs.program import START_MARKER, split_lines

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


def line_body(line: str) -> str:
    """The line without its line ending."""
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
    lines = [line_body(line) for line in split_lines(reply)]
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
