"""What a mutation operator may touch: one parse of a program, its regions, its nodes and blocks.

An `Analysis` is a pure function of the program text: the AST, the EVOLVE-BLOCK regions, the
expression nodes lying wholly inside one region (with their parents), and every statement block
with, per statement, its line span and whether it owns its lines (so it can be deleted, copied
or moved as whole lines). Lists are built in source order, so iteration is deterministic.

Must not: choose or apply edits (operators do), or hold any randomness.
"""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

from adrs.mutate.offline.splices import SourceText
from adrs.program import Region, regions_of_lines, remember_hash, split_lines, tree_hash

DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
BlockKey = tuple[object, ...]


class NodeSite(NamedTuple):
    """An expression or statement node wholly inside one region, with its parent node."""

    node: ast.AST
    parent: ast.AST | None


@dataclass(frozen=True)
class StmtInfo:
    """A statement of a block: its 1-based line span (decorators included) and what may be done to it."""

    node: ast.stmt
    index: int
    first: int
    last: int
    owns_lines: bool  # nothing else shares its lines except a trailing comment
    region: int  # index of the region holding all its lines, or -1


@dataclass(frozen=True)
class Block:
    """A statement list (a body, orelse, handler body...) and where it sits in the program."""

    key: BlockKey
    stmts: tuple[StmtInfo, ...]


