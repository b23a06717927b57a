"""Every single edit of a program, listed: the offline mutator's neighbourhood of a program, in full.

Owns: `single_edits(analysis)`, the distinct children that one application of one operator can
make, in a fixed order (operator by operator, then each operator's own order of sites and
alternatives), for the operators whose choices are all discrete (comparison, arithmetic and
boolean swaps, sort tweaks, statement deletes, copies and swaps: each is run under a scripted
rng that walks every branch of its choices, so the list is exactly what the operator can draw),
plus, for every numeric literal, a short ladder of new values (`constant_ladder`: a step either
way, halved, doubled, negated, zero) instead of constants.py's continuous draws. The adaptive
search's stall sweep (adrs/search/sweep.py) walks this list, single edits and pairs of them,
when sampling has stopped finding anything: sampling with replacement can leave the edit that
lifts the score undrawn for hundreds of proposals, a walk of the list cannot.

Also owns `control_pairs(analysis, edits)`: the pairs of listed edits coupled by control flow, one
inside the test of an `if`/`while`, the other inside the test of one nested in what it guards
(two decisions of one decision tree: cant_be_late's first exit, from its initial program's 29.08
to 42.73, is one of the 9 such pairs among its 70 edits' 2,415 pairs, and neither of its edits
gains alone; a test with an edit of a value it guards, txn_scheduling's 18 pairs, never gained
and delayed the single edits that do: docs/benchmarks.md, "v6").

Must not: use any randomness (the list is a function of the code alone), evaluate, or choose.
"""

from __future__ import annotations

import ast
import random
from collections.abc import Callable, Sequence
from typing import Any

from adrs.mutate.offline.constants import constant_sites, float_literal, needs_parentheses
from adrs.mutate.offline.expressions import flip_bool, swap_arith, swap_compare, tweak_sort
from adrs.mutate.offline.sites import Analysis
from adrs.mutate.offline.splices import Edit, Splice, apply_splices
from adrs.mutate.offline.statements import delete_stmt, duplicate_stmt, swap_stmts

Operator = Callable[[Analysis, random.Random, Sequence[Analysis]], Edit | None]
# The operators with discrete choices only, in the order their edits are listed: the expression
# edits first (they change one value or test, and more often keep a program working).
DISCRETE: tuple[tuple[str, Operator], ...] = (
    ("swap_compare", swap_compare),
    ("swap_arith", swap_arith),
    ("flip_bool", flip_bool),
    ("tweak_sort", tweak_sort),
    ("delete_stmt", delete_stmt),
    ("swap_stmts", swap_stmts),
    ("duplicate_stmt", duplicate_stmt),
)
MAX_BRANCHES = 4096  # scripted runs of one operator at most (a huge program lists only its first ones)


class _Exhausted(Exception):
    """The operator drew something the script cannot walk (a continuous draw)."""


class _Scripted(random.Random):
    """An rng whose discrete draws follow a script of branch indices, recording each branch's width."""

    def __init__(self, script: list[int]) -> None:
        super().__init__(0)
        self.script = script
        self.widths: list[int] = []

    def _branch(self, width: int) -> int:
        depth = len(self.widths)
        self.widths.append(width)
        return self.script[depth] if depth < len(self.script) else 0

    def choice(self, seq: Sequence[Any]) -> Any:  # type: ignore[override]
        if not seq:
            raise IndexError("choice from an empty sequence")
        return seq[self._branch(len(seq))]

    def randrange(self, start: int, stop: int | None = None, step: int = 1) -> int:  # type: ignore[override]
        values = range(start) if stop is None else range(start, stop, step)
        return values[self._branch(len(values))]

    def random(self) -> float:
        return (0.0, 0.999999)[self._branch(2)]  # both sides of any threshold test `rng.random() < p`

    def gauss(self, *args: Any, **kwargs: Any) -> float:
        raise _Exhausted

    def choices(self, *args: Any, **kwargs: Any) -> list[Any]:
        raise _Exhausted


