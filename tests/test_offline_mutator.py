"""The offline mutator: valid, region-confined, deterministic children from every operator."""

from __future__ import annotations

import ast
import hashlib
import os
import random
import re
import subprocess
import sys
from collections import Counter

import pytest

from adrs.mutate.offline import DEFAULT_WEIGHTS, OPERATORS, Mutation, OfflineMutator
from adrs.program import (
    MarkerError,
    check_edit_allowed,
    compiles,
    find_regions,
    frozen_parts,
    normalized_hash,
    split_lines,
)

PROGRAM = '''\
"""Greedy placement of model replicas onto GPUs (an example policy)."""

import math

# Frozen helper: the evaluator relies on this signature.
def capacity_of(gpu):
    return gpu["memory"] - gpu["used"]   # keep   odd   spacing


# EVOLVE-BLOCK-START
def place(models, gpus, headroom=0.15):
    """Assign each model to a GPU, largest first."""
    order = sorted(models, key=lambda m: (m["size"], m["rate"]), reverse=True)
    placement = {}
    loads = [0.0] * len(gpus)
    for model in order:
        best = None
        best_score = math.inf  # lower is better
        for i, gpu in enumerate(gpus):
            free = capacity_of(gpu) - loads[i]
            if free < model["size"] * (1.0 + headroom):
                continue
            score = 0.5 * loads[i] / max(gpu["memory"], 1) + 0.25 * free
            if score < best_score and not gpu.get("draining", False):
                best, best_score = i, score
        if best is None:
            best = min(range(len(gpus)), key=lambda j: loads[j])
        placement[model["name"]] = best
        loads[best] += model["size"]
    return placement
# EVOLVE-BLOCK-END


def run(models, gpus):  # frozen entry point
    return place(models, gpus)
'''

# A sibling program: a different score and an extra statement, as another island might evolve.
INSPIRATION = PROGRAM.replace(
    '            score = 0.5 * loads[i] / max(gpu["memory"], 1) + 0.25 * free\n',
    "            # prefer GPUs that stay balanced\n"
    '            util = (loads[i] + model["size"]) / max(gpu["memory"], 1)\n'
    "            score = util * util - 0.1 * free\n",
).replace("    placement = {}\n", "    placement = {}\n    spilled = []\n")
INSPIRATION_ONLY_LINES = {'util = (loads[i] + model["size"]) / max(gpu["memory"], 1)', "spilled = []"}


def _assert_valid_child(parent: str, mutation: Mutation) -> None:
    assert compiles(mutation.code) is None, mutation.description
    assert frozen_parts(mutation.code) == frozen_parts(parent), mutation.description
    assert check_edit_allowed(parent, mutation.code) is None
    assert normalized_hash(mutation.code) != normalized_hash(parent), mutation.description
    assert mutation.description


def _proposals(seed: int, count: int, inspirations: list[str]) -> list[Mutation | None]:
    mutator = OfflineMutator()
    rng = random.Random(seed)
    return [mutator.propose(PROGRAM, inspirations, rng) for _ in range(count)]


def test_500_proposals_are_valid_confined_and_use_every_operator() -> None:
    mutations = _proposals(seed=7, count=500, inspirations=[INSPIRATION])
    used: Counter[str] = Counter()
    for mutation in mutations:
        assert mutation is not None
        _assert_valid_child(PROGRAM, mutation)
        used.update(mutation.operator.split("+"))
    # every operator the default weights draw; the guard only when the stall sweep asks (guarded)
    assert set(used) == {name for name, weight in DEFAULT_WEIGHTS.items() if weight > 0}, used
    assert "insert_guard" in OPERATORS and "insert_guard" not in used
    assert any("+" in m.operator for m in mutations if m), "some children chain operators"
    assert len({m.code for m in mutations if m}) > 150, "children are diverse"


def test_same_seed_gives_the_same_sequence_and_other_seeds_differ() -> None:
    first = _proposals(seed=11, count=60, inspirations=[INSPIRATION])
    again = _proposals(seed=11, count=60, inspirations=[INSPIRATION])
    other = _proposals(seed=12, count=60, inspirations=[INSPIRATION])
    assert first == again
    assert first != other
    assert sum(a != b for a, b in zip(first, other, strict=True)) > 30


_DIGEST_SCRIPT = """
import hashlib, random, sys
sys.path.insert(0, {tests!r})
from test_offline_mutator import INSPIRATION, PROGRAM
from adrs.mutate.offline import OfflineMutator
mutator, rng, digest = OfflineMutator(), random.Random(5), hashlib.sha256()
for _ in range(80):
    m = mutator.propose(PROGRAM, [INSPIRATION], rng)
    digest.update(repr(m).encode())
print(digest.hexdigest())
"""


