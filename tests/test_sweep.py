"""The adaptive search's stall sweep (adaptive v5, v6): pairs of nested decisions, listed single edits,
their pairs, neutral steps."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import adrs
from adrs.archive.records import NewProgram, ProgramRecord
from adrs.archive.select import SelectionConfig
from adrs.archive.store import Archive
from adrs.evaluate.result import Evaluation
from adrs.mutate.offline.mutator import SWEEP_OPERATOR, OfflineMutator
from adrs.mutate.offline.neighbours import constant_ladder, control_pairs, single_edits
from adrs.mutate.offline.sites import Analysis
from adrs.mutate.offline.splices import apply_splices
from adrs.program import normalized_hash, unified_diff
from adrs.search.adaptive import STATE_KEY, AdaptiveSearch
from adrs.search.config import AdaptiveConfig
from adrs.search.sweep import StallSweep

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_adaptive import Landscape  # noqa: E402
from test_search import canonical  # noqa: E402

POLICY = """# EVOLVE-BLOCK-START
def policy(work, left, overhead):
    after = (work - 2 * overhead) / 600
    if not after >= left:
        return 1
    return 0
# EVOLVE-BLOCK-END
"""


def test_single_edits_list_every_discrete_edit_once_in_a_fixed_order():
    analysis = Analysis.of(POLICY)
    edits = single_edits(analysis)
    descriptions = [edit.description for _, edit in edits]
    assert descriptions == [edit.description for _, edit in single_edits(Analysis.of(POLICY))]  # no randomness
    children = [apply_splices(POLICY, edit.splices) for _, edit in edits]
    assert len(set(children)) == len(children) and POLICY not in children
    assert "swap operator / -> * on line 3" in descriptions
    assert "remove `not` on line 4" in descriptions
    assert "swap comparison >= -> > on line 4" in descriptions
    assert {"sweep constant 2 -> 3 on line 3", "sweep constant 2 -> 1 on line 3"} <= set(descriptions)
    names = {name for name, _ in edits}
    assert {"sweep_constant", "swap_compare", "swap_arith", "flip_bool", "delete_stmt"} <= names
    assert constant_ladder(2) == [3, 1, 4, -2, 0] and constant_ladder(0.5)[:2] == [0.625, 0.4]


def test_the_mutator_applies_listed_edits_together():
    edits = single_edits(Analysis.of(POLICY))
    index = {edit.description: i for i, (_, edit) in enumerate(edits)}
    pair = (index["swap operator / -> * on line 3"], index["remove `not` on line 4"])
    mutation = OfflineMutator().listed(POLICY, pair)
    assert mutation is not None and mutation.operator == SWEEP_OPERATOR
    assert "(work - 2 * overhead) * 600" in mutation.code and "if after >= left" in mutation.code
    assert OfflineMutator().listed(POLICY, (len(edits),)) is None  # past the list's end: no child


def stored(land: Landscape, parent: ProgramRecord, island: int, score: float, code: str) -> ProgramRecord:
    """Like Landscape.result, with the real normalised hash (what the sweep recognises children by)."""
    new = NewProgram(
        code=code,
        code_hash=normalized_hash(code),
        proposal_index=land.index,
        mutator="scripted",
        parent_id=parent.id,
        island=island,
        generation=parent.generation + 1,
        description="",
        diff=unified_diff(parent.code, code),
    )
    land.index += 1
    program = land.archive.add_program(land.run_id, new)
    program = land.archive.record_evaluations(program.id, [Evaluation("full", True, score=score)], complete=True)
    land.view.add(program)
    land.search.maintain(land.view, land.keeper.maintain(land.view, active=land.search.active))
    return program


def swept_landscape(
    tmp_path: Path,
    toy_problem: Path,
    sweep_after: int = 5,
    guard_share: float = 0.0,
    control: bool = False,
    code: str = POLICY,
) -> tuple[Landscape, ProgramRecord]:
    """A one-island adaptive search whose best is `code` at 60; `control` False: v5's order (no step 0)."""
    config = AdaptiveConfig(
        sweep_after=sweep_after,
        sweep_share=1.0,
        sweep_pairs=3,
        spawn_below=0.0,
        guard_share=guard_share,
        sweep_control=control,
    )
    land = Landscape(tmp_path, toy_problem, islands=1, config=config)
    land.search = AdaptiveSearch(land.archive, land.run_id, config, 1, land.keeper, sweeps=True)
    land.search.maintain(land.view, [])
    best = stored(land, land.initial, 0, 60.0, code)
    return land, best


