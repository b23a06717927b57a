"""Adaptive search (`--selection adaptive`): intensity, island bandit, spawning, resume, breakthroughs."""

from __future__ import annotations

import itertools
import json
import random
import sys
from pathlib import Path

import pytest
from rich.console import Console

import adrs
from adrs.archive.elites import Elites
from adrs.archive.records import NewProgram, ProgramRecord
from adrs.archive.select import SelectionConfig
from adrs.archive.store import Archive
from adrs.evaluate.result import Evaluation
from adrs.inspect_run import render_program
from adrs.islands import IslandKeeper
from adrs.problem import load_problem
from adrs.program import unified_diff
from adrs.search.adaptive import STATE_KEY, AdaptiveSearch
from adrs.search.bandit import IslandBandit
from adrs.search.config import AdaptiveConfig
from adrs.search.focus import PUSH_OPERATOR, Step
from adrs.search.paradigms import breakthroughs

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fake_openai import FakeOpenAI, Reply  # noqa: E402
from test_search import canonical  # noqa: E402


class Landscape:
    """A scripted toy landscape: a real archive and view, fed results whose scores the test chooses."""

    def __init__(self, tmp_path: Path, problem_dir: Path, islands: int = 3, config: AdaptiveConfig | None = None):
        self.archive = Archive.open(tmp_path / "landscape.sqlite")
        self.run_id = self.archive.create_run("toy", str(problem_dir), "f", 0, {}).id
        self.view = Elites(load_problem(problem_dir), islands)
        self.keeper = IslandKeeper(self.archive, self.run_id, islands, 0, None)
        self.search = AdaptiveSearch(self.archive, self.run_id, config or AdaptiveConfig(), islands, self.keeper)
        self.index = 0
        self.initial = self.result(None, 0, 50.0)

    def result(
        self, parent: ProgramRecord | None, island: int, score: float, code: str = "", description: str = ""
    ) -> ProgramRecord:
        """Store and evaluate one program with `score` (code and description as given); the search takes it in."""
        code = code or f"# program {self.index}\n"
        new = NewProgram(
            code=code,
            code_hash=f"h{self.index}",
            proposal_index=self.index,
            mutator="initial" if parent is None else "scripted",
            parent_id=None if parent is None else parent.id,
            island=island,
            generation=0 if parent is None else parent.generation + 1,
            description=description,
            diff=unified_diff(parent.code, code) if parent is not None else "",
        )
        self.index += 1
        stored = self.archive.add_program(self.run_id, new)
        program = self.archive.record_evaluations(stored.id, [Evaluation("full", True, score=score)], complete=True)
        self.view.add(program)
        copies = self.keeper.maintain(self.view, active=self.search.active)
        self.search.maintain(self.view, copies)
        return program


def test_intensity_rises_after_stagnation_and_falls_after_gains(toy_problem, tmp_path):
    land = Landscape(tmp_path, toy_problem)
    search = land.search
    fresh = search.intensity(0)
    assert fresh == pytest.approx(search.config.intensity_max)  # no record of improving: explore most
    best = land.initial
    for step in range(1, 6):  # five gains in a row on island 0
        best = land.result(best, 0, 50.0 + 2.0 * step)
    span = search.config.intensity_max - search.config.intensity_min
    after_gains = search.intensity(0)
    assert after_gains < fresh - 0.35 * span
    for _ in range(40):  # then nothing better
        land.result(best, 0, 45.0)
    after_stall = search.intensity(0)
    assert after_stall > after_gains + 0.35 * span
    land.result(best, 0, 70.0)  # a gain again: back down
    assert search.intensity(0) < after_stall - 0.25 * span
    assert search.intensity(1) == pytest.approx(fresh)  # other islands keep their own signal


def test_the_bandit_prefers_the_island_that_improves(toy_problem, tmp_path):
    land = Landscape(tmp_path, toy_problem, config=AdaptiveConfig(spawn_below=0.0))  # no spawning here
    search = land.search
    parents = {i: land.initial for i in range(3)}
    chosen = {0: 0, 1: 0, 2: 0}
    rng = random.Random(0)
    score = 50.0
    for _ in range(90):
        choice = search.choose(land.view, rng)
        island = choice.island
        chosen[island] += 1
        if island == 1:  # island 1 keeps improving, the others never do
            score += 0.5
            child = land.result(parents[1], 1, score)
            parents[1] = child
        else:
            child = land.result(parents[island], island, 40.0)
        search.settled(choice, child)
    assert chosen[1] > 2 * max(chosen[0], chosen[2]), chosen
    assert min(chosen[0], chosen[2]) >= search.config.min_pulls  # the others still get looked at