def test_sequence_does_not_depend_on_hash_randomisation() -> None:
    mutator, rng, digest = OfflineMutator(), random.Random(5), hashlib.sha256()
    for _ in range(80):
        digest.update(repr(mutator.propose(PROGRAM, [INSPIRATION], rng)).encode())
    script = _DIGEST_SCRIPT.format(tests=os.path.dirname(__file__))
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == digest.hexdigest()


@pytest.mark.parametrize("operator", [name for name in OPERATORS if name != "insert_guard"])  # PROGRAM has no
def test_each_operator_alone_yields_valid_children(operator: str) -> None:  # place for one: tests/test_guards.py
    mutator = OfflineMutator(operator_weights={operator: 1.0})
    rng = random.Random(3)
    produced = 0
    for _ in range(40):
        mutation = mutator.propose(PROGRAM, [INSPIRATION], rng)
        assert mutation is not None, operator
        assert set(mutation.operator.split("+")) == {operator}
        _assert_valid_child(PROGRAM, mutation)
        produced += 1
    assert produced == 40


def _changed_lines(old: str, new: str) -> list[tuple[str, str]]:
    return [(a, b) for a, b in zip(split_lines(old), split_lines(new), strict=False) if a != b]


def test_expression_operators_change_exactly_their_token() -> None:
    cases = {
        "swap_compare": r"<|<=|>|>=|==|!=|\bis\b|\bis not\b",
        "swap_arith": r"[-+*/]|//|\bmin\b|\bmax\b",
        "flip_bool": r"\bTrue\b|\bFalse\b|\bnot\b|\band\b|\bor\b",
    }
    for operator in cases:
        mutator = OfflineMutator(operator_weights={operator: 1.0})
        rng = random.Random(9)
        for _ in range(30):
            mutation = mutator.propose(PROGRAM, [], rng)
            assert mutation is not None
            if "+" in mutation.operator or "and ->" in mutation.description:
                continue  # chains and and/or swaps may touch several tokens
            changed = _changed_lines(PROGRAM, mutation.code)
            assert len(changed) == 1, (operator, mutation.description)
            old, new = changed[0]
            # outside the edited token the line is identical: prefix and suffix agree
            prefix = len(os_commonprefix(old, new))
            suffix = len(os_commonprefix(old[::-1], new[::-1]))
            assert prefix + suffix >= min(len(old), len(new)) - 8, (old, new)


def os_commonprefix(a: str, b: str) -> str:
    return os.path.commonprefix([a, b])


def test_perturbation_is_scale_aware_and_rarely_touches_indices() -> None:
    program = (
        "# EVOLVE-BLOCK-START\n"
        "def f(xs):\n"
        "    tiny = 0.001\n"
        "    huge = 5000.0\n"
        "    negative = -0.5\n"
        "    return xs[0] * tiny + huge * negative + xs[1]\n"
        "# EVOLVE-BLOCK-END\n"
    )
    mutator = OfflineMutator(operator_weights={"perturb_constant": 1.0})
    rng = random.Random(21)
    picks: Counter[str] = Counter()
    for _ in range(300):
        mutation = mutator.propose(program, [], rng)
        assert mutation is not None
        _assert_valid_child(program, mutation)
        if "+" in mutation.operator:
            continue
        match = re.fullmatch(r"perturb constant (\S+) -> (\S+) on line (\d+)", mutation.description)
        assert match, mutation.description
        old, new = float(match.group(1)), float(match.group(2).strip("()"))
        picks[match.group(1)] += 1
        if old != 0 and (new / old) > 0:  # sign flips and zeroes are rare by design
            assert 0.05 <= new / old <= 20, mutation.description
        assert "--" not in mutation.code
    assert picks["0.001"] > 30 and picks["5000.0"] > 30 and picks["-0.5"] > 30
    index_picks = picks["0"] + picks["1"]
    assert index_picks < 0.15 * sum(picks.values()), picks


def test_byte_columns_of_non_ascii_lines_are_respected() -> None:
    program = '# EVOLVE-BLOCK-START\nlabel = "héllo → wörld"; weight = max(len("é"), 0.5)\n# EVOLVE-BLOCK-END\n'
    mutator = OfflineMutator(operator_weights={"perturb_constant": 1.0, "swap_arith": 1.0})
    rng = random.Random(2)
    for _ in range(50):
        mutation = mutator.propose(program, [], rng)
        assert mutation is not None
        _assert_valid_child(program, mutation)
        assert '"héllo → wörld"' in mutation.code and 'len("é")' in mutation.code


