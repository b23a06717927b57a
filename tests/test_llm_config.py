"""LLM settings from problem.toml, a run config file and --llm flags: validation names the file and key."""

from __future__ import annotations

import pytest

from adrs import api
from adrs.config import RunConfig
from adrs.mutate.llm.models import (
    LLMConfigError,
    llm_settings,
    load_llm_file,
    parse_model_flag,
    parse_settings,
)
from adrs.problem import load_problem


def add_llm_table(problem_dir, text: str) -> None:
    toml = problem_dir / "problem.toml"
    toml.write_text(toml.read_text() + "\n" + text)


def test_a_bad_llm_table_in_problem_toml_is_refused_naming_file_and_key_before_a_run_exists(toy_problem, tmp_path):
    add_llm_table(toy_problem, '[llm]\n[[llm.models]]\nname = "m"\nprice_in = "cheap"\n')
    archive = tmp_path / "a.sqlite"
    with pytest.raises(LLMConfigError) as error:
        api.evolve(toy_problem, archive=archive, budget=2)
    assert str(toy_problem / "problem.toml") in str(error.value)
    assert "llm.models[0].price_in: expected a number, got 'cheap'" in str(error.value)
    assert not archive.exists()


def test_unknown_keys_are_named(toy_problem):
    add_llm_table(toy_problem, '[llm]\nconcurrancy = 4\nmodels = ["m@http://localhost:1/v1"]\n')
    with pytest.raises(LLMConfigError, match=r"problem.toml: unknown key llm.concurrancy"):
        llm_settings(load_problem(toy_problem), {})
    with pytest.raises(LLMConfigError, match=r"unknown key llm.models\[0\].temp "):
        parse_settings({"models": [{"name": "m", "temp": 0.2}]}, "x")


def test_problem_models_make_auto_choose_the_llm_and_the_run_table_wins(toy_problem):
    add_llm_table(
        toy_problem,
        '[llm]\nselection = "bandit"\n[[llm.models]]\nname = "a"\nbase_url = "http://localhost:8000/v1"\nweight = 2\n'
        'price_in = 0.5\nprice_out = 1.5\ntemperature = 0.3\nmax_tokens = 1000\napi_key_env = "LOCAL_KEY"\n',
    )
    problem = load_problem(toy_problem)
    assert api.chosen_mutator(RunConfig(), problem) == "llm"
    assert api.chosen_mutator(RunConfig(mutator="offline"), problem) == "offline"
    [model] = llm_settings(problem, {}).models
    assert (model.weight, model.price_in, model.price_out, model.temperature, model.max_tokens) == (
        2,
        0.5,
        1.5,
        0.3,
        1000,
    )
    assert model.api_key_env == "LOCAL_KEY" and model.cost(1_000_000, 1_000_000) == 2.0
    settings = llm_settings(problem, {"models": [parse_model_flag("b@http://localhost:9/v1")], "concurrency": 8})
    assert [m.name for m in settings.models] == ["b"] and settings.concurrency == 8 and settings.selection == "bandit"


def test_no_model_anywhere_means_the_offline_mutator(toy_problem):
    assert api.chosen_mutator(RunConfig(), load_problem(toy_problem)) == "offline"
    with pytest.raises(LLMConfigError, match="needs a model"):
        api.make_source(RunConfig(mutator="llm"), load_problem(toy_problem), archive=object(), run_id=1)


def test_model_flags_and_list_prices():
    assert parse_model_flag("qwen2.5-coder@http://localhost:8000/v1") == {
        "name": "qwen2.5-coder",
        "base_url": "http://localhost:8000/v1",
    }
    with pytest.raises(LLMConfigError, match="must start with http"):
        parse_model_flag("m@localhost:8000")
    [openai_model] = parse_settings({"models": ["gpt-5-mini"]}, "x").models
    [local] = parse_settings({"models": ["gpt-5-mini@http://localhost:8000/v1"]}, "x").models
    assert (openai_model.price_in, openai_model.price_out, openai_model.priced) == (0.25, 2.0, True)
    assert (local.price_in, local.priced) == (0.0, False)  # a local server's copy costs nothing by default
    with pytest.raises(LLMConfigError, match="share the label"):
        parse_settings({"models": ["m@http://a:1/v1", "m@http://b:1/v1"]}, "x")


def test_a_run_config_file_is_checked_when_read(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('[llm]\nedit_format = "patch"\nmodels = ["m@http://localhost:1/v1"]\n')
    with pytest.raises(LLMConfigError) as error:
        load_llm_file(path)
    assert str(path) in str(error.value) and "llm.edit_format: 'patch' is not one of diff, rewrite, mixed" in str(
        error.value
    )
    path.write_text('[llm]\nedit_format = "mixed"\nrewrite_share = 0.5\nmodels = ["m@http://localhost:1/v1"]\n')
    assert load_llm_file(path)["rewrite_share"] == 0.5
