"""SkyDiscover container benchmarks and Harbor tasks (tests/container_folders): how adrs reads them.

No Docker is needed here: these tests pin the detection, the loaders (stages, limits, the evolvable
file of a Harbor task, the warnings) and the trusted side's reading of what a container leaves
behind (evaluate.sh's JSON, Harbor's reward files), from the formats' public descriptions.
tests/test_container_runs.py runs the folders in Docker.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from adrs.formats.container_scoring import (
    REWARD_JSON,
    REWARD_TXT,
    container_evaluation,
    harbor_evaluation,
    last_json_object,
)
from adrs.problem import ProblemError, load_problem
from adrs.problemkit import failures
from adrs.sandbox.image_run import STDERR, STDOUT, ContainerOutcome
from adrs.sandbox.images import from_images, uses_offline_image

FOLDERS = Path(__file__).parent / "container_folders"


@pytest.fixture
def folder(tmp_path):
    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(FOLDERS / name, target)
        return target

    return copy


# Loading a SkyDiscover container benchmark ------------------------------------------------------


def test_a_container_benchmark_has_train_and_holdout_test_stages_and_config_yaml_settings(folder):
    problem = load_problem(folder("sky_fit"))
    assert problem.peer.format == "container"
    assert [(s.name, s.holdout, s.timeout_s) for s in problem.stages] == [("train", False, 60.0), ("test", True, 60.0)]
    assert problem.description.startswith("Write predict(x)")
    assert problem.run_defaults == {"budget": 20}
    assert problem.sandbox == "docker"
    assert problem.warnings == (f"{problem.root / 'config.yaml'}: not honoured by adrs, ignored: checkpoint_interval",)
    spec = problem.peer.container
    assert spec.argv == ("/benchmark/evaluate.sh", "{solution}", "{mode}")
    assert spec.modes == {"train": "train", "test": "test"}
    assert spec.host_runtime  # FROM adrs-sandbox:latest
    assert spec.image.tag.startswith("adrs-container-sky_fit:")


def test_the_evaluator_folder_given_alone_finds_the_initial_program_beside_it(folder):
    directory = folder("sky_fit")
    problem = load_problem(directory / "evaluator")
    assert problem.initial_path == directory / "initial_program.py"
    assert problem.name == "sky_fit" and problem.description.startswith("Write predict(x)")


def test_a_changed_build_context_is_a_new_image_and_a_new_fingerprint(folder):
    directory = folder("sky_fit")
    before = load_problem(directory)
    (directory / "evaluator" / "evaluate.sh").write_text("#!/bin/sh\necho '{}'\n")
    after = load_problem(directory)
    assert after.peer.container.image.tag != before.peer.container.image.tag
    assert after.fingerprint() != before.fingerprint()
    assert load_problem(directory).peer.container.image.tag == after.peer.container.image.tag  # stable


def test_a_container_benchmark_without_its_initial_program_is_one_line(folder):
    directory = folder("sky_fit")
    (directory / "initial_program.py").unlink()
    with pytest.raises(ProblemError, match=r"missing initial_program.py \(SkyDiscover's initial program"):
        load_problem(directory)


def test_an_openevolve_evaluator_beside_a_container_benchmark_is_refused(folder):
    directory = folder("sky_fit")
    (directory / "evaluator.py").write_text("def evaluate(path):\n    return {}\n")
    with pytest.raises(ProblemError, match=r"evaluator.py: beside the container benchmark in evaluator/"):
        load_problem(directory)


# Loading a Harbor task ----------------------------------------------------------------------------


def test_a_harbor_task_evolves_the_file_its_reference_solution_writes(folder):
    problem = load_problem(folder("harbor_sched"))
    assert problem.peer.format == "harbor"
    assert problem.description.startswith("# Order the jobs")
    assert problem.initial_code().startswith("def order(durations):")
    assert "PYEOF" not in problem.initial_code()
    spec = problem.peer.container
    assert spec.solution_path == "/app/solution.py"
    assert spec.folders == {"/tests": problem.root / "tests"}
    assert (spec.memory_mb, spec.disk_mb, spec.cpus) == (1024, 512, 1.0)
    assert [(s.name, s.timeout_s, s.holdout) for s in problem.stages] == [("verifier", 60.0, False)]
    assert problem.warnings == ()


def _write_solve(directory: Path, text: str) -> None:
    (directory / "solution" / "solve.sh").write_text(text)


def test_a_relative_target_is_resolved_against_cd_and_else_the_workdir(folder):
    directory = folder("harbor_sched")
    _write_solve(directory, "cd /srv/work\ncat <<EOF > answer.py\nX = 1\nEOF\n")
    assert load_problem(directory).peer.container.solution_path == "/srv/work/answer.py"
    _write_solve(directory, "cat > pkg/answer.py <<-'END'\n\tX = 2\n\tEND\n")
    problem = load_problem(directory)
    assert problem.peer.container.solution_path == "/app/pkg/answer.py"  # WORKDIR /app
    assert problem.initial_code() == "X = 2\n"


def test_a_solution_copied_from_the_solution_folder_is_the_initial_program(folder):
    directory = folder("harbor_sched")
    (directory / "solution" / "solver.py").write_text("def order(d):\n    return list(range(len(d)))\n")
    _write_solve(directory, "#!/bin/bash\ncp /solution/solver.py /app/\n")
    problem = load_problem(directory)
    assert problem.peer.container.solution_path == "/app/solver.py"
    assert problem.initial_code().startswith("def order(d):")


@pytest.mark.parametrize(
    "solve, expected",
    [
        (None, r"solve.sh: missing; adrs evolves the file a Harbor task's reference solution writes"),
        (
            "cat > /app/main.rs <<EOF\nfn main() {}\nEOF\n",
            r"writes no Python file adrs can find \(it writes /app/main.rs\)",
        ),
        ("cat > /a.py <<EOF\nA = 1\nEOF\ncat > /b.py <<EOF\nB = 1\nEOF\n", r"writes 2 Python files \(/a.py, /b.py\)"),
        ('cat > "$APP/x.py" <<EOF\nA = 1\nEOF\n', r"\$APP/x.py \(a path made of shell variables\)"),
    ],
)
def test_a_solve_sh_adrs_cannot_read_is_one_line_naming_it(folder, solve, expected):
    directory = folder("harbor_sched")
    if solve is None:
        (directory / "solution" / "solve.sh").unlink()
    else:
        _write_solve(directory, solve)
    with pytest.raises(ProblemError, match=expected):
        load_problem(directory)


def test_task_toml_older_spellings_and_unhonoured_keys(folder):
    directory = folder("harbor_sched")
    (directory / "task.toml").write_text(
        '[verifier]\ntimeout_sec = 30\nenv = { LEVEL = "2" }\n'
        '[environment]\nmemory = "2G"\nstorage = "512M"\ncpus = 2\nallow_internet = true\ndocker_image = "org/x:1"\n'
    )
    problem = load_problem(directory)
    spec = problem.peer.container
    assert (spec.memory_mb, spec.disk_mb, spec.cpus, spec.env) == (2048, 512, 2.0, {"LEVEL": "2"})
    assert problem.stages[0].timeout_s == 30.0
    (warning,) = problem.warnings
    assert warning.startswith(f"{directory / 'task.toml'}: not honoured by adrs, ignored: environment.docker_image")
    assert "environment.allow_internet = true (evaluations never have a network)" in warning


@pytest.mark.parametrize(
    "content, expected",
    [
        ("[verifier]\ntimeout_sec = -1\n", r"task.toml: verifier.timeout_sec: expected a positive number, got -1"),
        (
            '[environment]\nmemory = "lots"\n',
            r"task.toml: environment.memory: expected a size such as \"4G\", got 'lots'",
        ),
        ("[environment]\ncpus = 1.5\n", r"task.toml: environment.cpus: expected 0 to 1 or a whole number"),
        ("verifier = 3\n", r"task.toml: \[verifier\] must be a table"),
        ("[verifier\n", r"task.toml: invalid TOML"),
    ],
)
def test_a_bad_task_toml_is_one_line_naming_the_key(folder, content, expected):
    directory = folder("harbor_sched")
    (directory / "task.toml").write_text(content)
    with pytest.raises(ProblemError, match=expected):
        load_problem(directory)


def test_a_harbor_task_needs_a_dockerfile_and_test_sh(folder):
    directory = folder("harbor_sched")
    (directory / "tests" / "test.sh").unlink()
    with pytest.raises(ProblemError, match=r"tests: no test.sh \(Harbor's verifier entry point\)"):
        load_problem(directory)
    (directory / "environment" / "Dockerfile").rename(directory / "environment" / "docker-compose.yaml")
    with pytest.raises(
        ProblemError, match=r"environment: no Dockerfile \(docker-compose environments are not supported\)"
    ):
        load_problem(directory)


def test_a_harbor_task_holding_another_format_is_refused(folder):
    directory = folder("harbor_sched")
    (directory / "evaluate.py").write_text("def main(p, r):\n    pass\n")
    with pytest.raises(
        ProblemError, match=r"evaluate.py: a Harbor task \(instruction.md, environment/\) also holds evaluate.py"
    ):
        load_problem(directory)


# Dockerfiles ---------------------------------------------------------------------------------------


def test_the_from_lines_decide_whether_the_host_runtime_is_mounted(tmp_path):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM adrs-sandbox AS base\nCOPY a /a\nFROM base\n")
    assert from_images(dockerfile) == ["adrs-sandbox"] and uses_offline_image(dockerfile)
    dockerfile.write_text(
        "# comment\nFROM --platform=linux/amd64 adrs-sandbox:latest AS build\nFROM python:3.12-slim\n"
    )
    assert from_images(dockerfile) == ["adrs-sandbox:latest", "python:3.12-slim"]
    assert not uses_offline_image(dockerfile)


# Reading what the container left (trusted side) ------------------------------------------------------


def _outcome(stdout: str = "", stderr: str = "", status: int = 0) -> ContainerOutcome:
    return ContainerOutcome("exited", status, 1.5, files={STDOUT: stdout.encode(), STDERR: stderr.encode()})


GOOD = (
    '{"status": "success", "combined_score": 0.5,'
    ' "metrics": {"combined_score": 0.5, "acc": 0.9, "note": "fine"}, "artifacts": {"hint": "x"}}'
)


def test_the_last_json_object_line_is_the_answer_and_earlier_output_is_ignored():
    forged = '{"status": "success", "combined_score": 1000000.0}'
    evaluation = container_evaluation("train", _outcome(f"debug\n{forged}\nmore debug\n{GOOD}\n"), "60 s")
    assert evaluation.ok and evaluation.score == 0.5
    assert evaluation.metrics == {"combined_score": 0.5, "acc": 0.9, "score": 0.5}
    assert evaluation.feedback == "note: fine\nhint: x"


def test_a_pretty_printed_json_object_is_read_whole():
    assert last_json_object('{\n  "status": "success",\n  "combined_score": 1\n}\n') == {
        "status": "success",
        "combined_score": 1,
    }


@pytest.mark.parametrize(
    "stdout, kind, message",
    [
        ("hello\n", failures.INVALID_OUTPUT, "evaluate.sh printed no JSON object on stdout (SkyDiscover's protocol"),
        ('{"status": "done", "combined_score": 1}', failures.INVALID_OUTPUT, "status is 'done', expected one of"),
        ('{"status": "success"}', failures.INVALID_OUTPUT, "combined_score is None, expected a finite number"),
        ('{"status": "success", "combined_score": true}', failures.INVALID_OUTPUT, "combined_score is True"),
        ('{"status": "success", "combined_score": 1, "metrics": [1]}', failures.INVALID_OUTPUT, "metrics is list"),
        (
            '{"status": "error", "combined_score": 0, "artifacts": {"error": "boom"}}',
            failures.EXCEPTION,
            "status 'error'\nerror: boom",
        ),
        ('{"status": "timeout", "combined_score": 0}', failures.TIMEOUT, "reported status 'timeout'"),
    ],
)
def test_output_that_is_not_the_documented_json_is_a_failed_evaluation_saying_why(stdout, kind, message):
    evaluation = container_evaluation("train", _outcome(stdout), "60 s")
    assert not evaluation.ok and evaluation.error_kind == kind
    assert message in evaluation.error


def test_a_nonzero_exit_fails_whatever_was_printed():
    evaluation = container_evaluation("train", _outcome(GOOD, "Traceback: boom", status=3), "60 s")
    assert evaluation.error_kind == failures.NONZERO_EXIT
    assert evaluation.error.startswith("evaluate.sh exited with status 3")
    assert "stderr tail:\nTraceback: boom" in evaluation.error


def test_how_the_container_ended_comes_first():
    for ended, kind in (("timeout", failures.TIMEOUT), ("disk", failures.OUTPUT_LIMIT), ("memory", failures.MEMORY)):
        evaluation = container_evaluation("train", ContainerOutcome(ended, files={STDOUT: GOOD.encode()}), "60 s")
        assert (evaluation.ok, evaluation.error_kind) == (False, kind)


def test_harbor_reward_txt_wins_over_reward_json():
    outcome = _outcome("3 passed")
    outcome.files[REWARD_TXT] = b"0.25\n"
    outcome.files[REWARD_JSON] = b'{"reward": 0.9, "runtime": 2}'
    evaluation = harbor_evaluation("verifier", outcome, "60 s")
    assert evaluation.ok and evaluation.score == 0.25
    assert evaluation.feedback == "3 passed"


@pytest.mark.parametrize(
    "reward_json, score, metrics",
    [
        (b'{"reward": 0.75, "runtime_sec": 1.5}', 0.75, {"reward": 0.75, "runtime_sec": 1.5, "score": 0.75}),
        (b'{"runtime_sec": 1.5, "score": 2}', 2.0, {"runtime_sec": 1.5, "reward": 2.0, "score": 2.0}),
        (
            b'{"accuracy": 0.5, "runtime_sec": 9}',
            0.5,
            {"accuracy": 0.5, "runtime_sec": 9.0, "reward": 0.5, "score": 0.5},
        ),
    ],
)
def test_harbor_reward_json_is_reward_else_score_else_its_first_number(reward_json, score, metrics):
    outcome = _outcome()
    outcome.files[REWARD_JSON] = reward_json
    evaluation = harbor_evaluation("verifier", outcome, "60 s")
    assert (evaluation.score, evaluation.metrics) == (score, metrics)


@pytest.mark.parametrize(
    "path, data, message",
    [
        (REWARD_TXT, b"passed", "/logs/verifier/reward.txt holds 'passed', not a number"),
        (REWARD_TXT, b"nan", "not a finite number"),
        (REWARD_JSON, b"[1]", "reward.json holds list, expected an object of numbers"),
        (REWARD_JSON, b'{"reward": "high"}', "reward.json: no finite number to score"),
    ],
)
def test_a_bad_reward_file_is_a_failed_evaluation(path, data, message):
    outcome = _outcome("test output")
    outcome.files[path] = data
    evaluation = harbor_evaluation("verifier", outcome, "60 s")
    assert evaluation.error_kind == failures.INVALID_OUTPUT and message in evaluation.error
    assert "stdout tail:\ntest output" in evaluation.error


def test_no_reward_file_or_a_refused_one_fails_naming_it():
    evaluation = harbor_evaluation("verifier", _outcome("", "pytest: not found", status=127), "60 s")
    assert evaluation.error.startswith(
        "tests/test.sh wrote no /logs/verifier/reward.txt or /logs/verifier/reward.json"
        " (test.sh exited with status 127)"
    )
    refused = _outcome()
    refused.refused[REWARD_TXT] = "is a symbolic link (refused, never followed)"
    assert (
        harbor_evaluation("verifier", refused, "60 s").error
        == f"{REWARD_TXT} is a symbolic link (refused, never followed)"
    )


# Refusals before anything runs ---------------------------------------------------------------------


def adrs_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "adrs.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "250", **(env or {})},
    )


def test_docker_unavailable_is_one_line_naming_the_folder(folder, tmp_path):
    directory = folder("harbor_sched")
    done = adrs_cli("check", str(directory), env={"ADRS_DOCKER_HOST": f"unix://{tmp_path}/none.sock"})
    assert done.returncode == 1
    text = " ".join(done.stdout.split())
    assert f"{directory}: a Harbor task runs its evaluations in Docker, which is unavailable here: " in text


def test_another_sandbox_is_refused_for_a_container_folder(folder):
    done = adrs_cli("check", str(folder("sky_fit")), "--sandbox", "process")
    assert done.returncode == 1
    assert "runs its evaluations in its own Docker image; --sandbox process cannot run it" in " ".join(
        done.stdout.split()
    )
