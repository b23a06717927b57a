"""The crossover operator: bring code from an inspiration program into the child's regions.

Two kinds of graft, both as whole re-indented lines:
- a function (or method) of the child is replaced by the inspiration's function of the same
  qualified name when the two differ;
- at a matching place, one differing hunk of statements: the two programs' blocks are paired by
  their path (function names, compound-statement kind and ordinal), their statements aligned by
  their text less layout and comment lines (difflib), and one non-equal hunk of the
  inspiration's block replaces, is inserted into, or deletes from the child's block.
Inspirations are read whole (their own markers do not matter); only the child's side must lie in
its regions.

Must not: change the child outside its regions, or read anything but the given programs.
"""

from __future__ import annotations

import ast
import difflib
import random
from collections.abc import Sequence
from dataclasses import dataclass

from adrs.mutate.offline.sites import Analysis, Block, StmtInfo
from adrs.mutate.offline.splices import Edit, Splice, reindent

MAX_HUNK_STATEMENTS = 8
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


@dataclass(frozen=True)
class _Graft:
    """Replace child lines first..last (1-based; last = first - 1 means insert before `first`)."""

    first: int
    last: int
    indent: str
    donor: int  # index into the inspirations
    donor_first: int  # 0 = nothing taken (a deletion)
    donor_last: int
    what: str


def _functions(analysis: Analysis, need_region: bool) -> dict[tuple[object, ...], StmtInfo]:
    found: dict[tuple[object, ...], StmtInfo] = {}
    for block in analysis.blocks:
        for info in block.stmts:
            if isinstance(info.node, _FUNCTIONS) and info.owns_lines and (info.region >= 0 or not need_region):
                found.setdefault((*block.key, info.node.name), info)
    return found


def _function_grafts(child: Analysis, donors: Sequence[Analysis]) -> list[_Graft]:
    grafts: list[_Graft] = []
    mine = _functions(child, need_region=True)
    for number, donor in enumerate(donors):
        for name, theirs in _functions(donor, need_region=False).items():
            ours = mine.get(name)
            if ours is None or child.code_key(ours) == donor.code_key(theirs):
                continue
            grafts.append(
                _Graft(
                    ours.first,
                    ours.last,
                    child.src.indent_of(ours.first),
                    number,
                    theirs.first,
                    theirs.last,
                    f"function {theirs.node.name}",
                )  # type: ignore[attr-defined]
            )
    return grafts


def _same_region(infos: Sequence[StmtInfo]) -> bool:
    return bool(infos) and all(i.owns_lines and i.region >= 0 and i.region == infos[0].region for i in infos)


def _hunk_graft(
    ours: Block, theirs: Block, opcode: tuple[str, int, int, int, int], child: Analysis, number: int
) -> _Graft | None:
    tag, i1, i2, j1, j2 = opcode
    taken = theirs.stmts[j1:j2]
    if len(taken) > MAX_HUNK_STATEMENTS or not all(info.owns_lines for info in taken):
        return None
    donor_first, donor_last = (taken[0].first, taken[-1].last) if taken else (0, 0)
    if tag in ("replace", "delete"):
        replaced = ours.stmts[i1:i2]
        if not _same_region(replaced) or (tag == "delete" and len(replaced) == len(ours.stmts)):
            return None
        return _Graft(
            replaced[0].first,
            replaced[-1].last,
            child.src.indent_of(replaced[0].first),
            number,
            donor_first,
            donor_last,
            "statements",
        )
    # insert: after the statement before the gap, or before the block's first statement
    anchor = ours.stmts[i1 - 1] if i1 > 0 else ours.stmts[0]
    if not _same_region([anchor]):
        return None
    at = anchor.last + 1 if i1 > 0 else anchor.first
    return _Graft(at, at - 1, child.src.indent_of(anchor.first), number, donor_first, donor_last, "statements")


def _hunk_grafts(child: Analysis, donors: Sequence[Analysis]) -> list[_Graft]:
    grafts: list[_Graft] = []
    mine = [block for block in child.blocks if any(info.region >= 0 for info in block.stmts)]
    for number, donor in enumerate(donors):
        theirs_by_key: dict[tuple[object, ...], Block] = {}
        for block in donor.blocks:
            theirs_by_key.setdefault(block.key, block)
        for ours in mine:
            theirs = theirs_by_key.get(ours.key)
            if theirs is None:
                continue
            matcher = difflib.SequenceMatcher(
                None,
                [child.code_key(info) for info in ours.stmts],
                [donor.code_key(info) for info in theirs.stmts],
                autojunk=False,
            )
            for opcode in matcher.get_opcodes():
                if opcode[0] != "equal":
                    graft = _hunk_graft(ours, theirs, opcode, child, number)
                    if graft is not None:
                        grafts.append(graft)
    return grafts


def _lines(first: int, last: int) -> str:
    return f"line {first}" if first == last else f"lines {first}-{last}"


def _edit(child: Analysis, donors: Sequence[Analysis], graft: _Graft) -> Edit:
    src = child.src
    donor = donors[graft.donor]
    text = ""
    if graft.donor_first:
        taken = donor.src.line_text(graft.donor_first, graft.donor_last)
        text = reindent(taken, donor.src.indent_of(graft.donor_first), graft.indent, src.newline)
    if graft.last >= graft.first:
        start, end = src.line_range(graft.first, graft.last)
    else:
        start = end = src.starts[graft.first - 1]
    if end == len(src.text) and not src.text.endswith(("\n", "\r")):
        if start == end:  # inserting after an unterminated last line
            text = src.newline + text
        text = text.rstrip("\r\n")
    source = f"inspiration {graft.donor + 1}"
    taken_lines = _lines(graft.donor_first, graft.donor_last)
    if not graft.donor_first:
        what = f"delete {_lines(graft.first, graft.last)} (as {source} does)"
    elif graft.last < graft.first:
        what = f"insert {source} {taken_lines} before line {graft.first}"
    else:
        what = f"{graft.what} on {_lines(graft.first, graft.last)} <- {source} {taken_lines}"
    return Edit((Splice(start, end, text),), f"crossover: {what}")


def crossover(child: Analysis, rng: random.Random, inspirations: Sequence[Analysis]) -> Edit | None:
    if not inspirations:
        return None
    grafts = _function_grafts(child, inspirations) + _hunk_grafts(child, inspirations)
    if not grafts:
        return None
    return _edit(child, inspirations, rng.choice(grafts))