def test_the_bandit_counts_children_in_flight_and_ignores_migrated_gains():
    bandit = IslandBandit(c=0.5, decay=0.9, min_pulls=1)
    for island in (0, 1):
        bandit.pulled(island)
        bandit.reward(island, 0.0)
    bandit.reward(0, 1.0)  # island 0 found something
    assert bandit.choose([0, 1]) == 0
    # many of island 0's children are already on their way: the next call goes elsewhere
    assert bandit.choose([0, 1], in_flight={0: 40}) == 1


def test_islands_are_spawned_while_progress_is_rare_and_seeded_with_the_best(toy_problem, tmp_path):
    config = AdaptiveConfig(spawn_window=10, spawn_cooldown=10, spawn_below=0.15, max_islands=4)
    land = Landscape(tmp_path, toy_problem, config=config)
    best = land.result(land.initial, 0, 60.0)
    for k in range(12):
        land.result(best, k % 3, 40.0)
    assert land.search.active == [0, 1, 2, 3]
    spawned = land.archive.events(land.run_id, "island_spawned")
    assert len(spawned) == 1 and spawned[0][1]["island"] == 3
    assert land.view.best(3).score == 60.0  # the new island starts from the run's best
    state = land.archive.get_state(land.run_id, STATE_KEY)
    assert state["active"] == [0, 1, 2, 3]


def test_a_long_stalled_island_retires_but_never_the_one_that_found_the_best(toy_problem, tmp_path):
    config = AdaptiveConfig(retire_after=10, min_islands=2, spawn_below=0.0)  # no spawning here
    land = Landscape(tmp_path, toy_problem, config=config)
    best = land.result(land.initial, 1, 60.0)  # island 1 finds the run's best; it is shared to every island
    assert land.view.best(0).score == 60.0 and land.view.best(2).score == 60.0
    for _ in range(10):  # then no island improves, island 1 included
        for island in (1, 0, 2):
            land.result(best, island, 40.0)
    assert land.search.active == [1, 2]  # island 0 went first; then min_islands holds
    retired = land.archive.events(land.run_id, "island_retired")
    assert [payload["island"] for _, payload, _ in retired] == [0]
    assert land.search.choose(land.view, random.Random(0)).island in (1, 2)
    assert land.archive.get_state(land.run_id, STATE_KEY)["active"] == [1, 2]


def test_a_stalled_island_gets_larger_offline_edits(toy_problem, tmp_path):
    # One island, so the choice below is on it.
    config = AdaptiveConfig(stall_window=5, spawn_below=0.0, neighbourhood=0)  # no hill-like share here
    land = Landscape(tmp_path, toy_problem, islands=1, config=config)
    assert land.search.escalation(0) == 0
    for _ in range(11):
        land.result(land.initial, 0, 40.0)
    assert land.search.escalation(0) == 2
    choice = land.search.choose(land.view, random.Random(1))
    assert (choice.island, choice.escalation) == (0, 2)
    assert "larger, structural change" in choice.guidance  # what an LLM prompt is told


KNOB = """# EVOLVE-BLOCK-START
def policy(items):
    num_samples = {samples}
    return sorted(items[:num_samples])
# EVOLVE-BLOCK-END
"""


def test_a_gain_pushed_without_a_gain_patience_times_gets_no_more_momentum(toy_problem, tmp_path):
    # One island that always exploits its best and never gets a hill-like child: every choice is
    # an exploit of the best, so `momentum` shows whether the best's gain is still pushed.
    config = AdaptiveConfig(
        intensity_min=0.0, intensity_max=0.0, exploit_share=1.0, neighbourhood=0, momentum_patience=3, spawn_below=0.0
    )
    land = Landscape(tmp_path, toy_problem, islands=1, config=config)
    search, rng = land.search, random.Random(0)
    start = land.result(land.initial, 0, 51.0, KNOB.format(samples=10))
    gain = land.result(start, 0, 55.0, KNOB.format(samples=13), "tweak_constant: 10 -> 13")
    assert search.choose(land.view, rng).momentum == (Step(3, 10, 13),)
    land.result(gain, 0, 40.0, KNOB.format(samples=13) + "# other\n", "swap: not a push")  # no push: not counted
    for pushed in (16, 19):
        land.result(gain, 0, 54.0, KNOB.format(samples=pushed), f"{PUSH_OPERATOR}: 13 -> {pushed}")
        choice = search.choose(land.view, rng)
        assert choice.selection.parent.id == gain.id and choice.momentum == (Step(3, 10, 13),)
    land.result(gain, 0, 55.0, KNOB.format(samples=25), f"{PUSH_OPERATOR}: 13 -> 25")  # a tie is no gain
    spent = search.choose(land.view, rng)
    assert spent.selection.parent.id == gain.id
    assert spent.momentum == () and "Pushing further" not in spent.guidance
    assert land.archive.get_state(land.run_id, STATE_KEY)["ledger"]["failed_pushes"] == [[gain.id, 3]]
    # A push that gains is a new gain with its own momentum.
    better = land.result(gain, 0, 58.0, KNOB.format(samples=16), f"{PUSH_OPERATOR}: 13 -> 16")
    choice = search.choose(land.view, rng)
    assert choice.selection.parent.id == better.id and choice.momentum == (Step(3, 13, 16),)


