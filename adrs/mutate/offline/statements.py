"""Statement-level operators: delete, duplicate, or swap two adjacent statements of a block.

They work on whole lines of statements that own their lines (no `a; b`, no `if x: y`), lying
inside one EVOLVE-BLOCK region. A block is never left empty: deleting its only statement leaves
`pass`. Definitions, imports, `global`/`nonlocal` and docstrings are left alone (removing or
moving them breaks programs without exploring anything), and a copy of a terminal statement
(`return`, `raise`, `break`, `continue`) would only add dead code, so it is not made.

Must not: edit inside a statement (expression operators do that) or leave a region.
"""

from __future__ import annotations

import ast
import random
from collections.abc import Sequence

from adrs.mutate.offline.sites import DEFS, Analysis, Block, StmtInfo
from adrs.mutate.offline.splices import Edit, Splice

_STRUCTURAL = (*DEFS, ast.Import, ast.ImportFrom, ast.Global, ast.Nonlocal)
_TERMINAL = (ast.Return, ast.Raise, ast.Break, ast.Continue)


def _is_docstring(info: StmtInfo) -> bool:
    node = info.node
    return (
        info.index == 0
        and isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _movable(info: StmtInfo) -> bool:
    """Owns its lines, inside a region, and not structural."""
    return info.owns_lines and info.region >= 0 and not isinstance(info.node, _STRUCTURAL) and not _is_docstring(info)


def _summary(analysis: Analysis, info: StmtInfo) -> str:
    first_line = analysis.src.lines[info.first - 1].strip()
    text = first_line if len(first_line) <= 40 else first_line[:37] + "..."
    where = f"line {info.first}" if info.first == info.last else f"lines {info.first}-{info.last}"
    return f"`{text}` on {where}"


def delete_stmt(analysis: Analysis, rng: random.Random, inspirations: Sequence[Analysis]) -> Edit | None:
    sites = [
        (block, info)
        for block in analysis.blocks
        for info in block.stmts
        if _movable(info) and not isinstance(info.node, ast.Pass)
    ]
    if not sites:
        return None
    block, info = rng.choice(sites)
    start, end = analysis.src.line_range(info.first, info.last)
    replacement = ""
    if len(block.stmts) == 1:  # keep the block syntactically non-empty
        replacement = analysis.src.indent_of(info.first) + "pass" + analysis.src.newline
    return Edit((Splice(start, end, replacement),), f"delete statement {_summary(analysis, info)}")


def duplicate_stmt(analysis: Analysis, rng: random.Random, inspirations: Sequence[Analysis]) -> Edit | None:
    sites = [
        info
        for block in analysis.blocks
        for info in block.stmts
        if _movable(info) and not isinstance(info.node, (ast.Pass, *_TERMINAL))
    ]
    if not sites:
        return None
    info = rng.choice(sites)
    at = analysis.src.starts[info.last]
    copy = analysis.stmt_text(info)
    if at == len(analysis.src.text) and not analysis.src.text.endswith(("\n", "\r")):
        copy = analysis.src.newline + copy.rstrip("\r\n")  # the statement is the unterminated last line
    return Edit((Splice(at, at, copy),), f"duplicate statement {_summary(analysis, info)}")


def _swappable_pairs(block: Block) -> list[tuple[StmtInfo, StmtInfo]]:
    pairs = []
    for first, second in zip(block.stmts, block.stmts[1:], strict=False):
        if not (_movable(first) and _movable(second)) or first.region != second.region:
            continue
        if isinstance(first.node, _TERMINAL) or isinstance(second.node, _TERMINAL):
            continue
        pairs.append((first, second))
    return pairs


def swap_stmts(analysis: Analysis, rng: random.Random, inspirations: Sequence[Analysis]) -> Edit | None:
    pairs = [pair for block in analysis.blocks for pair in _swappable_pairs(block)]
    if not pairs:
        return None
    first, second = rng.choice(pairs)
    src = analysis.src
    start, _ = src.line_range(first.first, first.last)
    middle_start, middle_end = src.starts[first.last], src.starts[second.first - 1]
    _, end = src.line_range(second.first, second.last)
    moved = analysis.stmt_text(second) + src.text[middle_start:middle_end] + analysis.stmt_text(first)
    if not src.text[start:end].endswith(("\n", "\r")):
        moved = moved.rstrip("\r\n")  # the pair ended the file without a final newline
    return Edit(
        (Splice(start, end, moved),),
        f"swap statements on lines {first.first} and {second.first} ({_summary(analysis, first)})",
    )
