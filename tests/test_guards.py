"""The guard operator (adaptive v6): where a guard may go, what it compares and returns, and the
stall sweep's guard entries in a real run (the offline source applies them; resume continues them)."""

from __future__ import annotations

import ast
import random
import sys
from pathlib import Path

from adrs.mutate.offline.guards import guard_edits, guard_spots, insert_guard
from adrs.mutate.offline.mutator import GUARD_OPERATOR, OfflineMutator
from adrs.mutate.offline.sites import Analysis
from adrs.mutate.offline.splices import apply_splices
from adrs.program import check_edit_allowed
from adrs.search.adaptive import STATE_KEY
from adrs.search.config import AdaptiveConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_sweep import POLICY, children_scores, stored, swept_landscape, whole_and_resumed  # noqa: E402

PROGRAM = """\
import math

LIMIT = 3  # frozen: outside the region


# EVOLVE-BLOCK-START
def decide(load, limit):
    spare = limit - load
    if spare > 3:
        return 1
    other = load * 2
    return 0
# EVOLVE-BLOCK-END


def frozen(a, b):
    if a < b:
        return a
    return b
"""

# The `adrs init` skeleton's job-ordering policy with a decision in it: a guard has two values to compare.
ORDERING = """\
\"\"\"Job ordering policy: evolved by adrs between the EVOLVE-BLOCK markers.\"\"\"


# EVOLVE-BLOCK-START
def order_jobs(jobs):
    \"\"\"jobs: list of (processing_time, weight). Return a permutation of range(len(jobs)).\"\"\"
    n = len(jobs)
    few = 2
    by_ratio = sorted(range(n), key=lambda i: -jobs[i][1] / jobs[i][0])
    if n > few:
        return by_ratio
    return list(range(n))


# EVOLVE-BLOCK-END
"""


def test_guards_compare_values_known_at_their_place_and_return_what_the_function_returns() -> None:
    analysis = Analysis.of(PROGRAM)
    assert analysis is not None
    spots = guard_spots(analysis)
    # in the region's function only (not `frozen`), never before its first statement
    assert [s.line for s in spots] == [9, 11, 12]
    assert spots[0].known == ("limit", "load", "spare")  # `spare` is known once assigned
    assert spots[0].returns == ("0", "1")
    texts = [edit.description for edit in guard_edits(analysis)]
    assert "insert guard `if spare < 1.0 * load: return 0` before line 9" in texts
    assert not any("other" in text for text in texts)  # assigned, never compared or computed with
    assert len(texts) == len(set(texts)) == 3 * (3 * 2) * 2 * 2  # spots x ordered pairs x comparisons x returns
    for edit in guard_edits(analysis):
        child = apply_splices(PROGRAM, edit.splices)
        ast.parse(child)
        assert check_edit_allowed(PROGRAM, child) is None  # inside the region, the rest byte for byte
        tests = [ast.unparse(n.test) for n in ast.walk(ast.parse(child)) if isinstance(n, ast.If)]
        assert sum("1.0 *" in t for t in tests) == 1


def test_no_guard_goes_between_two_statements_on_one_line() -> None:
    code = "# EVOLVE-BLOCK-START\ndef f(a, b):\n    c = a + b; d = c - a\n    return d\n# EVOLVE-BLOCK-END\n"
    analysis = Analysis.of(code)
    assert analysis is not None
    assert [spot.line for spot in guard_spots(analysis)] == [4]  # before `return d`, not before `d = ...`


def test_a_function_with_nothing_to_compare_gets_no_guard() -> None:
    code = "# EVOLVE-BLOCK-START\ndef f(jobs):\n    order = sorted(jobs)\n    return order\n# EVOLVE-BLOCK-END\n"
    analysis = Analysis.of(code)
    assert analysis is not None
    assert guard_spots(analysis) == [] and insert_guard(analysis, random.Random(0), ()) is None
    assert OfflineMutator().guarded(code, random.Random(0)) is None


def test_guarded_children_are_valid_seeded_and_never_drawn_by_weight() -> None:
    mutator = OfflineMutator()
    first = [mutator.guarded(ORDERING, random.Random(seed)) for seed in range(30)]
    again = [OfflineMutator().guarded(ORDERING, random.Random(seed)) for seed in range(30)]
    assert [m.code for m in first if m] == [m.code for m in again if m]  # a seed fixes the guard
    assert all(m is not None and m.operator == GUARD_OPERATOR for m in first)
    assert len({m.code for m in first if m}) > 5
    for mutation in first:
        assert mutation is not None and check_edit_allowed(ORDERING, mutation.code) is None
        compile(mutation.code, "<child>", "exec")
    rng = random.Random(1)
    drawn = [mutator.propose(ORDERING, [], rng) for _ in range(200)]
    assert not any(m is not None and GUARD_OPERATOR in m.operator for m in drawn)
    # given a weight by hand it is drawn like any operator
    alone = OfflineMutator(operator_weights={GUARD_OPERATOR: 1.0})
    for _ in range(20):
        mutation = alone.propose(ORDERING, [], rng)
        assert mutation is not None and set(mutation.operator.split("+")) == {GUARD_OPERATOR}
        assert check_edit_allowed(ORDERING, mutation.code) is None


