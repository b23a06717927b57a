"""OpenEvolve and ShinkaEvolve folders (tests/peer_folders, written here in their formats) run unchanged.

Expected scores are worked out by hand from each framework's contract, never by running the folder's
evaluator: OpenEvolve's fitness is combined_score, else the mean of the numeric metrics that are not
booleans or MAP-Elites dimensions; its cascade merges stage metrics and compares its thresholds with
combined_score, else the mean of every numeric metric (booleans counted); ShinkaEvolve's score is
metrics.json's combined_score, and correct.json false is a failed evaluation.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from adrs.mutate.llm.models import parse_settings
from adrs.problem import ProblemError, load_problem

ADRS = [sys.executable, "-m", "adrs.cli"]
FOLDERS = Path(__file__).parent / "peer_folders"
WIDE = {"COLUMNS": "250"}


def adrs(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(
        ADRS + list(args), capture_output=True, text=True, timeout=300, cwd=cwd, env={**os.environ, **WIDE}
    )


@pytest.fixture
def folder(tmp_path):
    """A copy of one peer folder (runs write caches beside the evaluator)."""

    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(FOLDERS / name, target)
        return target

    return copy


def stage_scores(directory: Path, program: str) -> list[dict]:
    done = adrs("eval", str(directory), str(directory / program), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)["stages"]


# Worked out by hand ------------------------------------------------------------------------------

NEWTON_TWO_STEPS = 17 / 12  # 1 -> 3/2 -> 17/12
ARTIFACTS_SCORE = 1 / (1 + 100 * abs(17 / 12 - math.sqrt(2)))
# oe_cascade, first-come order: total completion time against shortest-first
STAGE1 = 20 / 27  # [4,1,3,2]: 4+5+8+10 against 1+3+6+10
STAGE2 = 66 / 109  # [5,9,2,7,1,3]: 5+14+16+23+24+27 against 1+3+6+11+18+27
STAGE3 = 130 / 186  # [8,3,6,1,9,2,7,4]: 8+11+17+18+27+29+36+40 against 1+3+6+10+16+23+31+40
# oe_no_combined: a=1, b=0 on (0,1),(1,3),(2,5): squared errors 1, 4, 9
NO_COMBINED_FIT = 1 / (1 + 14 / 3)
NO_COMBINED_SCORE = (NO_COMBINED_FIT + 0.0) / 2  # fit and slope_ok; the boolean and the string are not counted
# oe_config_all: 4 slots, move-to-back on a hit, evict the front: 7 hits in 14 requests
CONFIG_ALL_SCORE = (7 / 14 + 1 / 4) / 2  # hit_rate and compactness; speed is a feature dimension
SHINKA_ERRORS = [abs(1 - 0.4 * x * x - math.cos(x)) for x in (-1.0, -0.5, 0.0, 0.5, 1.0)]
SHINKA_BASIC_SCORE = 1 - sum(SHINKA_ERRORS) / 5


def shinka_runner_score() -> float:
    gaps = []
    for seed in (100, 101, 102):  # get_experiment_kwargs
        rng = random.Random(seed)
        numbers = [rng.randint(1, 20) for _ in range(10)]
        gaps.append(abs(30 - sum(sorted(numbers)[:3])))
    return 1 / (1 + sum(gaps) / len(gaps))


# OpenEvolve ---------------------------------------------------------------------------------------


def test_evaluation_result_with_artifacts_is_scored_and_its_text_reaches_the_feedback(folder):
    directory = folder("oe_artifacts")
    done = adrs("check", str(directory))
    assert done.returncode == 0, done.stdout
    assert "returned str" not in done.stdout
    [stage] = stage_scores(directory, "initial_program.py")
    assert stage["ok"] and stage["score"] == pytest.approx(ARTIFACTS_SCORE, abs=1e-12)
    assert stage["metrics"]["abs_error"] == pytest.approx(abs(NEWTON_TWO_STEPS - math.sqrt(2)), abs=1e-12)
    assert "verdict: too far" in stage["feedback"]  # a string metric
    assert "estimate: 1.4166666667" in stage["feedback"]  # an artifact
    assert "advice: Newton steps converge quadratically" in stage["feedback"]  # a bytes artifact, as text
    assert load_problem(directory).description == "Estimate sqrt(2) as closely as possible."


def test_three_stage_cascade_merges_metrics_and_judges_thresholds_as_openevolve(folder):
    directory = folder("oe_cascade")
    problem = load_problem(directory)
    assert [(s.name, s.threshold, s.timeout_s) for s in problem.stages] == [
        ("stage1", 0.75, 60.0),
        ("stage2", 0.5, 60.0),
        ("stage3", None, 60.0),
    ]
    stages = stage_scores(directory, "initial_program.py")
    # stage 1 has no combined_score: its fitness is quality_small alone (the boolean is not counted),
    # but its threshold value is mean(quality_small, checked=1) = 0.87 >= 0.75, so stage 2 runs.
    assert [s["stage"] for s in stages] == ["stage1", "stage2", "stage3"]
    assert [s["score"] for s in stages] == pytest.approx([STAGE1, STAGE2, STAGE3], abs=1e-12)
    assert stages[2]["metrics"]["quality_small"] == pytest.approx(STAGE1)  # merged from stage 1
    assert stages[2]["metrics"]["quality_medium"] == pytest.approx(STAGE2)
    assert "error" not in stages[2]["metrics"]

    config = directory / "config.yaml"
    config.write_text(config.read_text().replace("[0.75, 0.5]", "[0.9, 0.5]"))  # 0.87 < 0.9: stops
    stages = stage_scores(directory, "initial_program.py")
    assert [s["stage"] for s in stages] == ["stage1"] and stages[0]["score"] == pytest.approx(STAGE1)


def test_only_as_many_stages_as_openevolve_runs(folder):
    directory = folder("oe_cascade")
    config = directory / "config.yaml"
    config.write_text(config.read_text().replace("[0.75, 0.5]", "[0.75]"))  # no second threshold: no stage 3
    assert [s.name for s in load_problem(directory).stages] == ["stage1", "stage2"]
    config.write_text(config.read_text().replace("cascade_evaluation: true", "cascade_evaluation: false"))
    problem = load_problem(directory)
    assert [s.name for s in problem.stages] == ["full"] and problem.peer.entry_points == {"full": "evaluate"}
    config.unlink()  # OpenEvolve's defaults: cascade on, thresholds [0.5, 0.75, 0.9], timeout 300 s
    assert [(s.name, s.threshold, s.timeout_s) for s in load_problem(directory).stages] == [
        ("stage1", 0.5, 300.0),
        ("stage2", 0.75, 300.0),
        ("stage3", None, 300.0),
    ]


def test_without_combined_score_the_mean_of_numeric_metrics_is_the_score_and_check_says_so(folder):
    directory = folder("oe_no_combined")
    done = adrs("check", str(directory))
    assert done.returncode == 0, done.stdout
    assert "returns no combined_score" in done.stdout and "mean of the numeric metrics" in done.stdout
    [stage] = stage_scores(directory, "initial_program.py")
    assert stage["score"] == pytest.approx(NO_COMBINED_SCORE, abs=1e-12)
    assert "error: mean squared error 4.667" in stage["feedback"]  # a string value reaches the feedback


def test_config_yaml_keys_are_honoured_and_the_others_named_once(folder):
    directory = folder("oe_config_all")
    problem = load_problem(directory)
    assert problem.description == "Pick the cache size with the best hit rate for this request stream."
    assert [(s.name, s.timeout_s) for s in problem.stages] == [("full", 40.0)]
    assert problem.run_defaults == {"seed": 7, "budget": 12, "islands": 2}  # random_seed wins over database.random_seed
    assert [(f.name, f.bins) for f in problem.features] == [
        ("score", (0.25, 0.5, 0.75)),
        ("code_lines", (20.0, 40.0, 80.0, 160.0)),
        ("speed", (0.25, 0.5, 0.75)),
    ]
    llm = parse_settings(problem.llm, "test")
    assert [(m.name, m.weight, m.base_url, m.api_key_env, m.temperature, m.max_tokens) for m in llm.models] == [
        ("model-a", 0.8, "http://127.0.0.1:9/v1", "ADRS_TEST_KEY", 0.6, 2048),
        ("model-b", 0.2, "http://127.0.0.1:9/v1", "ADRS_TEST_KEY", 0.3, 2048),
    ]
    assert (llm.timeout_s, llm.max_retries, llm.backoff_s, llm.edit_format) == (45.0, 2, 3.0, "rewrite")

    done = adrs("check", str(directory))
    assert done.returncode == 0, done.stdout
    ignored = [
        "checkpoint_interval", "log_level", "max_code_length", "prompt.num_top_programs",
        "evaluator.parallel_evaluations", "database.population_size", "llm.top_p", "llm.evaluator_models",
        "'diversity'",
    ]  # fmt: skip
    text = done.stdout.replace("\n", " ")
    warning = text.split("oe_config_all: stages")[0]  # the warning comes before anything is evaluated
    assert "config.yaml: not honoured by adrs" in warning
    for key in ignored:
        assert warning.count(key) == 1, key
    for honoured in (
        "random_seed",
        "max_iterations",
        "system_message",
        "evaluator.timeout",
        "llm.models",
        "llm.api_base",
        "num_islands",
    ):
        assert honoured not in warning, honoured
    assert "use_llm_feedback" not in text  # false: nothing adrs would have done
    assert f"score {CONFIG_ALL_SCORE:.6g}" in text


def test_run_takes_budget_seed_and_islands_from_config_yaml(folder, tmp_path):
    directory = folder("oe_config_all")
    archive = tmp_path / "run.sqlite"
    done = adrs("run", str(directory), "--mutator", "offline", "--quiet", "--archive", str(archive))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("not honoured by adrs") == 1
    with sqlite3.connect(archive) as db:
        config = json.loads(db.execute("select config from runs").fetchone()[0])
        evaluated = db.execute(
            "select count(*) from programs where status != 'pending' and migrated_from is null"
        ).fetchone()[0]
    assert (config["seed"], config["islands"], config["budget"]) == (7, 2, 12)
    assert evaluated >= 12
    done = adrs(
        "run",
        str(directory),
        "--mutator",
        "offline",
        "--quiet",
        "--seed",
        "3",
        "--budget",
        "2",
        "--archive",
        str(tmp_path / "b.sqlite"),
    )
    with sqlite3.connect(tmp_path / "b.sqlite") as db:
        config = json.loads(db.execute("select config from runs").fetchone()[0])
    assert (config["seed"], config["budget"]) == (3, 2)  # flags win


# ShinkaEvolve -------------------------------------------------------------------------------------


def test_shinka_metrics_json_is_scored_and_private_metrics_stay_out(folder):
    directory = folder("shinka_basic")
    assert adrs("check", str(directory)).returncode == 0
    [stage] = stage_scores(directory, "initial.py")
    assert stage["score"] == pytest.approx(SHINKA_BASIC_SCORE, abs=1e-12)
    assert stage["metrics"]["mean_abs_error"] == pytest.approx(sum(SHINKA_ERRORS) / 5, abs=1e-12)
    assert "shape: even polynomial" in stage["feedback"]  # a public value that is not a number
    assert f"largest error {max(SHINKA_ERRORS):.4f}" in stage["feedback"]  # text_feedback
    assert "worst_point" not in json.dumps(stage)  # private: ShinkaEvolve does not show it to the LLM


def test_shinka_correct_false_is_a_failed_evaluation_with_its_error(folder):
    directory = folder("shinka_basic")
    initial = directory / "initial.py"
    initial.write_text(initial.read_text().replace("return 1.0 - 0.4 * x * x", "return 2.0"))
    [stage] = stage_scores(directory, "initial.py")
    assert not stage["ok"] and stage["error_kind"] == "invalid_output"
    assert f"error {2 - math.cos(1.0):.3f} is too large" in stage["error"]
    done = adrs("check", str(directory))
    assert done.returncode == 1 and "is too large" in done.stdout


def test_shinka_run_shinka_eval_validates_and_aggregates(folder):
    directory = folder("shinka_runner")
    [stage] = stage_scores(directory, "initial.py")
    assert stage["score"] == pytest.approx(shinka_runner_score(), abs=1e-12)
    assert stage["feedback"].startswith("gaps per seed:")
    initial = directory / "initial.py"
    initial.write_text(initial.read_text().replace("[:k]", "[:2]"))
    [stage] = stage_scores(directory, "initial.py")
    assert not stage["ok"] and "Validation failed: expected a list of 3 numbers" in stage["error"]


def test_shinka_result_file_that_is_a_symbolic_link_is_refused(folder, tmp_path):
    directory = folder("shinka_basic")
    secret = tmp_path / "secret.txt"
    secret.write_text('{"combined_score": 99.0, "public": {"token": "SECRET-VALUE"}}')
    evaluate = directory / "evaluate.py"
    evaluate.write_text(
        evaluate.read_text().replace(
            '    with open(os.path.join(results_dir, "metrics.json"), "w") as out:\n        json.dump(metrics, out)\n',
            f'    os.symlink({str(secret)!r}, os.path.join(results_dir, "metrics.json"))\n',
        )
    )
    [stage] = stage_scores(directory, "initial.py")
    assert not stage["ok"] and "metrics.json: refused" in stage["error"]
    assert "SECRET-VALUE" not in json.dumps(stage) and stage["score"] is None


# Runs ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "initial_score"),
    [
        ("oe_artifacts", ARTIFACTS_SCORE),
        ("oe_cascade", STAGE3),
        ("oe_no_combined", NO_COMBINED_SCORE),
        ("oe_config_all", CONFIG_ALL_SCORE),
        ("shinka_basic", SHINKA_BASIC_SCORE),
        ("shinka_runner", None),
    ],
)
def test_a_short_run_evolves_each_folder(folder, tmp_path, name, initial_score):
    directory = folder(name)
    archive = tmp_path / "run.sqlite"
    done = adrs("run", str(directory), "--budget", "10", "--mutator", "offline", "--quiet", "--archive", str(archive))
    assert done.returncode == 0, done.stdout + done.stderr
    with sqlite3.connect(archive) as db:
        first = db.execute("select score, complete from programs order by id limit 1").fetchone()
        counts = dict(db.execute("select status, count(*) from programs group by status").fetchall())
    expected = shinka_runner_score() if initial_score is None else initial_score
    assert first[0] == pytest.approx(expected, abs=1e-12) and first[1]
    assert counts.get("evaluated", 0) >= 2


# Bad input -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("evaluator:\n  timeout: [1\n", "config.yaml: invalid YAML: line"),
        (b"\xff\xfe\x00bad", "config.yaml: cannot read"),
        ("- a\n- b\n", "config.yaml: expected a mapping of keys at the top"),
        ("evaluator:\n  timeout: long\n", "config.yaml: evaluator.timeout: expected a positive number"),
        (
            "evaluator:\n  cascade_thresholds: 0.5\n",
            "config.yaml: evaluator.cascade_thresholds: expected a list of numbers",
        ),
        ("llm:\n  models:\n    - weight: 1\n", "config.yaml: llm.models[0].name"),
        ("language: rust\n", "config.yaml: language: adrs evolves Python programs"),
    ],
)
def test_a_bad_config_yaml_is_one_line_naming_the_file(folder, content, expected):
    directory = folder("oe_artifacts")
    config = directory / "config.yaml"
    config.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ProblemError, match="config.yaml"):
        load_problem(directory)
    done = adrs("check", str(directory))
    assert done.returncode == 1
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert " ".join(lines).count("error:") == 1 and expected in done.stdout.replace("\n", "")


def test_config_yaml_that_is_a_folder_is_not_silently_skipped(folder):
    directory = folder("oe_no_combined")
    (directory / "config.yaml").mkdir()
    with pytest.raises(ProblemError, match=r"config\.yaml: cannot read"):
        load_problem(directory)


def test_an_evaluator_returning_an_unknown_object_is_named(folder):
    directory = folder("oe_artifacts")
    evaluator = directory / "evaluator.py"
    evaluator.write_text(evaluator.read_text() + "\n\ndef evaluate(program_path):\n    return {1, 2}\n")
    done = adrs("check", str(directory))
    assert done.returncode == 1
    assert (
        "evaluator.py: evaluate() returned set, expected a dict of metrics or an EvaluationResult"
        in done.stdout.replace("\n", "")
    )
    assert "returned str" not in done.stdout


def test_an_adrs_evaluator_returning_an_evaluation_result_is_understood(toy_problem):
    evaluator = toy_problem / "evaluator.py"
    text = evaluator.read_text()
    evaluator.write_text(text + "\n\n_plain = evaluate\n\n\n"
                         "def evaluate(program_path, stage='full', workdir=None, seed=0):\n"
                         "    from types import SimpleNamespace\n"
                         "    result = _plain(program_path, stage=stage, workdir=workdir, seed=seed)\n"
                         "    return SimpleNamespace(metrics={**result['metrics'], 'score': result['score']}, "
                         "artifacts={'note': 'as text'})\n")  # fmt: skip
    done = adrs("eval", str(toy_problem), str(toy_problem / "initial.py"))
    assert done.returncode == 0 and "score" in done.stdout and "note: as text" in done.stdout, done.stdout


@pytest.mark.parametrize(
    ("make", "named"),
    [
        (
            lambda d: shutil.copy(FOLDERS / "shinka_basic" / "evaluate.py", d / "evaluate.py"),
            "evaluate.py: this folder holds both",
        ),
        (
            lambda d: (d / "problem.toml").write_text("[problem]\nname = 'x'\n"),
            "config.yaml: OpenEvolve's config.yaml beside adrs's problem.toml",
        ),
    ],
)
def test_a_folder_mixing_formats_is_refused_naming_the_file(folder, make, named):
    directory = folder("oe_artifacts")
    make(directory)
    done = adrs("check", str(directory))
    assert done.returncode == 1 and named in done.stdout.replace("\n", "")


def test_problem_toml_beside_a_shinka_evaluator_is_refused(folder):
    directory = folder("shinka_basic")
    (directory / "problem.toml").write_text("[problem]\nname = 'x'\n")
    with pytest.raises(ProblemError, match=r"evaluate\.py: ShinkaEvolve's evaluate\.py beside adrs's problem\.toml"):
        load_problem(directory)