def children_scores(edits: list, index: int) -> float:
    """A scripted landscape: two edits keep 60 (neutral), three drop to 55, 54 and 53, the rest break (10)."""
    return {0: 60.0, 1: 60.0, 2: 55.0, 3: 54.0, 4: 53.0}.get(index, 10.0)


def test_the_sweep_starts_only_after_the_best_has_stalled_and_lists_each_edit_once(toy_problem, tmp_path):
    land, best = swept_landscape(tmp_path, toy_problem, sweep_after=5)
    search, rng = land.search, random.Random(0)
    edits = single_edits(Analysis.of(POLICY))
    for _ in range(5):  # stalled, but not long enough (the fifth choice sees 4 stalled evaluations)
        choice = search.choose(land.view, rng)
        assert choice.mode != "sweep" and choice.sweep == ()
        search.settled(choice, stored(land, choice.selection.parent, 0, 40.0, f"other = {land.index}\n" + POLICY))
    seen: list[int] = []
    for _ in range(len(edits)):
        choice = search.choose(land.view, rng)
        assert choice.mode == "sweep"
        (index,) = choice.sweep
        assert choice.selection.parent.id == best.id and choice.escalation == 0
        seen.append(index)
        child = apply_splices(POLICY, edits[index][1].splices)
        search.settled(choice, stored(land, best, 0, children_scores(edits, index), child))
    assert sorted(seen) == list(range(len(edits)))  # every single edit once, in a drawn order
    assert seen != list(range(len(edits)))
    # Then the pairs of the three least harmful edits that changed the score (55, 54, 53; not the broken ones) ...
    pairs = []
    for _ in range(3):
        choice = search.choose(land.view, rng)
        assert choice.mode == "sweep" and len(choice.sweep) == 2
        pairs.append(choice.sweep)
        search.settled(choice, stored(land, best, 0, 50.0, f"pair = {land.index}\n" + POLICY))
    assert sorted(pairs) == [(2, 3), (2, 4), (3, 4)]
    # ... then each of those with each neutral edit (0 and 1: they kept the score), in a drawn order.
    for _ in range(6):
        choice = search.choose(land.view, rng)
        assert choice.mode == "sweep" and len(choice.sweep) == 2
        pairs.append(choice.sweep)
        search.settled(choice, stored(land, best, 0, 50.0, f"pair = {land.index}\n" + POLICY))
    assert sorted(pairs[3:]) == [(0, 2), (0, 3), (0, 4), (1, 2), (1, 3), (1, 4)]
    # Then a neutral step: the target becomes a child that scored the same as the best.
    choice = search.choose(land.view, rng)
    assert choice.mode == "sweep" and len(choice.sweep) == 1
    neutral = {apply_splices(POLICY, edits[i][1].splices) for i in (0, 1)}
    assert choice.selection.parent.code in neutral
    search.settled(choice, None)  # no child: the entry counts as tried, and the state is stored
    state = land.archive.get_state(land.run_id, STATE_KEY)["sweep"]
    assert state["target"] == choice.selection.parent.id and len(state["visited"]) == 2


NESTED = """# EVOLVE-BLOCK-START
def policy(work, left, overhead):
    after = (work - 2 * overhead) / 600
    if after >= left:
        if work > overhead:
            return 1
        return 2
    return 0
# EVOLVE-BLOCK-END
"""


def test_control_pairs_couple_a_test_with_a_test_nested_under_it():
    analysis = Analysis.of(NESTED)
    edits = [edit for _, edit in single_edits(analysis)]
    described = {(edits[i].description, edits[j].description) for i, j in control_pairs(analysis, edits)}

    def on(line: int) -> set[str]:  # the edits of one line's expressions (not of the statement itself)
        return {e.description for e in edits if f"line {line}" in e.description and "statement" not in e.description}

    outer, inner = on(4), on(5)
    assert outer and inner and on(6)  # edits of both tests and of a value the inner test guards exist
    assert all({a, b} & outer and {a, b} & inner for a, b in described)
    assert len(described) == len(outer) * len(inner)  # every outer test edit with every inner one
    flat = {d for pair in described for d in pair}
    assert not flat & (on(3) | on(6) | on(7) | on(8))  # values, guarded or not, are not paired
    assert control_pairs(analysis, edits) == sorted(control_pairs(analysis, edits))  # a fixed order
    assert control_pairs(Analysis.of(POLICY), [e for _, e in single_edits(Analysis.of(POLICY))]) == []  # one test
    # cant_be_late's initial program: its exit from 29.08 (an `or` under the line-30 test with that
    # test reversed, neither gaining alone: docs/benchmarks.md) is one of its 9 control pairs.
    initial = (Path(__file__).resolve().parents[1] / "problems" / "cant_be_late" / "initial.py").read_text()
    analysis = Analysis.of(initial)
    edits = [edit for _, edit in single_edits(analysis)]
    pairs = {(edits[i].description, edits[j].description) for i, j in control_pairs(analysis, edits)}
    assert len(pairs) == 9
    assert ("swap comparison >= -> <= on line 30", "swap and -> or on line 32") in pairs