def test_crossover_brings_inspiration_code() -> None:
    mutator = OfflineMutator(operator_weights={"crossover": 1.0})
    rng = random.Random(4)
    parent_lines = {line.strip() for line in split_lines(PROGRAM)}
    brought: set[str] = set()
    for _ in range(30):
        mutation = mutator.propose(PROGRAM, [INSPIRATION], rng)
        assert mutation is not None
        _assert_valid_child(PROGRAM, mutation)
        new_lines = {line.strip() for line in split_lines(mutation.code)} - parent_lines
        assert new_lines, mutation.description
        assert new_lines <= {line.strip() for line in split_lines(INSPIRATION)}, "only inspiration code arrives"
        brought |= new_lines
        assert "inspiration 1" in mutation.description
    assert brought >= INSPIRATION_ONLY_LINES


def test_crossover_replaces_a_same_named_function() -> None:
    parent = (
        "# EVOLVE-BLOCK-START\ndef helper(x):\n    return x\n\n\n"
        "def main(x):\n    return helper(x) + 1\n# EVOLVE-BLOCK-END\n"
    )
    donor = (
        "import math\n\n\ndef main(x):\n    return 1\n\n\ndef helper(x):\n    y = math.sqrt(abs(x))\n    return y * 2\n"
    )
    mutator = OfflineMutator(operator_weights={"crossover": 1.0})
    rng = random.Random(0)
    children = {m.code for m in (mutator.propose(parent, [donor], rng) for _ in range(30)) if m}
    assert any("    y = math.sqrt(abs(x))\n    return y * 2\n" in code for code in children)
    assert all(check_edit_allowed(parent, code) is None for code in children)


def test_crossover_needs_a_differing_parsable_inspiration() -> None:
    mutator = OfflineMutator(operator_weights={"crossover": 1.0})
    rng = random.Random(1)
    assert mutator.propose(PROGRAM, [], rng) is None
    assert mutator.propose(PROGRAM, [PROGRAM], rng) is None
    assert mutator.propose(PROGRAM, ["def broken(:\n"], rng) is None
    assert mutator.propose(PROGRAM, ["def broken(:\n", INSPIRATION], rng) is not None


def test_program_without_markers_is_evolvable_as_a_whole() -> None:
    program = "def f(x):\n    if x > 2:\n        return x * 0.5\n    return x + 1\n"
    mutator = OfflineMutator()
    rng = random.Random(8)
    children = [mutator.propose(program, [], rng) for _ in range(100)]
    for mutation in children:
        assert mutation is not None
        _assert_valid_child(program, mutation)
        assert "EVOLVE-BLOCK" not in mutation.code
    assert len({m.code for m in children if m}) > 20


@pytest.mark.parametrize(
    "program",
    [
        "def f(x):\n    # EVOLVE-BLOCK-START\n    pass\n    # EVOLVE-BLOCK-END\n",
        "def f(x):\n    # EVOLVE-BLOCK-START\n    # EVOLVE-BLOCK-END\n    return 1\n",
        "# EVOLVE-BLOCK-START\n# EVOLVE-BLOCK-END\n",
        "",
    ],
)
def test_degenerate_regions_do_not_crash(program: str) -> None:
    donor = "def f(x):\n    y = x * 2\n    return y\n"
    for inspirations in ([], [donor]):
        mutator = OfflineMutator()
        rng = random.Random(0)
        for _ in range(20):
            mutation = mutator.propose(program, inspirations, rng)
            if mutation is not None:
                _assert_valid_child(program, mutation)


def test_only_code_inside_regions_changes_with_several_regions() -> None:
    program = (
        "LIMIT = 10  # frozen\n"
        "# EVOLVE-BLOCK-START\n"
        "ALPHA = 0.3\n"
        "# EVOLVE-BLOCK-END\n"
        "def frozen(x):\n"
        "    return x < LIMIT and x * 2.0 > 1\n"
        "def g(x):\n"
        "    # EVOLVE-BLOCK-START\n"
        "    y = x * ALPHA\n"
        "    if y > 4:\n"
        "        y -= 1\n"
        "    return y\n"
        "    # EVOLVE-BLOCK-END\n"
    )
    mutator = OfflineMutator()
    rng = random.Random(13)
    touched: set[int] = set()
    for _ in range(200):
        mutation = mutator.propose(program, [], rng)
        assert mutation is not None
        _assert_valid_child(program, mutation)
        touched.update(
            find_regions(program).index(r)
            for r in find_regions(program)
            if any(
                a != b
                for a, b in zip(
                    split_lines(program)[r.start : r.end], split_lines(mutation.code)[r.start : r.end], strict=False
                )
            )
        )
    assert touched == {0, 1}