def parse_quietly(code: str) -> ast.Module | None:
    """The AST of `code`, or None if it does not parse (warnings about escapes silenced)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


class Analysis:
    """One parsed program. `regions=None` means: treat the whole file as evolvable (inspirations)."""

    def __init__(self, code: str, tree: ast.Module, regions: list[Region] | None) -> None:
        self.code = code
        self.tree = tree
        self.src = SourceText(code)
        if regions is None:
            regions = [Region(0, len(self.src.lines))]
        self.regions = regions
        # region index of each 1-based line number, -1 for frozen lines (index 0 unused)
        self._region_of_line = [-1] * (len(self.src.lines) + 2)
        for number, region in enumerate(regions):
            for index in range(region.start, region.end):
                self._region_of_line[index + 1] = number
        # frozen_before[n] = how many of the lines numbered 1..n-1 are frozen
        self._frozen_lines_before = [0, 0]
        for number in range(1, len(self._region_of_line)):
            self._frozen_lines_before.append(self._frozen_lines_before[-1] + (self._region_of_line[number] < 0))
        self._code_keys: dict[int, str] = {}

    @classmethod
    def of(cls, code: str, *, with_regions: bool = True) -> Analysis | None:
        """Analyse `code`; None if it does not parse. MarkerError propagates for broken markers."""
        regions = regions_of_lines(split_lines(code)) if with_regions else None
        tree = parse_quietly(code)
        if tree is None:
            return None
        return cls(code, tree, regions)

    @cached_property
    def hash(self) -> str:
        """normalized_hash of the code, computed once per analysis (and noted for the engine's duplicate check)."""
        return remember_hash(self.code, tree_hash(self.tree))

    def region_of_span(self, first: int, last: int) -> int:
        """The region holding lines first..last (1-based), or -1 if they are not all in one."""
        if first < 1 or last >= len(self._region_of_line):
            return -1
        region = self._region_of_line[first]
        return region if region == self._region_of_line[last] else -1

    def in_region(self, node: ast.AST) -> bool:
        lineno = getattr(node, "lineno", None)
        end_lineno = getattr(node, "end_lineno", None)
        if lineno is None or end_lineno is None:
            return False
        return self.region_of_span(lineno, end_lineno) >= 0

    @cached_property
    def nodes(self) -> tuple[NodeSite, ...]:
        """Nodes wholly inside a region, in source (pre-)order, skipping f-string internals.

        f-string internals are skipped because their positions are unreliable before Python 3.12.
        """
        found: list[NodeSite] = []
        region_of = self._region_of_line
        frozen_before = self._frozen_lines_before
        stack: list[tuple[ast.AST, ast.AST | None]] = [(self.tree, None)]
        while stack:
            node, parent = stack.pop()
            if type(node) is ast.JoinedStr:
                continue
            lineno = getattr(node, "lineno", None)
            if lineno is not None:
                end_lineno = node.end_lineno  # type: ignore[attr-defined]
                region = region_of[lineno]
                if region >= 0 and region == region_of[end_lineno]:
                    found.append(NodeSite(node, parent))
                elif frozen_before[end_lineno + 1] - frozen_before[lineno] == end_lineno + 1 - lineno:
                    continue  # wholly frozen: nothing below can be inside a region
            children: list[ast.AST] = []
            for field in node._fields:
                value = getattr(node, field, None)
                if isinstance(value, ast.AST):
                    children.append(value)
                elif type(value) is list:
                    children.extend(item for item in value if isinstance(item, ast.AST))
            stack.extend((child, node) for child in reversed(children))
        return tuple(found)

    def nodes_of(self, *types: type) -> list[NodeSite]:
        return [site for site in self.nodes if isinstance(site.node, types)]

    @cached_property
    def blocks(self) -> tuple[Block, ...]:
        """Every statement list of the program, keyed by a path that survives small edits.

        The key names functions and classes by name and other compound statements by their type
        and ordinal among statements of that type in the enclosing block, so "the second for loop
        of place()" matches across two programs even when simple statements were added before it.
        """
        found: list[Block] = []
        self._visit_block(self.tree.body, (), found)
        return tuple(found)

    def _visit_block(self, stmts: list[ast.stmt], key: BlockKey, found: list[Block]) -> None:
        found.append(Block(key, tuple(self._stmt_info(stmt, index) for index, stmt in enumerate(stmts))))
        ordinals: dict[str, int] = {}
        for stmt in stmts:
            if isinstance(stmt, DEFS):
                base = (*key, ("def", stmt.name))
            else:
                kind = type(stmt).__name__
                ordinals[kind] = ordinals.get(kind, 0) + 1
                base = (*key, (kind, ordinals[kind]))
            for field in ("body", "orelse", "finalbody"):
                sub = getattr(stmt, field, None)
                if isinstance(sub, list) and sub and isinstance(sub[0], ast.stmt):
                    self._visit_block(sub, (*base, field), found)
            for number, handler in enumerate(getattr(stmt, "handlers", None) or ()):
                self._visit_block(handler.body, (*base, "handler", number), found)
            for number, case in enumerate(getattr(stmt, "cases", None) or ()):
                self._visit_block(case.body, (*base, "case", number), found)

    def _stmt_info(self, stmt: ast.stmt, index: int) -> StmtInfo:
        first = stmt.lineno
        decorators = getattr(stmt, "decorator_list", None) or []
        if decorators:
            first = min(first, *(d.lineno for d in decorators))
        last = stmt.end_lineno or stmt.lineno
        return StmtInfo(
            node=stmt,
            index=index,
            first=first,
            last=last,
            owns_lines=self._owns_lines(stmt, first, bool(decorators)),
            region=self.region_of_span(first, last),
        )

    def _owns_lines(self, stmt: ast.stmt, first: int, decorated: bool) -> bool:
        first_line = self.src.lines[first - 1]
        indent = len(self.src.indent_of(first))
        body = first_line[indent:]
        # the indent is ASCII whitespace, so its byte length equals its character length
        starts_line = body.startswith("@") if decorated else stmt.col_offset == indent and not body.startswith("elif")
        if not starts_line:
            return False
        end_line = stmt.end_lineno or stmt.lineno
        end = self.src.offset(end_line, stmt.end_col_offset or 0)
        rest = self.src.text[end : self.src.starts[end_line]].strip()
        return rest == "" or rest.startswith("#")

    def code_key(self, info: StmtInfo) -> str:
        """The statement's text without blank lines, comment lines, trailing space or its own indent.

        Cheap stand-in for AST equality when aligning two programs' statements (an ast.dump of
        every statement costs more than the rest of a proposal); where only a trailing comment
        differs, the graft it leads to is a no-op that the mutator's hash check then rejects.
        """
        node = info.node
        key = self._code_keys.get(id(node))
        if key is None:
            indent = self.src.indent_of(info.first)
            if info.first < node.lineno:  # decorated: start at the first decorator
                start = self.src.starts[info.first - 1] + len(indent)
            else:
                start = self.src.offset(node.lineno, node.col_offset)
            end = self.src.offset(node.end_lineno or node.lineno, node.end_col_offset or 0)
            lines = []
            for line in split_lines(self.src.text[start:end]):
                body = line.rstrip()
                if body.strip() and not body.lstrip().startswith("#"):
                    lines.append(body[len(indent) :] if body.startswith(indent) else body)
            key = self._code_keys[id(node)] = "\n".join(lines)
        return key

    def stmt_text(self, info: StmtInfo) -> str:
        return self.src.line_text(info.first, info.last)