def test_the_v6_sweep_tries_the_control_pairs_before_the_single_edits(toy_problem, tmp_path):
    land, best = swept_landscape(tmp_path, toy_problem, sweep_after=1, control=True, code=NESTED)
    search, rng = land.search, random.Random(5)
    analysis = Analysis.of(NESTED)
    edits = [edit for _, edit in single_edits(analysis)]
    coupled = control_pairs(analysis, edits)
    assert coupled
    choice = search.choose(land.view, rng)
    search.settled(choice, stored(land, choice.selection.parent, 0, 40.0, f"other = {land.index}\n" + POLICY))
    tried = []
    for _ in range(len(coupled)):
        choice = search.choose(land.view, rng)
        assert choice.mode == "sweep" and len(choice.sweep) == 2
        tried.append(choice.sweep)
        code = apply_splices(NESTED, edits[choice.sweep[0]].splices + edits[choice.sweep[1]].splices)
        search.settled(choice, stored(land, best, 0, 50.0, code))
    assert sorted(tried) == coupled  # each once, in a drawn order
    state = land.archive.get_state(land.run_id, STATE_KEY)["sweep"]
    assert sorted(tuple(p) for p in state["paired"]) == coupled  # stored: a resumed run goes on from here
    choice = search.choose(land.view, rng)
    assert choice.mode == "sweep" and len(choice.sweep) == 1  # then the single edits, as in v5


def test_a_new_best_restarts_the_sweep_and_the_sweep_resumes_exactly(toy_problem, tmp_path):
    land, best = swept_landscape(tmp_path, toy_problem, sweep_after=2)
    search, rng = land.search, random.Random(3)
    edits = single_edits(Analysis.of(POLICY))
    for _ in range(2):
        choice = search.choose(land.view, rng)
        search.settled(choice, stored(land, choice.selection.parent, 0, 40.0, f"other = {land.index}\n" + POLICY))
    for _ in range(10):
        choice = search.choose(land.view, rng)
        assert choice.mode == "sweep"
        (index,) = choice.sweep
        search.settled(choice, stored(land, best, 0, 50.0, apply_splices(POLICY, edits[index][1].splices)))
    # A search loaded from the stored state draws what this one draws next, with the same rng.
    reloaded = AdaptiveSearch(land.archive, land.run_id, search.config, 1, land.keeper, sweeps=True)
    reloaded.maintain(land.view, [])
    assert reloaded.sweep.to_state() == search.sweep.to_state()
    first, second = random.Random(9), random.Random(9)
    assert [search.choose(land.view, first).sweep for _ in range(5)] == [
        reloaded.choose(land.view, second).sweep for _ in range(5)
    ]
    assert StallSweep.from_state(search.sweep.to_state(), 3).to_state() == search.sweep.to_state()
    # A better best: the sweep waits for a new stall, then starts over on it.
    better = stored(land, best, 0, 70.0, POLICY.replace("return 0", "return 2"))
    assert search.choose(land.view, rng).mode != "sweep"
    for _ in range(2):
        choice = search.choose(land.view, rng)
        search.settled(choice, stored(land, choice.selection.parent, 0, 40.0, f"more = {land.index}\n" + POLICY))
    choice = search.choose(land.view, rng)
    assert choice.mode == "sweep" and choice.selection.parent.id == better.id
    assert search.sweep.to_state()["visited"] == [better.id]


def test_no_sweep_without_a_source_that_applies_listed_edits(toy_problem, tmp_path):
    config = AdaptiveConfig(sweep_after=1, sweep_share=1.0, spawn_below=0.0)
    land = Landscape(tmp_path, toy_problem, islands=1, config=config)  # sweeps=False: an LLM source
    rng = random.Random(0)
    for _ in range(5):
        choice = land.search.choose(land.view, rng)
        assert choice.mode != "sweep"
        land.search.settled(choice, land.result(choice.selection.parent, 0, 40.0))


