"""The constant-perturbation operator: scale-aware new values for numeric literals.

Floats move multiplicatively (log-normal, a few step sizes), ints by small steps or, when large,
multiplicatively; zero moves to a small value; rarely the sign flips or the value snaps to a
"nice" round number. Literals that look like indices (0/±1 inside a subscript) are picked rarely.
A negative literal (`-0.5`, a unary minus on a constant) is treated as one value.

Must not: touch bools (flip_bool owns them) or anything outside the EVOLVE-BLOCK regions.
"""

from __future__ import annotations

import ast
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from adrs.mutate.offline.sites import Analysis
from adrs.mutate.offline.splices import Edit, Splice

INDEX_LIKE_WEIGHT = 0.1  # how often 0/±1 inside a subscript is picked, relative to other literals
NICE_PROBABILITY = 0.1
SIGN_FLIP_PROBABILITY = 0.05
FLOAT_SIGMAS = (0.05, 0.15, 0.4)


@dataclass(frozen=True)
class ConstantSite:
    node: ast.AST  # the Constant, or the UnaryOp(-) wrapping it
    parent: ast.AST | None
    value: int | float
    weight: float


def _is_number(value: object) -> bool:
    return type(value) in (int, float) and (type(value) is int or math.isfinite(value))


def _in_subscript(node: ast.AST, parent: ast.AST | None, grandparent: ast.AST | None) -> bool:
    if isinstance(parent, ast.Subscript):
        return parent.slice is node
    return isinstance(parent, ast.Slice | ast.Tuple) and isinstance(grandparent, ast.Subscript)


def constant_sites(analysis: Analysis) -> list[ConstantSite]:
    parents = {id(site.node): site.parent for site in analysis.nodes}
    sites: list[ConstantSite] = []
    inside_negation: set[int] = set()
    for site in analysis.nodes:
        node, parent = site.node, site.parent
        if (
            isinstance(node, ast.UnaryOp)
            and isinstance(node.op, ast.USub)
            and isinstance(node.operand, ast.Constant)
            and _is_number(node.operand.value)
        ):
            inside_negation.add(id(node.operand))
            value = -node.operand.value
        elif isinstance(node, ast.Constant) and _is_number(node.value) and id(node) not in inside_negation:
            value = node.value
        else:
            continue
        grandparent = parents.get(id(parent)) if parent is not None else None
        index_like = type(value) is int and abs(value) <= 1 and _in_subscript(node, parent, grandparent)
        sites.append(ConstantSite(node, parent, value, INDEX_LIKE_WEIGHT if index_like else 1.0))
    return sites


def _round_significant(value: float, digits: int) -> float:
    if value == 0:
        return 0.0
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


def _significant_digits(literal: str) -> int:
    mantissa = literal.lstrip("+-").lower().replace("_", "").split("e")[0].replace(".", "")
    return max(1, len(mantissa.lstrip("0")))


def _new_float(value: float, rng: random.Random) -> float:
    if value == 0.0:
        return rng.choice((0.01, 0.1, 0.5, 1.0)) * (1.0 if rng.random() < 0.8 else -1.0)
    draw = rng.random()
    if draw < SIGN_FLIP_PROBABILITY:
        return -value
    if draw < SIGN_FLIP_PROBABILITY + NICE_PROBABILITY:
        factor = rng.choice((0.5, 2.0, 0.1, 10.0, 1.0))
        return _round_significant(value * factor, 1)
    return value * math.exp(rng.gauss(0.0, rng.choice(FLOAT_SIGMAS)))


def _new_int(value: int, rng: random.Random) -> int:
    if value == 0:
        return rng.choice((1, 1, 2, -1))
    if rng.random() < SIGN_FLIP_PROBABILITY:
        return -value
    if abs(value) < 10:
        return value + rng.choice((-2, -1, -1, 1, 1, 2))
    scaled = round(value * math.exp(rng.gauss(0.0, 0.25)))
    if rng.random() < NICE_PROBABILITY:
        scaled = int(_round_significant(float(scaled), 1))
    return scaled if scaled != value else value + rng.choice((-1, 1))


def float_literal(new: float, old: float, digits: int) -> str | None:
    if not math.isfinite(new):
        return None
    for precision in range(digits, 10):
        text = f"{new:.{precision}g}"
        if float(text) != old:
            break
    else:
        return None
    if not any(mark in text for mark in ".eE"):
        text += ".0"  # keep it a float literal
    return text


def _literal_matches(text: str, value: int | float) -> bool:
    try:
        return ast.literal_eval(text) == value
    except (ValueError, SyntaxError, TypeError):
        return False


def needs_parentheses(site: ConstantSite) -> bool:
    # A new negative literal where there was a bare positive one: `x ** -2` is fine, but
    # `-2 ** y` and `-2 .real` would bind differently.
    parent = site.parent
    if isinstance(parent, ast.Attribute):
        return True
    return isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Pow) and parent.left is site.node


def _new_literal(site: ConstantSite, old_text: str, rng: random.Random) -> str | None:
    if type(site.value) is float:
        digits = min(max(_significant_digits(old_text) + 1, 2), 6)
        return float_literal(_new_float(site.value, rng), site.value, digits)
    new = _new_int(int(site.value), rng)
    return str(new) if new != site.value else None


def perturb_constant(analysis: Analysis, rng: random.Random, inspirations: Sequence[Analysis]) -> Edit | None:
    sites = constant_sites(analysis)
    if not sites:
        return None
    site = rng.choices(sites, weights=[s.weight for s in sites])[0]
    old_text = analysis.src.segment(site.node)
    if not _literal_matches(old_text, site.value):
        return None  # positions disagree with the text: never splice blindly
    new_text = None
    for _ in range(4):  # a draw can round back to the old value; redraw a few times
        new_text = _new_literal(site, old_text, rng)
        if new_text is not None:
            break
    if new_text is None:
        return None
    if new_text.startswith("-") and isinstance(site.node, ast.Constant) and needs_parentheses(site):
        new_text = f"({new_text})"
    start, end = analysis.src.span(site.node)
    line = site.node.lineno  # type: ignore[attr-defined]
    return Edit((Splice(start, end, new_text),), f"perturb constant {old_text} -> {new_text} on line {line}")
