"""Model selection: fixed weights, UCB over children's improvement (optionally per dollar), and the
bandit's state surviving resume, also when the model list changes."""

from __future__ import annotations

import random
from collections import Counter

from adrs import api
from adrs.archive.store import Archive
from adrs.mutate.llm.bandit import STATE_KEY, ModelChooser
from adrs.mutate.llm.models import parse_settings
from tests.fake_openai import FakeOpenAI, Reply


def chooser(selection: str = "bandit", reward: str = "improvement", models=None, state=None) -> ModelChooser:
    models = models or [{"name": "a"}, {"name": "b"}]
    settings = parse_settings(
        {"models": models, "selection": selection, "bandit_reward": reward, "exploration": 0.5}, "test"
    )
    return ModelChooser(settings, state)


def test_fixed_weights_share_proposals_by_weight():
    c = chooser("weights", models=[{"name": "a", "weight": 3.0}, {"name": "b", "weight": 1.0}])
    rng = random.Random(0)
    counts = Counter(c.choose(rng).label for _ in range(2000))
    assert 0.70 < counts["a"] / 2000 < 0.80


def test_ucb_tries_each_model_then_favours_the_one_whose_children_improve():
    c = chooser()
    rng = random.Random(0)
    assert [c.choose(rng).label for _ in range(2)] == ["a", "b"]  # untried models first, in order
    picks = Counter()
    for _ in range(300):
        label = c.choose(rng).label
        picks[label] += 1
        c.record_child(label, 1.0 if label == "b" and rng.random() < 0.5 else 0.0)
    assert picks["b"] > 3 * picks["a"]
    assert picks["a"] > 0  # still explored


def test_per_dollar_reward_prefers_the_cheap_model_when_both_improve_alike():
    c = chooser(reward="improvement_per_dollar")
    rng = random.Random(1)
    picks = Counter()
    for _ in range(300):
        label = c.choose(rng).label
        picks[label] += 1
        c.record_cost(label, 0.01 if label == "a" else 0.10)
        c.record_child(label, 1.0 if rng.random() < 0.3 else 0.0)
    assert picks["a"] > 2 * picks["b"]


def test_rewards_stay_scaled_to_the_largest_improvement_seen():
    c = chooser()
    c.record_child("a", 2.0)
    c.record_child("b", 8.0)  # rescales a's earlier reward to 2/8
    assert c.stats["a"].reward == 0.25 and c.stats["b"].reward == 1.0 and c.scale == 8.0


def test_state_round_trips_and_a_changed_model_list_keeps_what_is_known():
    c = chooser()
    rng = random.Random(0)
    for _ in range(10):
        c.record_child(c.choose(rng).label, 1.0)
    state = c.to_state()
    resumed = chooser(models=[{"name": "b"}, {"name": "c"}], state=state)
    assert resumed.stats["b"] == c.stats["b"] and resumed.stats["a"] == c.stats["a"]  # a is kept though unused
    assert resumed.choose(rng).label == "c"  # the new model is tried first
    assert {resumed.choose(rng).label for _ in range(20)} <= {"b", "c"}


SMITH = "<<<<<<< SEARCH\njobs[i][0] * 1.0\n=======\njobs[i][0] / jobs[i][1]\n>>>>>>> REPLACE\n"


def _by_model(body) -> Reply:
    if body["model"] == "bad-coder":
        return Reply("I would rather not.")
    current = body["messages"][-1]["content"].split("## Current program")[1].split("## Evaluator feedback")[0]
    if "jobs[i][0] * 1.0" in current:
        return Reply("Idea: Smith's rule\n" + SMITH)
    n = len(body["messages"][-1]["content"])
    return Reply(
        f"Idea: tweak {n}\n<<<<<<< SEARCH\n    return sorted(\n=======\n"
        f"    _n = {n}\n    return sorted(\n>>>>>>> REPLACE\n"
    )


def test_bandit_state_is_stored_and_resumed_after_the_model_list_changes(toy_problem, tmp_path):
    archive_path = tmp_path / "a.sqlite"
    with FakeOpenAI(responder=_by_model, models=("good-coder", "bad-coder", "new-coder")) as server:
        models = [{"name": "good-coder", "base_url": server.url}, {"name": "bad-coder", "base_url": server.url}]
        llm = {"models": models, "selection": "bandit", "concurrency": 1}
        first = api.evolve(
            toy_problem, archive=archive_path, budget=3, islands=1, workers=2, evaluate_holdout=False, llm=llm
        )
        archive = Archive.open(archive_path)
        before = archive.get_state(first.run_id, STATE_KEY)
        archive.close()
        assert before["models"]["bad-coder"]["proposals"] >= 1 and before["models"]["bad-coder"]["reward"] == 0
        # good-coder's first child (Smith's rule) beat its parent; credited by the end of the invocation
        assert before["models"]["good-coder"]["reward"] > 0 and before["models"]["good-coder"]["improved"] >= 1
        assert before["awaiting"] == {}
        changed = {**llm, "models": [models[0], {"name": "new-coder", "base_url": server.url}]}
        api.resume(archive_path, budget=1, llm=changed)
    archive = Archive.open(archive_path)
    after = archive.get_state(first.run_id, STATE_KEY)
    mutators = {p.mutator for p in archive.programs(first.run_id)}
    archive.close()
    assert after["models"]["bad-coder"] == before["models"]["bad-coder"]  # kept, no longer chosen
    assert after["models"]["new-coder"]["proposals"] >= 1  # the new model was tried
    assert after["models"]["good-coder"]["proposals"] >= before["models"]["good-coder"]["proposals"]
    assert after["models"]["good-coder"]["reward"] > 0
    assert "llm:good-coder" in mutators and "llm:new-coder" in mutators