def test_unparsable_parent_gives_none_and_broken_markers_raise() -> None:
    mutator = OfflineMutator()
    assert mutator.propose("def f(:\n    x = 0.5\n", [], random.Random(0)) is None
    with pytest.raises(MarkerError, match="line 2"):
        mutator.propose("x = 1\n# EVOLVE-BLOCK-START\ny = 0.5\n", [], random.Random(0))


def test_operator_weights_are_validated() -> None:
    with pytest.raises(ValueError, match="unknown"):
        OfflineMutator(operator_weights={"rewrite_everything": 1.0})
    with pytest.raises(ValueError, match="positive"):
        OfflineMutator(operator_weights={"crossover": 0.0})
    with pytest.raises(ValueError, match=">= 0"):
        OfflineMutator(operator_weights={"crossover": -1.0})
    with pytest.raises(ValueError):
        OfflineMutator(max_attempts=0)
    assert OfflineMutator(operator_weights={"crossover": 2.0}).operator_weights["perturb_constant"] == 0.0


def _hundred_line_program() -> str:
    helpers = "".join(
        f"def helper_{k}(values, scale={0.1 * (k + 1):.2f}):\n"
        f"    total = 0.0\n"
        f"    for v in sorted(values, reverse={k % 2 == 0}):\n"
        f"        if v > {k} and v <= {k * 10 + 5}:\n"
        f"            total += v * scale\n"
        f"        elif not v:\n"
        f"            total -= 1\n"
        f"    return min(total, {100 * (k + 1)}) / 2\n\n"
        for k in range(7)
    )
    return PROGRAM.replace("# EVOLVE-BLOCK-START\n", "# EVOLVE-BLOCK-START\n" + helpers)


def test_every_proposal_on_a_100_line_program_is_a_valid_new_child() -> None:
    # How fast this goes is a benchmark (benchmarks/offline_mutator_speed.py), not a test: a timed
    # assertion fails on a loaded machine. What must hold anywhere: every proposal is a valid child.
    program = _hundred_line_program()
    assert 95 <= len(split_lines(program)) <= 110
    mutator = OfflineMutator()
    rng = random.Random(0)
    children = set()
    for _ in range(200):
        mutation = mutator.propose(program, [INSPIRATION], rng)
        assert mutation is not None
        _assert_valid_child(program, mutation)
        children.add(normalized_hash(mutation.code))
    assert len(children) > 100  # mostly distinct children, not one edit over and over


def test_children_parse_to_the_expected_structure() -> None:
    # statement operators keep blocks non-empty: deleting the only statement leaves `pass`
    program = "def f(x):\n    # EVOLVE-BLOCK-START\n    if x:\n        x += 1\n    return x\n    # EVOLVE-BLOCK-END\n"
    mutator = OfflineMutator(operator_weights={"delete_stmt": 1.0})
    rng = random.Random(0)
    seen = {m.code for m in (mutator.propose(program, [], rng) for _ in range(30)) if m}
    assert (
        "def f(x):\n    # EVOLVE-BLOCK-START\n    if x:\n        pass\n    return x\n    # EVOLVE-BLOCK-END\n" in seen
    )
    for code in seen:
        ast.parse(code)


def test_escalation_chains_more_operators_and_grafts_more():
    """The adaptive search's answer to a stalled island: larger edits (longer chains, more crossover)."""
    mutator = OfflineMutator()

    def shape(escalation: int) -> tuple[int, int]:
        rng = random.Random(7)
        children = [mutator.propose(PROGRAM, [INSPIRATION], rng, escalation=escalation) for _ in range(200)]
        operators = [c.operator for c in children if c is not None]
        return sum("+" in o for o in operators), sum("crossover" in o for o in operators)

    (chained_0, crossover_0), (chained_3, crossover_3) = shape(0), shape(3)
    assert chained_3 > 2 * chained_0, (chained_0, chained_3)
    assert crossover_3 > crossover_0, (crossover_0, crossover_3)


def test_focus_lines_draw_the_first_edit_to_them():
    """Exploiting a parent whose last gain was on one line: most children change that line again."""
    mutator = OfflineMutator()
    line = PROGRAM.splitlines().index('            score = 0.5 * loads[i] / max(gpu["memory"], 1) + 0.25 * free') + 1

    def share_touching(focus: tuple[int, ...]) -> float:
        rng = random.Random(11)
        children = [mutator.propose(PROGRAM, [], rng, focus=focus) for _ in range(200)]
        kept = [c for c in children if c is not None]
        touched = [c for c in kept if PROGRAM.splitlines()[line - 1] not in c.code.splitlines()]
        return len(touched) / len(kept)

    unfocused, focused = share_touching(()), share_touching((line,))
    assert focused > unfocused + 0.2, (unfocused, focused)  # seeded: 0.24 vs 0.52 today
