"""Exact source positions and text splices for AST-level edits.

Maps AST positions (1-based line, UTF-8 *byte* column) to character offsets, extracts node text,
finds operator tokens between two operands, and applies non-overlapping splices. Edits made here
touch only the characters they name, so comments and layout elsewhere survive byte for byte.

Must not: decide what to mutate (operators do), or parse/compile the result (the mutator does).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from adrs.program import split_lines


@dataclass(frozen=True)
class Splice:
    """Replace text[start:end] (character offsets) by `text`."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Edit:
    """One operator application: the splices to make and a one-line human description."""

    splices: tuple[Splice, ...]
    description: str


def apply_splices(text: str, splices: tuple[Splice, ...]) -> str:
    """Apply non-overlapping splices (raises ValueError on overlap, which is an operator bug)."""
    ordered = sorted(splices, key=lambda s: (s.start, s.end))
    pieces: list[str] = []
    cursor = 0
    for splice in ordered:
        if splice.start < cursor:
            raise ValueError(f"overlapping splices at offset {splice.start}")
        pieces.append(text[cursor : splice.start])
        pieces.append(splice.text)
        cursor = splice.end
    pieces.append(text[cursor:])
    return "".join(pieces)


_COMMENT_RE = re.compile(r"#[^\r\n]*")


class SourceText:
    """A program's text with line offsets, for converting AST positions to character offsets."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = split_lines(text)
        self.starts: list[int] = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))
        self.newline = "\r\n" if "\r\n" in text else "\n"

    def offset(self, lineno: int, col_bytes: int) -> int:
        """Character offset of AST position (1-based line, UTF-8 byte column)."""
        line = self.lines[lineno - 1] if lineno <= len(self.lines) else ""
        if line.isascii():
            return self.starts[lineno - 1] + col_bytes
        prefix = line.encode("utf-8", errors="surrogatepass")[:col_bytes]
        return self.starts[lineno - 1] + len(prefix.decode("utf-8", errors="ignore"))

    def span(self, node: ast.AST) -> tuple[int, int]:
        """(start, end) character offsets of a node that carries positions."""
        start = self.offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]
        end = self.offset(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]
        return start, end

    def segment(self, node: ast.AST) -> str:
        start, end = self.span(node)
        return self.text[start:end]

    def line_range(self, first: int, last: int) -> tuple[int, int]:
        """Character offsets covering whole lines first..last (1-based, inclusive, terminators kept)."""
        return self.starts[first - 1], self.starts[last]

    def line_text(self, first: int, last: int) -> str:
        """Lines first..last, each terminated with this file's newline (the last one too)."""
        start, end = self.line_range(first, last)
        return terminate(self.text[start:end], self.newline)

    def indent_of(self, lineno: int) -> str:
        line = self.lines[lineno - 1]
        return line[: len(line) - len(line.lstrip(" \t\f"))]

    def find_token(self, start: int, end: int, pattern: re.Pattern[str]) -> tuple[int, int] | None:
        """The first match of `pattern` in text[start:end], ignoring comments; absolute offsets.

        Used for operators between two operands: that gap holds only whitespace, parentheses,
        line continuations, comments and the operator itself, never a string literal.
        """
        gap = _COMMENT_RE.sub(lambda m: " " * len(m.group()), self.text[start:end])
        match = pattern.search(gap)
        if match is None:
            return None
        return start + match.start(), start + match.end()


def terminate(text: str, newline: str) -> str:
    """`text` with a newline at its end if it lacks one."""
    if text and not text.endswith(("\n", "\r")):
        return text + newline
    return text


def reindent(text: str, old_indent: str, new_indent: str, newline: str) -> str:
    """Move a block of whole lines from `old_indent` to `new_indent`, normalising line endings."""
    out: list[str] = []
    for line in split_lines(text):
        body = line.rstrip("\r\n")
        if not body.strip():
            out.append(newline)
        elif body.startswith(old_indent):
            out.append(new_indent + body[len(old_indent) :] + newline)
        else:  # a continuation line indented less than the block (inside brackets): leave it
            out.append(body + newline)
    return "".join(out)