def test_every_island_gets_single_edits_of_the_best_until_its_neighbourhood_is_sampled(toy_problem, tmp_path):
    # Islands that would only explore, with larger edits: without the hill-like share the run's
    # best would get no single edit at all.
    config = AdaptiveConfig(
        intensity_min=1.0,
        intensity_max=1.0,
        stall_window=1,
        escalated_share=1.0,
        hill_share=0.5,
        neighbourhood=30,
        neighbourhood_decay=False,  # v3: none once the neighbourhood is sampled
        spawn_below=0.0,
    )
    land = Landscape(tmp_path, toy_problem, islands=3, config=config)
    search, rng = land.search, random.Random(0)
    best = land.result(land.initial, 0, 60.0)
    for island in range(3):  # other programs on every island, so exploring has a choice
        land.result(land.initial, island, 45.0)
    hill: dict[int, int] = {0: 0, 1: 0, 2: 0}
    modes = []
    for _ in range(120):
        choice = search.choose(land.view, rng)
        modes.append(choice.mode)
        if choice.mode == "hill":
            parent = choice.selection.parent
            assert (parent.migrated_from or parent.id) == best.id and parent.island == choice.island
            assert choice.escalation == 0 and choice.focus_lines == ()
            hill[choice.island] += 1
        child = land.result(choice.selection.parent, choice.island, 40.0)
        search.settled(choice, child)
    assert sum(hill.values()) == 30 and min(hill.values()) >= 3, hill  # every island, until 30 were made
    assert "hill" not in modes[-40:]  # then the neighbourhood counts as sampled
    assert land.archive.get_state(land.run_id, STATE_KEY)["ledger"]["hill_children"] == 30
    # A new best opens a new neighbourhood.
    land.result(best, 1, 70.0)
    assert "hill" in [search.choose(land.view, rng).mode for _ in range(10)]