def _walk(operator: Operator, analysis: Analysis) -> list[Edit]:
    """Every edit `operator` can make of `analysis`, by walking its choices like an odometer."""
    edits: list[Edit] = []
    script: list[int] = []
    for _ in range(MAX_BRANCHES):
        rng = _Scripted(script)
        try:
            edit = operator(analysis, rng, ())
        except _Exhausted:
            return edits
        if edit is not None and edit.splices:
            edits.append(edit)
        widths = rng.widths
        script = (script + [0] * len(widths))[: len(widths)]
        while script and script[-1] + 1 >= widths[len(script) - 1]:
            script.pop()
        if not script:
            return edits
        script[-1] += 1
    return edits


def constant_ladder(value: int | float) -> list[int | float]:
    """New values to try for a numeric literal: a step either way, halved, doubled, negated, zero."""
    if type(value) is int:
        candidates: list[int | float] = [value + 1, value - 1, value * 2, value // 2, -value, 0]
    else:
        candidates = [value * 1.25, value * 0.8, value * 2, value / 2, -value, 0.0]
    unique: list[int | float] = []
    for candidate in candidates:
        if candidate != value and candidate not in unique:
            unique.append(candidate)
    return unique


def _constant_edits(analysis: Analysis) -> list[Edit]:
    edits: list[Edit] = []
    for site in constant_sites(analysis):
        old_text = analysis.src.segment(site.node)
        start, end = analysis.src.span(site.node)
        line = site.node.lineno  # type: ignore[attr-defined]
        for value in constant_ladder(site.value):
            text = str(value) if type(value) is int else float_literal(float(value), float(site.value), 6)
            if text is None or text == old_text:
                continue
            if text.startswith("-") and isinstance(site.node, ast.Constant) and needs_parentheses(site):
                text = f"({text})"
            edits.append(Edit((Splice(start, end, text),), f"sweep constant {old_text} -> {text} on line {line}"))
    return edits


def control_pairs(analysis: Analysis, edits: Sequence[Edit]) -> list[tuple[int, int]]:
    """Index pairs (i < j) of `edits` where one lies inside an `if`/`while` test and the other
    inside the test of an `if`/`while` nested in what the first guards (its body or else branch):
    two decisions of one decision tree, in a fixed order."""
    tests = [node for node in ast.walk(analysis.tree) if isinstance(node, ast.If | ast.While)]
    nested: list[tuple[tuple[int, int], tuple[int, int]]] = [
        (analysis.src.span(outer.test), analysis.src.span(inner.test))
        for outer in tests
        for statement in outer.body + outer.orelse
        for inner in ast.walk(statement)
        if isinstance(inner, ast.If | ast.While)
    ]

    def inside(edit: Edit, span: tuple[int, int]) -> bool:
        return all(span[0] <= splice.start and splice.end <= span[1] for splice in edit.splices)

    pairs: set[tuple[int, int]] = set()
    for outer, inner in nested:
        deciding = [i for i, edit in enumerate(edits) if inside(edit, outer)]
        decided = [j for j, edit in enumerate(edits) if inside(edit, inner)]
        pairs.update((min(i, j), max(i, j)) for i in deciding for j in decided if i != j)
    return sorted(pairs)


def single_edits(analysis: Analysis) -> list[tuple[str, Edit]]:
    """(operator name, edit) for every distinct child one edit makes, constants first, in a fixed order."""
    listed: list[tuple[str, Edit]] = [("sweep_constant", edit) for edit in _constant_edits(analysis)]
    for name, operator in DISCRETE:
        listed.extend((name, edit) for edit in _walk(operator, analysis))
    seen: set[str] = {analysis.code}
    distinct: list[tuple[str, Edit]] = []
    for name, edit in listed:
        try:
            code = apply_splices(analysis.code, edit.splices)
        except ValueError:
            continue
        if code not in seen:
            seen.add(code)
            distinct.append((name, edit))
    return distinct
