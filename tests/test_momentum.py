"""Momentum (adaptive search): the numbers a gain changed are read from its diff and pushed further."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from adrs.archive.elites import Elites
from adrs.archive.records import NewProgram
from adrs.archive.store import Archive
from adrs.evaluate.result import Evaluation
from adrs.islands import IslandKeeper
from adrs.mutate.offline import OfflineMutator
from adrs.mutate.offline.momentum import extrapolate_constant, next_value
from adrs.mutate.offline.sites import Analysis
from adrs.problem import load_problem
from adrs.program import unified_diff
from adrs.search.adaptive import AdaptiveSearch
from adrs.search.config import AdaptiveConfig
from adrs.search.focus import Step, momentum_of, numeric_steps
from adrs.search.parents import EXPLOIT

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks" / "peers"))
from mutation_server import momentum as server_momentum  # noqa: E402

KNOB = """# EVOLVE-BLOCK-START
def policy(items):
    num_samples = {samples}  # how many to look at
    weight = {weight}
    return sorted(items[:num_samples], key=lambda x: x * weight)
# EVOLVE-BLOCK-END
"""


def knob(samples: int = 10, weight: str = "0.5") -> str:
    return KNOB.format(samples=samples, weight=weight)


def test_the_numbers_a_diff_changed_are_read_with_their_new_line():
    diff = unified_diff(knob(10, "0.5"), knob(13, "0.75"))
    assert numeric_steps(diff) == (Step(3, 10, 13), Step(4, 0.5, 0.75))
    # A line changed in anything but its numbers is no step (a rename, an operator swap).
    renamed = unified_diff(knob(), knob().replace("x * weight", "x + weight"))
    assert numeric_steps(renamed) == ()
    assert numeric_steps(unified_diff(knob(), knob().replace("num_samples = 10", "num_samples = n1"))) == ()


def test_a_step_is_pushed_one_two_or_four_times_further_the_same_way():
    assert [next_value(Step(1, 10, 13), k) for k in (1, 2, 4)] == [16, 19, 25]
    assert [next_value(Step(1, 13, 10), k) for k in (1, 2)] == [7, 4]
    assert next_value(Step(1, 0.5, 0.75), 1) == pytest.approx(1.125)  # floats: the same ratio
    assert next_value(Step(1, 0.0, 0.5), 1) == pytest.approx(1.0)  # from zero: the same difference
    assert next_value(Step(1, 3, 3), 1) is None


def test_extrapolation_moves_the_literal_on_the_steps_line_only():
    analysis = Analysis.of(knob(13))
    rng = random.Random(0)
    seen = set()
    for _ in range(30):
        edit = extrapolate_constant(analysis, rng, [Step(3, 10, 13)])
        assert edit is not None and len(edit.splices) == 1
        splice = edit.splices[0]
        assert knob(13)[splice.start : splice.end] == "13"
        seen.add(splice.text)
    assert seen == {"16", "19", "25"}
    # The literal is no longer the value the step produced (another edit moved it): nothing to push.
    assert extrapolate_constant(Analysis.of(knob(14)), rng, [Step(3, 10, 13)]) is None


def test_the_mutator_pushes_the_momentum_in_about_half_of_the_children():
    mutator = OfflineMutator()

    def pushed(momentum: tuple[Step, ...]) -> int:
        rng = random.Random(5)
        children = [mutator.propose(knob(13), [], rng, momentum=momentum) for _ in range(200)]
        return sum(c is not None and c.operator == "extrapolate_constant" for c in children)

    assert pushed(()) == 0
    assert 60 <= pushed((Step(3, 10, 13),)) <= 140  # 0.5 of 200, seeded


def test_exploiting_a_parent_made_by_a_numeric_gain_carries_its_step(toy_problem, tmp_path):
    archive = Archive.open(tmp_path / "momentum.sqlite")
    run_id = archive.create_run("toy", str(toy_problem), "f", 0, {}).id
    view = Elites(load_problem(toy_problem), 1)
    keeper = IslandKeeper(archive, run_id, 1, 0, None)
    config = AdaptiveConfig(intensity_min=0.0, intensity_max=0.0, exploit_share=1.0)  # always the best
    search = AdaptiveSearch(archive, run_id, config, 1, keeper)

    def store(code: str, parent, index: int, score: float, description: str = ""):
        new = NewProgram(
            code=code,
            code_hash=f"h{index}",
            proposal_index=index,
            mutator="initial" if parent is None else "offline",
            parent_id=None if parent is None else parent.id,
            diff=unified_diff(parent.code, code) if parent is not None else "",
            description=description,
        )
        stored = archive.add_program(run_id, new)
        program = archive.record_evaluations(stored.id, [Evaluation("full", True, score=score)], complete=True)
        view.add(program)
        search.maintain(view, keeper.maintain(view, active=search.active))
        return program

    initial = store(knob(10), None, 0, 50.0)
    better = store(knob(13), initial, 1, 55.0, "perturb_constant: perturb constant 10 -> 13 on line 3")
    choice = search.choose(view, random.Random(0))
    assert choice.mode == EXPLOIT and choice.selection.parent.id == better.id
    assert choice.momentum == (Step(3, 10, 13),)
    # An LLM prompt is told the same in words; the benchmark's stand-in model reads the step back from them.
    assert "Its last gain came from this change: perturb_constant: perturb constant 10 -> 13" in choice.guidance
    assert server_momentum(choice.guidance) == choice.momentum
    search.settled(choice, None)
    # A child that did not gain carries nothing to push: exploiting the best still follows 10 -> 13.
    store(knob(13, "0.6"), better, 2, 54.0)
    assert momentum_of(view.best(), view) == (Step(3, 10, 13),)
    worse = view.programs[max(view.programs)]
    assert momentum_of(worse, view) == ()
    archive.close()
