"""Expression-level operators: comparison and arithmetic swaps, boolean flips, sort tweaks.

Each operator collects its candidate sites inside the EVOLVE-BLOCK regions, picks one with the
given rng and returns text splices at exact source positions. Operator tokens, which the AST does
not locate, are found in the gap between the two operands (where only the operator, brackets,
whitespace and comments can be).

Must not: change anything but the chosen site, or use randomness other than the rng passed in.
"""

from __future__ import annotations

import ast
import random
import re
from collections.abc import Sequence

from adrs.mutate.offline.sites import Analysis
from adrs.mutate.offline.splices import Edit, Splice

_COMPARE_PARTNERS: dict[type, tuple[str, ...]] = {
    ast.Lt: ("<=", ">"),
    ast.LtE: ("<", ">="),
    ast.Gt: (">=", "<"),
    ast.GtE: (">", "<="),
    ast.Eq: ("!=",),
    ast.NotEq: ("==",),
    ast.Is: ("is not",),
    ast.IsNot: ("is",),
    ast.In: ("not in",),
    ast.NotIn: ("in",),
}
_COMPARE_TOKEN = re.compile(r"<=|>=|==|!=|<|>|\bis\s+not\b|\bnot\s+in\b|\bis\b|\bin\b")

_ARITH_PARTNERS: dict[type, tuple[str, ...]] = {
    ast.Add: ("-",),
    ast.Sub: ("+",),
    ast.Mult: ("/",),
    ast.Div: ("*", "//"),
    ast.FloorDiv: ("/",),
}
_ARITH_TOKEN = re.compile(r"\*\*|//|<<|>>|[-+*/%@&|^]")
_BOOL_TOKEN = re.compile(r"\b(?:and|or)\b")
_NOT_PREFIX = re.compile(r"not\b\s*")
# Expressions that `-X` negates without extra parentheses; `not X` also takes a comparison bare.
_ATOMS = (ast.Name, ast.Attribute, ast.Call, ast.Subscript, ast.Constant)
_NOT_TIGHT = (*_ATOMS, ast.Compare)


def _line(node: ast.AST) -> int:
    return node.lineno  # type: ignore[attr-defined]


def _end(analysis: Analysis, node: ast.AST) -> int:
    return analysis.src.offset(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]


def _start(analysis: Analysis, node: ast.AST) -> int:
    return analysis.src.offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]


def _token_between(analysis: Analysis, left: ast.AST, right: ast.AST, pattern: re.Pattern[str]):
    return analysis.src.find_token(_end(analysis, left), _start(analysis, right), pattern)


def swap_compare(analysis: Analysis, rng: random.Random, inspirations: Sequence[Analysis]) -> Edit | None:
    sites = [
        (site.node, index)
        for site in analysis.nodes_of(ast.Compare)
        for index, op in enumerate(site.node.ops)  # type: ignore[attr-defined]
        if type(op) in _COMPARE_PARTNERS
    ]
    if not sites:
        return None
    node, index = rng.choice(sites)
    left = node.left if index == 0 else node.comparators[index - 1]
    token = _token_between(analysis, left, node.comparators[index], _COMPARE_TOKEN)
    if token is None:
        return None
    old = " ".join(analysis.src.text[token[0] : token[1]].split())
    new = rng.choice(_COMPARE_PARTNERS[type(node.ops[index])])
    return Edit((Splice(*token, new),), f"swap comparison {old} -> {new} on line {_line(node)}")


def _is_text(node: ast.AST) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str | bytes))


def _is_arith_site(node: ast.AST) -> bool:
    if isinstance(node, ast.BinOp):
        # `"a" + b` and `"%d" % n` are text, not arithmetic
        return type(node.op) in _ARITH_PARTNERS and not (_is_text(node.left) or _is_text(node.right))
    if isinstance(node, ast.AugAssign):
        return type(node.op) in _ARITH_PARTNERS
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("min", "max")


def swap_arith(analysis: Analysis, rng: random.Random, inspirations: Sequence[Analysis]) -> Edit | None:
    """+ <-> -, * <-> /, / <-> //, also in augmented assignments; min(...) <-> max(...)."""
    sites = [site.node for site in analysis.nodes if _is_arith_site(site.node)]
    if not sites:
        return None
    node = rng.choice(sites)
    if isinstance(node, ast.Call):
        old = node.func.id  # type: ignore[attr-defined]
        new = "max" if old == "min" else "min"
        start, end = analysis.src.span(node.func)
        return Edit((Splice(start, end, new),), f"swap {old}() -> {new}() on line {_line(node)}")
    if isinstance(node, ast.AugAssign):
        token = _token_between(analysis, node.target, node.value, _ARITH_TOKEN)
    else:
        token = _token_between(analysis, node.left, node.right, _ARITH_TOKEN)  # type: ignore[attr-defined]
    if token is None:
        return None
    old = analysis.src.text[token[0] : token[1]]
    new = rng.choice(_ARITH_PARTNERS[type(node.op)])  # type: ignore[attr-defined]
    suffix = "=" if isinstance(node, ast.AugAssign) else ""
    return Edit((Splice(*token, new),), f"swap operator {old}{suffix} -> {new}{suffix} on line {_line(node)}")


def _condition_nodes(analysis: Analysis) -> list[ast.AST]:
    conditions: list[ast.AST] = []
    for site in analysis.nodes:
        node = site.node
        if isinstance(node, ast.If | ast.While | ast.IfExp | ast.Assert):
            conditions.append(node.test)
        elif isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
            conditions.extend(test for gen in node.generators for test in gen.ifs)
    return [c for c in conditions if analysis.in_region(c) and not _is_not(c)]


def _is_not(node: ast.AST) -> bool:
    return isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)


