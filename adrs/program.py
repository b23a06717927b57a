"""Program text as the engine sees it: EVOLVE-BLOCK regions, frozen parts, hashing, diffs, compile checks,
and whether text is UTF-8 at all.

A program marks its evolvable code between a line containing ``EVOLVE-BLOCK-START`` and a line
containing ``EVOLVE-BLOCK-END`` (usually ``# EVOLVE-BLOCK-START``). Several regions are allowed; a
file without any marker is evolvable as a whole. Everything outside the regions, the marker lines
included, is *frozen*: a child may only differ from its parent between the markers.

Lines are split the way Python's tokenizer counts them (``\\n``, ``\\r\\n`` or a lone ``\\r``), so
region indices agree with the line numbers in AST nodes.

A program is UTF-8 text, as Python requires of source files. A program file whose bytes do not
decode (`read_program` raises NotUTF8), or a string that cannot be written as UTF-8 (lone
surrogates, which a model's JSON reply can carry: `utf8_problem`), is a candidate that does not
compile: its evaluation is a recorded failure of kind `syntax` (evaluate/runner.py), never a
traceback.

Must not: import, execute or evaluate the program text it is given (``compile`` only), or know
anything about mutators, prompts or the archive.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import os
import re
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

START_MARKER = "EVOLVE-BLOCK-START"
END_MARKER = "EVOLVE-BLOCK-END"

# One physical line with its terminator, or a final line without one.
_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


class MarkerError(ValueError):
    """The EVOLVE-BLOCK markers are unbalanced, nested or unmatched; `line` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass(frozen=True)
class Region:
    """0-based line indices: `start` is the first line after the START marker, `end` the END marker line."""

    start: int
    end: int


def split_lines(code: str) -> list[str]:
    """The physical lines of `code`, terminators kept, numbered as Python's tokenizer numbers them."""
    return _LINE_RE.findall(code)


def _has_markers(lines: list[str]) -> bool:
    return any(START_MARKER in line or END_MARKER in line for line in lines)


def regions_of_lines(lines: list[str]) -> list[Region]:
    """find_regions for code already split with split_lines (saves a second split)."""
    regions: list[Region] = []
    open_at: int | None = None
    for index, line in enumerate(lines):
        has_start = START_MARKER in line
        has_end = END_MARKER in line
        if has_start and has_end:
            raise MarkerError(index + 1, f"{START_MARKER} and {END_MARKER} on the same line")
        if has_start:
            if open_at is not None:
                raise MarkerError(
                    index + 1,
                    f"nested {START_MARKER} (the block opened on line {open_at + 1} is not closed)",
                )
            open_at = index
        elif has_end:
            if open_at is None:
                raise MarkerError(index + 1, f"{END_MARKER} without a matching {START_MARKER}")
            regions.append(Region(open_at + 1, index))
            open_at = None
    if open_at is not None:
        raise MarkerError(open_at + 1, f"{START_MARKER} is never closed by an {END_MARKER}")
    if not regions:
        # No markers at all: the whole file is evolvable.
        return [Region(0, len(lines))]
    return regions


def find_regions(code: str) -> list[Region]:
    """The evolvable regions of `code`, in order; raises MarkerError naming the offending line."""
    return regions_of_lines(split_lines(code))


def _frozen_parts_of_lines(lines: list[str], regions: list[Region]) -> list[str]:
    parts: list[str] = []
    previous_end = 0
    for region in regions:
        parts.append("".join(lines[previous_end : region.start]))
        previous_end = region.end
    parts.append("".join(lines[previous_end:]))
    return parts


def frozen_parts(code: str) -> list[str]:
    """The text outside the regions (marker lines included), in order: one more part than regions."""
    lines = split_lines(code)
    return _frozen_parts_of_lines(lines, regions_of_lines(lines))


def check_edit_allowed(parent: str, child: str) -> str | None:
    """Why `child` is not an allowed edit of `parent` (markers broken, frozen text changed), or None."""
    parent_lines = split_lines(parent)
    child_lines = split_lines(child)
    try:
        parent_regions = regions_of_lines(parent_lines)
    except MarkerError as error:
        return f"the parent's EVOLVE-BLOCK markers are broken: {error}"
    try:
        child_regions = regions_of_lines(child_lines)
    except MarkerError as error:
        return f"EVOLVE-BLOCK markers broken: {error}"
    parent_marked = _has_markers(parent_lines)
    if parent_marked != _has_markers(child_lines):
        return "EVOLVE-BLOCK markers were added" if not parent_marked else "EVOLVE-BLOCK markers were removed"
    if len(child_regions) != len(parent_regions):
        return f"the child has {len(child_regions)} EVOLVE-BLOCK regions, the parent {len(parent_regions)}"
    parent_parts = _frozen_parts_of_lines(parent_lines, parent_regions)
    child_parts = _frozen_parts_of_lines(child_lines, child_regions)
    for index, (before, after) in enumerate(zip(parent_parts, child_parts, strict=True)):
        if before == after:
            continue
        first_line = 0 if index == 0 else child_regions[index - 1].end
        old, new = split_lines(before), split_lines(after)
        offset = next((k for k, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), min(len(old), len(new)))
        return f"line {first_line + offset + 1}: text outside the EVOLVE-BLOCK regions was changed"
    return None


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()