def whole_and_resumed(problem: Path, tmp_path: Path, config: AdaptiveConfig) -> tuple[Archive, Archive]:
    """An adaptive run of 40 proposals in one go, and the same run stopped at 20 and resumed: the
    archives of both, after checking they hold the same programs and scores."""
    settings = dict(
        seed=5,
        workers=2,
        deterministic=True,
        lag=3,
        evaluate_holdout=False,
        selection=SelectionConfig(strategy="adaptive"),
        adaptive=config,
    )
    whole, halves = tmp_path / "whole.sqlite", tmp_path / "halves.sqlite"
    adrs.evolve(problem, archive=whole, budget=40, **settings)
    adrs.evolve(problem, archive=halves, budget=20, **settings)
    adrs.resume(halves, budget=20)
    assert canonical(whole) == canonical(halves)
    return Archive.open(halves), Archive.open(whole)


def test_a_run_with_the_sweep_resumes_exactly(toy_problem, tmp_path):
    # A sweep that starts early, so it is under way on both sides of the interruption.
    config = AdaptiveConfig(sweep_after=3, sweep_share=0.8, stall_window=4)
    archive, whole_archive = whole_and_resumed(toy_problem, tmp_path, config)
    run_id = archive.run().id
    swept = [p for p in archive.programs(run_id) if (p.description or "").startswith(f"{SWEEP_OPERATOR}:")]
    assert len(swept) >= 5, "the test should exercise the sweep"
    assert {p.proposal_index < 20 for p in swept} == {True, False}  # before and after the interruption
    state = archive.get_state(run_id, STATE_KEY)
    assert state == whole_archive.get_state(whole_archive.run().id, STATE_KEY)


def test_a_resumed_sweep_takes_in_a_failed_child_as_an_uninterrupted_one_does(toy_problem, tmp_path):
    # A swept child fails and its result reaches the view only after an interruption: the resumed
    # sweep lists its target afresh then, and failed results are not among the view's programs.
    land, best = swept_landscape(tmp_path, toy_problem, sweep_after=1)
    search, rng = land.search, random.Random(0)
    edits = single_edits(Analysis.of(POLICY))
    choice = search.choose(land.view, rng)
    search.settled(choice, stored(land, choice.selection.parent, 0, 40.0, f"other = {land.index}\n" + POLICY))
    choice = search.choose(land.view, rng)
    assert choice.mode == "sweep"
    (index,) = choice.sweep
    code = apply_splices(POLICY, edits[index][1].splices)
    new = NewProgram(
        code=code,
        code_hash=normalized_hash(code),
        proposal_index=land.index,
        mutator=SWEEP_OPERATOR,
        parent_id=best.id,
        island=0,
        generation=best.generation + 1,
        description="",
        diff=unified_diff(POLICY, code),
    )
    child = land.archive.add_program(land.run_id, new)
    search.settled(choice, child)  # stored with the state; its evaluation is still running
    failed = land.archive.record_evaluations(child.id, [Evaluation("full", False, error_kind="runtime_error")], False)
    assert failed.status == "failed"
    resumed = AdaptiveSearch(land.archive, land.run_id, search.config, 1, land.keeper, sweeps=True)
    land.view.add(failed)  # the result arrives: in the run that went on, and in the resumed one
    for each in (search, resumed):
        each.maintain(land.view, [])
    assert search.sweep.outcomes[index] == (None, child.id)
    assert resumed.sweep.to_state() == search.sweep.to_state()


def test_a_run_stored_before_v6_resumes_without_control_pairs_or_guards():
    from adrs.config import RunConfig

    stored = RunConfig(adaptive=AdaptiveConfig()).to_dict()
    v6 = RunConfig.from_dict(stored).adaptive
    assert v6.sweep_control is True and v6.guard_share == 0.5  # v6's runs keep theirs
    del stored["adaptive"]["sweep_control"]  # as a run stored by stop 39 has it (guard_share 0.0 stored)
    stored["adaptive"]["guard_share"] = 0.0
    assert RunConfig.from_dict(stored).adaptive.sweep_control is False
    del stored["adaptive"]["guard_share"]  # as a run stored by v5 has it
    v5 = RunConfig.from_dict(stored).adaptive
    assert v5.sweep_control is False and v5.guard_share == 0.0