def test_the_stall_sweep_inserts_guards_into_its_target_for_its_guard_share(toy_problem, tmp_path) -> None:
    land, best = swept_landscape(tmp_path, toy_problem, sweep_after=1, guard_share=0.5)
    search, rng = land.search, random.Random(0)
    modes = []
    for _ in range(60):
        choice = search.choose(land.view, rng)
        modes.append(choice.mode)
        if choice.mode == "guard":
            assert choice.sweep == () and choice.selection.parent.id == best.id and choice.escalation == 0
            search.settled(choice, stored(land, best, 0, 40.0, f"guard = {land.index}\n" + POLICY))
        elif choice.mode == "sweep":
            assert len(choice.sweep) == 1
            child = f"edit = {land.index}\n" + POLICY
            search.settled(choice, stored(land, best, 0, children_scores([], choice.sweep[0]), child))
        else:
            search.settled(choice, stored(land, choice.selection.parent, 0, 40.0, f"x = {land.index}\n" + POLICY))
    guards, listed = modes.count("guard"), modes.count("sweep")
    assert guards + listed >= 58  # sweep_share 1: every stalled proposal is the sweep's
    assert 18 <= guards <= 42  # about half
    # guard entries take nothing off the list: the listed edits went on being walked in between
    assert len(search.sweep.proposed) == listed


def test_no_guards_with_guard_share_zero(toy_problem, tmp_path) -> None:
    land, _ = swept_landscape(tmp_path, toy_problem, sweep_after=1, guard_share=0.0)
    rng = random.Random(0)
    for _ in range(30):
        choice = land.search.choose(land.view, rng)
        assert choice.mode != "guard" and not choice.guard
        land.search.settled(choice, stored(land, choice.selection.parent, 0, 40.0, f"x = {land.index}\n" + POLICY))


def test_a_run_inserts_guards_when_stalled_and_resumes_exactly(toy_problem: Path, tmp_path: Path) -> None:
    (toy_problem / "initial.py").write_text(ORDERING)
    config = AdaptiveConfig(sweep_after=3, sweep_share=0.8, guard_share=0.5, stall_window=4)
    archive, whole_archive = whole_and_resumed(toy_problem, tmp_path, config)
    run_id = archive.run().id
    guarded = [p for p in archive.programs(run_id) if (p.description or "").startswith(f"{GUARD_OPERATOR}:")]
    assert len(guarded) >= 3, "the run should insert guards once stalled"
    assert {p.proposal_index < 20 for p in guarded} == {True, False}  # before and after the interruption
    for program in guarded:
        assert program.description.startswith("insert_guard: insert guard `if ")
        assert "1.0 *" in program.code and check_edit_allowed(ORDERING, program.code) is None
    assert archive.get_state(run_id, STATE_KEY) == whole_archive.get_state(whole_archive.run().id, STATE_KEY)


def test_a_guard_returns_only_a_decision_defined_at_its_place() -> None:
    code = """# EVOLVE-BLOCK-START
def f(load, limit):
    spare = limit - load
    pick = 1 if spare > load else -1
    if spare > limit:
        return pick
    if load > 2:
        return (spare, load)
    return helper(spare) if load else LIMIT
# EVOLVE-BLOCK-END
"""
    analysis = Analysis.of(code)
    assert analysis is not None
    returns = {spot.line: spot.returns for spot in guard_spots(analysis)}
    # a tuple and a call are computed results, never returned early; `pick` only once it is assigned
    assert returns == {5: ("pick",), 7: ("pick",), 9: ("pick",)}
    root = Path(__file__).resolve().parents[1] / "problems"
    txn = Analysis.of((root / "txn_scheduling" / "initial.py").read_text())
    assert txn is not None and guard_spots(txn) == []  # its one return is (cost, schedule)
    late = Analysis.of((root / "cant_be_late" / "initial.py").read_text())
    assert late is not None
    assert {"ClusterType.SPOT if has_spot else ClusterType.NONE", "ClusterType.ON_DEMAND"} <= set(
        guard_spots(late)[0].returns
    )


def test_a_sweep_with_no_place_for_a_guard_draws_exactly_as_without_guards(toy_problem, tmp_path) -> None:
    computed = POLICY.replace("return 1", "return (1, after)").replace("return 0", "return (0, after)")
    walks = []
    for share in (0.5, 0.0):
        land, _ = swept_landscape(tmp_path / str(share), toy_problem, sweep_after=1, guard_share=share, code=computed)
        rng, walk = random.Random(4), []
        for _ in range(25):
            choice = land.search.choose(land.view, rng)
            walk.append((choice.mode, choice.sweep))
            code = f"x = {land.index}\n" + computed
            land.search.settled(choice, stored(land, choice.selection.parent, 0, 40.0, code))
        walks.append(walk)
    assert walks[0] == walks[1] and ("sweep", ()) not in walks[0]
    assert sum(mode == "sweep" for mode, _ in walks[0]) >= 20