def tree_hash(tree: ast.AST) -> str:
    """normalized_hash of already parsed code (saves a second parse when the caller has the tree)."""
    return _sha256("ast\0" + ast.dump(tree, include_attributes=False))


def normalized_hash(code: str) -> str:
    """sha256 of the code's AST (comments, blank lines, layout ignored), or of its stripped text."""
    known = _recent_hashes.get(code)
    if known is not None:
        return known
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes etc. must not spam the engine's log
            tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        stripped = "\n".join(line.rstrip() for line in split_lines(code) if line.strip())
        return remember_hash(code, _sha256("text\0" + stripped))
    return remember_hash(code, tree_hash(tree))


# The hashes of the last codes hashed: a proposal's hash is asked for by its mutator, the duplicate
# check and the pending write, and parsing and dumping the tree is the costly part.
_RECENT_HASHES = 64
_recent_hashes: OrderedDict[str, str] = OrderedDict()


def remember_hash(code: str, digest: str) -> str:
    """Note `digest` as `normalized_hash(code)` (a caller that hashed `ast.parse(code)` with `tree_hash`)."""
    _recent_hashes[code] = digest
    _recent_hashes.move_to_end(code)
    while len(_recent_hashes) > _RECENT_HASHES:
        _recent_hashes.popitem(last=False)
    return digest


def _terminated(lines: list[str]) -> list[str]:
    # difflib needs every line terminated; mark a missing final newline the way diff(1) does.
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines = [*lines[:-1], lines[-1] + "\n\\ No newline at end of file\n"]
    return lines


def unified_diff(old: str, new: str, old_name: str = "parent", new_name: str = "child") -> str:
    """A unified diff from `old` to `new` ("" when equal)."""
    old_lines = _terminated(split_lines(old))
    new_lines = _terminated(split_lines(new))
    return "".join(difflib.unified_diff(old_lines, new_lines, fromfile=old_name, tofile=new_name))


def change_summary(old: str, new: str, width: int = 60) -> str:
    """One line naming the first change from `old` to `new`, e.g. "line 12: `a = 0.5` -> `a = 0.6` (+2 more)".

    Stripped lines, each cut to `width` characters; "" when the texts are equal line for line."""
    old_lines = [line.strip() for line in split_lines(old)]
    new_lines = [line.strip() for line in split_lines(new)]
    changes = [op for op in difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False).get_opcodes()]
    changes = [op for op in changes if op[0] != "equal"]
    if not changes:
        return ""

    def shown(lines: list[str]) -> str:
        text = next((line for line in lines if line), "")
        return f"`{text[:width]}{'…' if len(text) > width else ''}`" if text else "nothing"

    _tag, i1, i2, j1, j2 = changes[0]
    more = sum(max(a2 - a1, b2 - b1) for _t, a1, a2, b1, b2 in changes) - 1
    extra = f" (+{more} more changed lines)" if more else ""
    return f"line {i1 + 1}: {shown(old_lines[i1:i2])} -> {shown(new_lines[j1:j2])}{extra}"


def _nul_line(code: str) -> int:
    # compile() reports a NUL byte without a line number
    nul = code.find("\0")
    return code.count("\n", 0, nul) + 1 if nul >= 0 else 1


def compiles(code: str) -> str | None:
    """None if `code` compiles as a module, else "line N: message"."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(code, "<candidate>", "exec", dont_inherit=True)
    except SyntaxError as error:  # IndentationError and TabError included
        return f"line {error.lineno or _nul_line(code)}: {error.msg}"
    except ValueError as error:  # a NUL byte, on Python versions that raise ValueError for it
        return f"line {_nul_line(code)}: {error}"
    except (RecursionError, MemoryError):
        return "line 1: too deeply nested to compile"
    return None


class NotUTF8(ValueError):
    """A program file whose bytes are not UTF-8 text; the message names the file, line and column."""


def read_program(path: str | os.PathLike[str]) -> str:
    """The text of a program file; NotUTF8 when its bytes do not decode."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        byte = data[error.start]
        where = f"line {line}, column {column}"
        raise NotUTF8(f"{path}: not UTF-8 text: byte 0x{byte:02x} at {where} ({error.reason})") from None


def utf8_problem(code: str) -> str | None:
    """Why `code` cannot be written as UTF-8 (a lone surrogate, and where), or None."""
    try:
        code.encode("utf-8")
    except UnicodeEncodeError as error:
        line = code.count("\n", 0, error.start) + 1
        column = error.start - (code.rfind("\n", 0, error.start) + 1) + 1
        return f"not UTF-8 text: U+{ord(code[error.start]):04X} (a lone surrogate) at line {line}, column {column}"
    return None