def flip_bool(analysis: Analysis, rng: random.Random, inspirations: Sequence[Analysis]) -> Edit | None:
    """True <-> False, remove a `not`, negate a condition, or swap and <-> or."""
    kinds: dict[str, list[ast.AST]] = {
        "constant": [s.node for s in analysis.nodes_of(ast.Constant) if type(s.node.value) is bool],  # type: ignore[attr-defined]
        "remove_not": [s.node for s in analysis.nodes if _is_not(s.node)],
        "insert_not": _condition_nodes(analysis),
        "and_or": [s.node for s in analysis.nodes_of(ast.BoolOp)],
    }
    available = [kind for kind, nodes in kinds.items() if nodes]
    if not available:
        return None
    kind = rng.choice(available)
    node = rng.choice(kinds[kind])
    start, end = analysis.src.span(node)
    line = _line(node)
    if kind == "constant":
        old = str(node.value)  # type: ignore[attr-defined]
        new = "False" if old == "True" else "True"
        return Edit((Splice(start, end, new),), f"flip {old} -> {new} on line {line}")
    if kind == "remove_not":
        prefix = _NOT_PREFIX.match(analysis.src.text, start, end)
        if prefix is None:
            return None
        return Edit((Splice(start, prefix.end(), ""),), f"remove `not` on line {line}")
    if kind == "insert_not":
        text = analysis.src.text[start:end]
        new = f"not {text}" if isinstance(node, _NOT_TIGHT) else f"not ({text})"
        return Edit((Splice(start, end, new),), f"negate condition on line {line}")
    values = node.values  # type: ignore[attr-defined]
    old = "and" if isinstance(node.op, ast.And) else "or"  # type: ignore[attr-defined]
    new = "or" if old == "and" else "and"
    splices = []
    for left, right in zip(values, values[1:], strict=False):
        token = _token_between(analysis, left, right, _BOOL_TOKEN)
        if token is None:
            return None
        splices.append(Splice(*token, new))
    return Edit(tuple(splices), f"swap {old} -> {new} on line {line}")


def _sort_calls(analysis: Analysis) -> list[ast.Call]:
    calls: list[ast.Call] = []
    for site in analysis.nodes_of(ast.Call):
        func = site.node.func  # type: ignore[attr-defined]
        if (isinstance(func, ast.Name) and func.id == "sorted") or (
            isinstance(func, ast.Attribute) and func.attr == "sort"
        ):
            calls.append(site.node)  # type: ignore[arg-type]
    return calls


def _keyword(call: ast.Call, name: str) -> ast.keyword | None:
    return next((kw for kw in call.keywords if kw.arg == name), None)


def _flip_reverse(analysis: Analysis, call: ast.Call) -> Edit | None:
    line = _line(call)
    reverse = _keyword(call, "reverse")
    if reverse is not None:
        start, end = analysis.src.span(reverse.value)
        if isinstance(reverse.value, ast.Constant) and type(reverse.value.value) is bool:
            old = str(reverse.value.value)
            new = "False" if old == "True" else "True"
            return Edit((Splice(start, end, new),), f"sort: reverse={old} -> {new} on line {line}")
        text = analysis.src.text[start:end]
        return Edit((Splice(start, end, f"not ({text})"),), f"sort: negate reverse= on line {line}")
    arguments: list[ast.AST] = [*call.args, *call.keywords]
    if arguments:
        at = max(_end(analysis, arg) for arg in arguments)
        return Edit((Splice(at, at, ", reverse=True"),), f"sort: add reverse=True on line {line}")
    close = _end(analysis, call) - 1
    if analysis.src.text[close] != ")":
        return None
    return Edit((Splice(close, close, "reverse=True"),), f"sort: add reverse=True on line {line}")


def _negate(analysis: Analysis, node: ast.AST) -> Splice:
    start, end = analysis.src.span(node)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        operand_start = _start(analysis, node.operand)
        return Splice(start, operand_start, "")
    text = analysis.src.text[start:end]
    return Splice(start, end, f"-{text}" if isinstance(node, _ATOMS) else f"-({text})")


def _tweak_key(analysis: Analysis, call: ast.Call, rng: random.Random) -> Edit | None:
    key = _keyword(call, "key")
    if key is None or not isinstance(key.value, ast.Lambda):
        return None
    body = key.value.body
    line = _line(call)
    if isinstance(body, ast.Tuple) and len(body.elts) >= 2 and rng.random() < 0.5:
        index = rng.randrange(len(body.elts) - 1)
        first, second = body.elts[index], body.elts[index + 1]
        first_span, second_span = analysis.src.span(first), analysis.src.span(second)
        return Edit(
            (
                Splice(*first_span, analysis.src.text[second_span[0] : second_span[1]]),
                Splice(*second_span, analysis.src.text[first_span[0] : first_span[1]]),
            ),
            f"sort key: swap tuple elements {index + 1} and {index + 2} on line {line}",
        )
    if isinstance(body, ast.Tuple) and body.elts:
        index = rng.randrange(len(body.elts))
        return Edit((_negate(analysis, body.elts[index]),), f"sort key: negate element {index + 1} on line {line}")
    return Edit((_negate(analysis, body),), f"sort key: negate the key on line {line}")


def tweak_sort(analysis: Analysis, rng: random.Random, inspirations: Sequence[Analysis]) -> Edit | None:
    """Flip `reverse=` of a sorted()/.sort() call, or reorder/negate its lambda key."""
    calls = _sort_calls(analysis)
    if not calls:
        return None
    call = rng.choice(calls)
    if rng.random() < 0.6:
        return _flip_reverse(analysis, call) or _tweak_key(analysis, call, rng)
    return _tweak_key(analysis, call, rng) or _flip_reverse(analysis, call)