def test_after_the_neighbourhood_the_hill_like_share_decays_instead_of_stopping(toy_problem, tmp_path):
    config = AdaptiveConfig(
        intensity_min=1.0, intensity_max=1.0, stall_window=1, escalated_share=1.0, hill_share=0.5, neighbourhood=20,
        spawn_below=0.0,
    )  # fmt: skip
    land = Landscape(tmp_path, toy_problem, islands=3, config=config)
    search, rng = land.search, random.Random(0)
    land.result(land.initial, 0, 60.0)
    for island in range(3):
        land.result(land.initial, island, 45.0)
    modes = []
    for _ in range(400):
        choice = search.choose(land.view, rng)
        modes.append(choice.mode)
        search.settled(choice, land.result(choice.selection.parent, choice.island, 40.0))
    hills = [i for i, mode in enumerate(modes) if mode == "hill"]
    assert len(hills) > 20  # more than the neighbourhood: the share went on
    after = modes[hills[19] + 1 :]
    share_after = after.count("hill") / len(after)
    # hill_share x 20 / k for the k-th: from 0.5 down to about 0.5 x 20 / 60 over these proposals
    assert 0.08 < share_after < 0.3, share_after
    first, last = after[: len(after) // 2].count("hill"), after[len(after) // 2 :].count("hill")
    assert first > last  # still decaying


def test_resume_continues_the_adaptive_state_exactly(toy_problem, tmp_path):
    # Small windows so islands spawn and edits escalate on both sides of the interruption.
    config = AdaptiveConfig(spawn_window=8, spawn_cooldown=8, spawn_below=0.3, stall_window=4, max_islands=4)
    settings = dict(
        seed=3,
        workers=2,
        deterministic=True,
        lag=3,
        migration_interval=6,
        evaluate_holdout=False,
        selection=SelectionConfig(strategy="adaptive"),
        adaptive=config,
    )
    whole, halves = tmp_path / "whole.sqlite", tmp_path / "halves.sqlite"
    adrs.evolve(toy_problem, archive=whole, budget=36, **settings)
    adrs.evolve(toy_problem, archive=halves, budget=18, **settings)
    adrs.resume(halves, budget=18)
    assert canonical(whole) == canonical(halves)
    archive = Archive.open(halves)
    run_id = archive.run().id
    assert archive.events(run_id, "island_spawned"), "the test should exercise a spawned island"
    assert archive.get_state(run_id, STATE_KEY)["evaluations"] >= 30
    # The whole adaptive state, the v3 ledger (pushes without a gain, hill-like children) included.
    whole_archive = Archive.open(whole)
    state = archive.get_state(run_id, STATE_KEY)
    assert state == whole_archive.get_state(whole_archive.run().id, STATE_KEY)
    assert state["ledger"]["hill_children"] > 0


PARADIGMS = [
    {"name": "weighted shortest first", "approach": "Sort by processing time over weight.", "why": "Smith's rule."},
    {"name": "heaviest first", "approach": "Sort by weight, largest first.", "why": "Weights dominate."},
]


def stalling_endpoint(initial: str):
    """Breakthrough requests get approaches; every proposal a distinct, worse program (so the run stalls)."""
    numbers = itertools.count(2)

    def reply(request: dict) -> Reply:
        prompt = "\n".join(str(m.get("content", "")) for m in request.get("messages", []))
        if "## Breakthrough request" in prompt:
            return Reply(json.dumps(PARADIGMS))
        worse = initial.replace("key=lambda i: jobs[i][0] * 1.0", f"key=lambda i: -jobs[i][0] * {next(numbers)}.0")
        return Reply(f"Longest first.\n```python\n{worse}```\n")

    return reply


def test_breakthroughs_go_to_the_endpoint_when_stalled_and_the_next_prompt_cites_them(toy_problem, tmp_path):
    initial = (toy_problem / "initial.py").read_text()
    assert "key=lambda i: jobs[i][0] * 1.0" in initial
    config = AdaptiveConfig(stall_window=4, paradigm_uses=1, breakthroughs=2, spawn_below=0.0)
    path = tmp_path / "llm.sqlite"
    with FakeOpenAI(responder=stalling_endpoint(initial)) as server:
        llm = {"models": [{"name": "fake-coder", "base_url": server.url}], "edit_format": "rewrite", "concurrency": 1}
        summary = adrs.evolve(
            toy_problem,
            archive=path,
            budget=12,
            seed=0,
            workers=1,
            evaluate_holdout=False,
            selection=SelectionConfig(strategy="adaptive"),
            mutator="llm",
            llm=llm,
            adaptive=config,
            max_duplicate_streak=50,
        )
        prompts = [r.prompt for r in server.completions]
    asked = [i for i, p in enumerate(prompts) if "## Breakthrough request" in p]
    assert asked, "a stalled run must ask for new approaches"
    cited = [i for i, p in enumerate(prompts) if 'approach "weighted shortest first"' in p]
    assert cited and cited[0] > asked[0], "a later proposal's prompt must cite an approach"
    assert "Sort by processing time over weight." in prompts[cited[0]]
    archive = Archive.open(path)
    found = breakthroughs(archive, summary.run_id)
    assert [p.name for p in found[0].paradigms] == [p["name"] for p in PARADIGMS]
    call = archive.llm_call(found[0].llm_call_id)
    assert call.prompt.count("## Breakthrough request") == 1 and "weighted shortest first" in call.response
    followers = found[0].cited_by["weighted shortest first"] + found[0].cited_by["heaviest first"]
    assert followers, "the children that followed an approach are recorded"
    console = Console(record=True, width=200)
    render_program(console, adrs.show_program(path, followers[0]))
    shown = console.export_text()
    assert "Breakthrough 1" in shown and ("weighted shortest first" in shown or "heaviest first" in shown)


def test_adaptive_settings_are_validated():
    with pytest.raises(ValueError, match="adaptive.decay"):
        AdaptiveConfig(decay=1.5)
    with pytest.raises(ValueError, match="adaptive.intensity_min"):
        AdaptiveConfig(intensity_min=0.8, intensity_max=0.2)
    with pytest.raises(ValueError, match="adaptive.stall_window"):
        AdaptiveConfig(stall_window=0)
    with pytest.raises(ValueError, match="unknown adaptive settings"):
        AdaptiveConfig.from_dict({"decya": 0.9})
