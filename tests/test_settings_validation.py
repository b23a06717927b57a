"""Every numeric run setting and problem.toml limit is checked, with a message naming it.

The same rules hold on the command line, for `adrs.evolve(...)` and for `adrs resume`; a bad
value stops the command before anything runs or is written (`--workers -1` used to hang, and
`--budget 0`, `--budget -3` or a negative timeout used to be accepted).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from adrs import api
from adrs.archive.select import SelectionConfig
from adrs.config import RunConfig
from adrs.problem import ProblemError, load_problem
from adrs.validation import SettingError

ADRS = [sys.executable, "-m", "adrs.cli"]


def adrs(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "500"}
    return subprocess.run([*ADRS, *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=env)


BAD_FLAGS = [
    (["--workers", "-1"], "--workers"),
    (["--workers", "0"], "--workers"),
    (["--budget", "0"], "--budget"),
    (["--budget", "-3"], "--budget"),
    (["--max-time", "0"], "--max-time"),
    (["--max-time", "-5"], "--max-time"),
    (["--max-time", "inf"], "--max-time"),
    (["--target", "nan"], "--target"),
    (["--lag", "-1"], "--lag"),
    (["--islands", "0"], "--islands"),
    (["--novelty", "0"], "--novelty"),
    (["--novelty", "1.5"], "--novelty"),
    (["--stagnation", "0"], "--stagnation"),
    (["--offline-share", "1"], "--offline-share"),
    (["--offline-share", "-0.1"], "--offline-share"),
    (["--max-cost", "0"], "--max-cost"),
    (["--max-cost", "-2"], "--max-cost"),
]


@pytest.mark.parametrize(("flags", "named"), BAD_FLAGS, ids=[" ".join(f) for f, _ in BAD_FLAGS])
def test_run_refuses_a_bad_number_naming_the_flag_before_anything_is_written(flags, named, toy_problem, tmp_path):
    archive = tmp_path / "run.sqlite"
    done = adrs("run", str(toy_problem), *flags, "--archive", str(archive), "--quiet", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {named} ("), done.stdout
    assert not archive.exists()


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"workers": -1}, "workers"),
        ({"budget": 0}, "budget"),
        ({"budget": 2.5}, "budget"),
        ({"seed": "7"}, "seed"),
        ({"max_time_s": -1.0}, "max_time_s"),
        ({"queue_size": -1}, "queue_size"),
        ({"migration_interval": 0}, "migration_interval"),
        ({"island_stagnation": 0}, "island_stagnation"),
        ({"max_duplicate_streak": 0}, "max_duplicate_streak"),
        ({"novelty": math.nan}, "novelty"),
        ({"mutator": "genetic"}, "mutator"),
        ({"selection": {"strategy": "rank"}}, "selection"),
    ],
)
def test_the_api_refuses_the_same_values(settings, named, toy_problem, tmp_path):
    with pytest.raises(SettingError, match=named):
        api.evolve(toy_problem, archive=tmp_path / "run.sqlite", **settings)
    assert not (tmp_path / "run.sqlite").exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tournament_size", 0),
        ("rank_power", -1.0),
        ("top_inspirations", -1),
        ("exploit", 1.5),
        ("children_penalty", math.inf),
    ],
)
def test_selection_settings_are_checked(field, value):
    with pytest.raises(SettingError, match=f"selection.{field}"):
        SelectionConfig(**{field: value})
    with pytest.raises(SettingError, match="exploit \\+ explore"):
        RunConfig(selection=SelectionConfig(exploit=0.9, explore=0.5))


def test_resume_refuses_a_bad_budget_and_writes_nothing(toy_problem, tmp_path):
    archive = tmp_path / "run.sqlite"
    api.evolve(toy_problem, archive=archive, budget=2, workers=1, mutator="offline", evaluate_holdout=False)
    before = archive.read_bytes()
    for flags in (["--budget", "0"], ["--budget", "-3"], ["--workers", "-1"]):
        done = adrs("resume", str(archive), *flags, "--quiet", cwd=tmp_path)
        assert done.returncode == 1, done.stdout + done.stderr
        assert done.stdout.strip().startswith(f"error: {flags[0]} ("), done.stdout
        assert len(done.stdout.strip().splitlines()) == 1
    assert archive.read_bytes() == before


LIMITS = "[limits]\ncandidate_timeout_s = 3"  # as the toy_problem fixture writes it
BAD_TOML = [
    (LIMITS, "[limits]\ncandidate_timeout_s = -1", "limits.candidate_timeout_s"),
    (LIMITS, "[limits]\ncandidate_timeout_s = 0", "limits.candidate_timeout_s"),
    (LIMITS, "[limits]\ncandidate_timeout_s = nan", "limits.candidate_timeout_s"),
    (LIMITS, "[limits]\ncandidate_timeout_s = inf", "limits.candidate_timeout_s"),
    (LIMITS, LIMITS + "\nmemory_mb = 0", "limits.memory_mb"),
    (LIMITS, LIMITS + "\nmemory_mb = 2048.5", "limits.memory_mb"),
    (LIMITS, LIMITS + '\nmemory_mb = "lots"', "limits.memory_mb"),
    (LIMITS, LIMITS + "\ntimeout_s = -3", "limits.timeout_s"),
    ("candidate_memory_mb = 512", "candidate_memory_mb = -512", "limits.candidate_memory_mb"),
    ('name = "quick"\ntimeout_s = 30', 'name = "quick"\ntimeout_s = -30', "stages[0].timeout_s"),
    ('name = "quick"\ntimeout_s = 30', 'name = "quick"\ntimeout_s = 0', "stages[0].timeout_s"),
    ("threshold = 0.0", "threshold = nan", "stages[0].threshold"),
    ("bins = [0.25, 0.5, 0.75]", "bins = [0.25, 0.5, inf]", "features[0].bins"),
    ("[prompt]", "[resources]\nmemory_mb = 0\n\n[prompt]", "resources.memory_mb"),
]


@pytest.mark.parametrize(("old", "new", "key"), BAD_TOML, ids=[new.split("\n")[-1] for _, new, _ in BAD_TOML])
def test_problem_toml_numbers_are_checked_with_the_key_named(old, new, key, toy_problem):
    toml = toy_problem / "problem.toml"
    text = toml.read_text()
    assert old in text
    toml.write_text(text.replace(old, new, 1))
    with pytest.raises(ProblemError, match="problem.toml") as error:
        load_problem(toy_problem)
    assert f"problem.toml: {key}: " in str(error.value), str(error.value)
