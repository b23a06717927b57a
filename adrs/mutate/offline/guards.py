"""The guard operator: a threshold test that returns early, inserted between two statements.

Owns `insert_guard`, an offline operator never drawn by weight: the adaptive search's stall sweep
asks for it (`guard_share`, adrs/search/sweep.py; `OfflineMutator.guarded`), and `guard_spots` /
`guard_edits`, every place and every edit it can make (benchmarks/plateau_exits.py scores them).
It inserts

    if A < 1.0 * B:        (or >)
        return R

before a top-level statement of a function inside an EVOLVE-BLOCK region, where A and B are two
values the function already compares or does arithmetic with (a name assigned above that point,
a parameter, or an attribute of one, e.g. `self.restart_overhead`) and R is one of the decisions
the function already returns whose names are defined there: a constant, a name, an attribute such
as `ClusterType.SPOT`, or a choice between such (`A if c else B`). A computed result (a call, a
tuple, arithmetic, an item) is never returned early: cut short, it is a partial one (on
txn_scheduling, whose one return is such a tuple, guards only failed or lost, docs/benchmarks.md).
The threshold's factor is a float literal, so constant perturbation and momentum then tune it
multiplicatively (1.0 -> 1.5 -> 3.4 ...). Why: the edits of the other operators change what is
there; none adds a decision. A plateau whose exit is a new rule (wait for spot while little work
is left, cant_be_late, docs/benchmarks.md) is out of their reach, and a threshold test that
returns early is the commonest shape of a rule in a systems heuristic.

Must not: use any randomness but the rng passed in, insert outside a region, or evaluate.
"""

from __future__ import annotations

import ast
import random
from collections.abc import Sequence
from dataclasses import dataclass

from adrs.mutate.offline.sites import Analysis
from adrs.mutate.offline.splices import Edit, Splice

GUARD_OPERATOR = "insert_guard"  # the operator's name in the mutator's table and in a child's description
COMPARISONS = ("<", ">")


@dataclass(frozen=True)
class GuardSpot:
    """Before one top-level statement of a function: what a guard there may compare and return."""

    at: int  # character offset of the start of the statement's first line
    line: int
    indent: str
    known: tuple[str, ...]  # values the function compares or computes with, defined by this point
    returns: tuple[str, ...]  # the source of each distinct value the function returns


def dotted(node: ast.AST) -> str | None:
    """`x`, `self.a` or `self.env.b` as text; None for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _operands(node: ast.AST) -> list[ast.expr]:
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    if isinstance(node, ast.Compare):
        return [node.left, *node.comparators]
    return []


def is_decision(node: ast.expr) -> bool:
    """A value a guard may return: a constant (negated or not), a name or attribute chain, or
    `A if c else B` of such; not a computed result."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return isinstance(node.operand, ast.Constant)
    if isinstance(node, ast.IfExp):
        return is_decision(node.body) and is_decision(node.orelse)
    return dotted(node) is not None


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _function_spots(analysis: Analysis, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[GuardSpot]:
    decisions: list[tuple[str, set[str]]] = []  # each returned decision's text and the names it reads
    compared: list[str] = []
    for node in ast.walk(fn):
        if isinstance(node, ast.Return) and node.value is not None and is_decision(node.value):
            text = analysis.src.segment(node.value)
            if all(text != known for known, _ in decisions):
                decisions.append((text, _names(node.value)))
        for operand in _operands(node):
            name = dotted(operand)
            if name and name != "self" and name not in compared:
                compared.append(name)
    if not decisions:
        return []
    local = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    defined = {a.arg for a in (*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs)}
    spots: list[GuardSpot] = []
    for position, statement in enumerate(fn.body):
        if position > 0:
            known = tuple(name for name in compared if name.split(".")[0] in defined)
            # a returned local must be assigned above this point; a global or a parameter always is
            returns = tuple(text for text, names in decisions if not (names & local) - defined)
            at = analysis.src.line_range(statement.lineno, statement.lineno)[0]
            starts_line = not analysis.code[at : at + statement.col_offset].strip()  # not `a = 1; b = 2`'s b
            if len(known) >= 2 and returns and starts_line and analysis.in_region(statement):
                spots.append(GuardSpot(at, statement.lineno, " " * statement.col_offset, known, returns))
        if isinstance(statement, ast.Assign):
            defined.update(t.id for t in statement.targets if isinstance(t, ast.Name))
        elif isinstance(statement, ast.AnnAssign | ast.AugAssign) and isinstance(statement.target, ast.Name):
            defined.add(statement.target.id)
    return spots


def guard_spots(analysis: Analysis) -> list[GuardSpot]:
    """Every place a guard can go, in source order."""
    spots: list[GuardSpot] = []
    for node in ast.walk(analysis.tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and analysis.in_region(node):
            spots.extend(_function_spots(analysis, node))
    return sorted(spots, key=lambda spot: spot.at)


def guard(spot: GuardSpot, a: str, op: str, b: str, value: str) -> Edit:
    text = f"{spot.indent}if {a} {op} 1.0 * {b}:\n{spot.indent}    return {value}\n"
    return Edit((Splice(spot.at, spot.at, text),), f"insert guard `if {a} {op} 1.0 * {b}: return {value}` "
                f"before line {spot.line}")  # fmt: skip


def guard_edits(analysis: Analysis) -> list[Edit]:
    """Every guard the operator can insert, in a fixed order."""
    return [
        guard(spot, a, op, b, value)
        for spot in guard_spots(analysis)
        for a in spot.known
        for b in spot.known
        if a != b
        for op in COMPARISONS
        for value in spot.returns
    ]


def draw_guard(spots: Sequence[GuardSpot], rng: random.Random) -> Edit | None:
    """One guard, each choice uniform: the place, the two values, the comparison, the value returned."""
    if not spots:
        return None
    spot = rng.choice(spots)
    a, b = rng.sample(spot.known, 2)
    return guard(spot, a, rng.choice(COMPARISONS), b, rng.choice(spot.returns))


def insert_guard(analysis: Analysis, rng: random.Random, inspirations: Sequence[Analysis]) -> Edit | None:
    """The operator: one guard drawn among every place of the program (None: there is none)."""
    return draw_guard(guard_spots(analysis), rng)
