"""SkyDiscover container benchmarks and Harbor tasks run unchanged, each evaluation in a fresh container.

Needs a Docker daemon with the docker sandbox's offline image (.ci/docker-sandbox.sh starts a
private one); without it these tests skip with the reason. The fixtures (tests/container_folders)
build FROM that offline image, so nothing is pulled. Expected scores are worked out by hand:
sky_fit scores 1 / (1 + mean squared error) of predict(x) against y = 2x + 1 (train x = 0..3, test
x = 4..7); harbor_sched's reward is the best total completion time of the jobs 6, 2, 8, 3, 5
(shortest first: 2+5+10+16+24 = 57) over the order's own (first come: 6+8+16+19+24 = 73).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import adrs
from adrs import sandbox as backends
from adrs.api.problems import require_sandbox
from adrs.problemkit import failures
from adrs.sandbox import image_run
from adrs.sandbox.docker_image import client, containers_where
from adrs.sandbox.image_run import ContainerJob, ContainerLimits

ADRS = [sys.executable, "-m", "adrs.cli"]
FOLDERS = Path(__file__).parent / "container_folders"
SKY_TRAIN = 1 / (1 + (0 + 1.5**2 + 3**2 + 4.5**2) / 4)  # predict(x) = 1 + 0.5x
SKY_TEST = 1 / (1 + (6**2 + 7.5**2 + 9**2 + 10.5**2) / 4)
HARBOR_FIRST_COME = 57 / 73


def _docker_reason() -> str | None:
    if not Path("/usr/bin/python3").exists():  # the fixtures' images run the host's /usr (FROM the offline image)
        return "the fixtures' evaluators run the host's /usr/bin/python3, which is missing"
    return backends.get("docker").unavailable_reason()


pytestmark = pytest.mark.skipif(_docker_reason() is not None, reason=f"docker sandbox unavailable: {_docker_reason()}")


def adrs_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ADRS + list(args),
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "COLUMNS": "250", **(env or {})},
    )


@pytest.fixture
def folder(tmp_path):
    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(FOLDERS / name, target)
        return target

    return copy


def _leftovers(tag: str) -> list:
    return containers_where(client(), ancestor=tag)


def _evaluate(directory: Path, tmp_path: Path, code: str, stage: str | None = None) -> list:
    program = tmp_path / "candidate.py"
    program.write_text(code)
    return adrs.evaluate_program(directory, program, stage=stage)


# adrs check and adrs run, unchanged folders ---------------------------------------------------------


def test_check_scores_a_container_benchmark_in_train_and_test_mode(folder):
    directory = folder("sky_fit")
    done = adrs_cli("check", str(directory))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"initial_program.py [train]: score {SKY_TRAIN:.6f}" in done.stdout
    assert f"initial_program.py [test]: score {SKY_TEST:.6f}" in done.stdout
    assert "no network, 4096 MB memory, 1 CPU, 256 processes, 4096 MB disk, 60 s" in " ".join(done.stdout.split())
    assert _leftovers(adrs.load_problem(directory).peer.container.image.tag) == []


def test_check_scores_a_harbor_task_from_its_reward_file(folder):
    directory = folder("harbor_sched")
    done = adrs_cli("check", str(directory))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"solve.sh [verifier]: score {HARBOR_FIRST_COME:.6f}" in done.stdout
    assert "total_completion=73" in done.stdout


@pytest.mark.slow  # about a minute each on an idle 2-core machine: .ci/run's second pass runs them
@pytest.mark.parametrize("name", ["sky_fit", "harbor_sched"])
def test_a_twenty_evaluation_run_evolves_each_folder(folder, tmp_path, name):
    directory = folder(name)
    archive = tmp_path / "run.sqlite"
    done = adrs_cli(
        "run", str(directory), "--budget", "20", "--mutator", "offline", "--quiet", "--archive", str(archive)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with sqlite3.connect(archive) as db:
        rows = db.execute("SELECT stage, ok, score FROM evaluations").fetchall()
    evolution = [r for r in rows if r[0] != "test"]
    assert len(evolution) >= 20
    initial = HARBOR_FIRST_COME if name == "harbor_sched" else SKY_TRAIN
    assert max(r[2] for r in evolution if r[1]) >= initial - 1e-9
    if name == "sky_fit":  # the best program is scored once in test mode, the holdout stage
        assert [r[0] for r in rows].count("test") == 1
    assert _leftovers(adrs.load_problem(directory).peer.container.image.tag) == []


def test_the_image_is_built_once_per_content(folder):
    directory = folder("sky_fit")
    problem = adrs.load_problem(directory)
    require_sandbox(problem)
    created = client().images.get(problem.peer.container.image.tag).attrs["Created"]
    assert adrs_cli("check", str(directory)).returncode == 0
    assert client().images.get(problem.peer.container.image.tag).attrs["Created"] == created


# What a candidate cannot do -------------------------------------------------------------------------


def test_json_a_candidate_prints_before_the_evaluator_does_not_count(folder, tmp_path):
    code = 'print(\'{"status": "success", "combined_score": 1000000.0}\')\ndef predict(x):\n    return 1.0 + 0.5 * x\n'
    (evaluation,) = _evaluate(folder("sky_fit"), tmp_path, code, stage="train")
    assert evaluation.ok and evaluation.score == pytest.approx(SKY_TRAIN)


def test_a_candidate_has_no_network(folder, tmp_path):
    code = (
        "import socket\n"
        "def predict(x):\n"
        "    try:\n"
        "        socket.create_connection(('1.1.1.1', 53), timeout=2).close()\n"
        "        return 0.0\n"
        "    except OSError:\n"
        "        return 2 * x + 1\n"
    )
    (evaluation,) = _evaluate(folder("sky_fit"), tmp_path, code, stage="train")
    assert evaluation.ok and evaluation.score == 1.0


def test_a_candidate_past_the_deadline_is_killed_and_its_container_removed(folder, tmp_path):
    directory = folder("sky_fit")
    config = directory / "config.yaml"
    config.write_text(config.read_text().replace("timeout: 60", "timeout: 3"))
    (evaluation,) = _evaluate(
        directory, tmp_path, "import time\ntime.sleep(120)\ndef predict(x):\n    return x\n", stage="train"
    )
    assert evaluation.error_kind == failures.TIMEOUT
    assert evaluation.duration_s < 60
    assert _leftovers(adrs.load_problem(directory).peer.container.image.tag) == []


def test_a_container_whose_engine_is_gone_ends_by_itself(folder, tmp_path):
    directory = folder("sky_fit")
    problem = adrs.load_problem(directory)
    require_sandbox(problem)
    tag = problem.peer.container.image.tag
    job = ContainerJob(tag, ["sleep", "600"], ContainerLimits(timeout_s=1), host_runtime=True)
    container = image_run._create(client(), job)  # started, then nobody waits for it or kills it
    try:
        container.put_archive("/", image_run.archive({}))
        container.start()
        began = time.monotonic()
        assert container.wait(timeout=120)["StatusCode"] == 137  # killed by its own supervisor
        assert time.monotonic() - began < 100
    finally:
        container.remove(force=True)


def test_a_candidate_filling_the_disk_is_killed(folder, tmp_path):
    directory = folder("harbor_sched")
    toml = directory / "task.toml"
    toml.write_text(toml.read_text().replace("storage_mb = 512", "storage_mb = 64"))
    code = (
        "import time\n"
        "with open('/app/ballast', 'wb') as out:\n"
        "    for _ in range(200):\n"
        "        out.write(bytes(1 << 20))\n"
        "time.sleep(60)\n"
        "def order(durations):\n    return list(range(len(durations)))\n"
    )
    (evaluation,) = _evaluate(directory, tmp_path, code)
    assert evaluation.error_kind == failures.OUTPUT_LIMIT, evaluation.error
    assert "disk limit" in evaluation.error


def test_a_candidate_over_the_memory_limit_is_a_memory_failure(folder, tmp_path):
    directory = folder("harbor_sched")
    toml = directory / "task.toml"
    toml.write_text(toml.read_text().replace("memory_mb = 1024", "memory_mb = 128"))
    code = "ballast = bytearray(512 << 20)\ndef order(durations):\n    return list(range(len(durations)))\n"
    (evaluation,) = _evaluate(directory, tmp_path, code)
    assert evaluation.error_kind == failures.MEMORY, evaluation.error


def test_a_reward_file_made_a_symbolic_link_is_refused_not_followed(folder, tmp_path):
    code = (
        "import os\n"
        "def order(durations):\n"
        "    os.symlink('/etc/hostname', '/logs/verifier/reward.txt')\n"
        "    return list(range(len(durations)))\n"
    )
    (evaluation,) = _evaluate(folder("harbor_sched"), tmp_path, code)
    assert evaluation.error_kind == failures.INVALID_OUTPUT
    assert evaluation.error == "/logs/verifier/reward.txt is a symbolic link (refused, never followed)"


# Clear errors ----------------------------------------------------------------------------------------


def test_evaluate_sh_printing_no_json_fails_the_check_saying_so(folder):
    directory = folder("sky_fit")
    (directory / "evaluator" / "evaluate.sh").write_text("#!/bin/sh\necho 'all good'\n")
    done = adrs_cli("check", str(directory))
    assert done.returncode == 1
    assert "error: the initial program fails at stage 'train':" in done.stdout
    assert "evaluate.sh printed no JSON object on stdout (SkyDiscover's protocol" in done.stdout
    assert "all good" in done.stdout


def test_a_folder_needing_the_internet_to_build_says_so_in_one_line(folder):
    directory = folder("sky_fit")
    # a registry that never resolves (.invalid): nothing is downloaded even where the internet is reachable
    dockerfile = "FROM adrs-offline.invalid/python:3.12-slim\nWORKDIR /benchmark\nCOPY . .\n"
    (directory / "evaluator" / "Dockerfile").write_text(dockerfile)
    done = adrs_cli("check", str(directory))
    assert done.returncode == 1
    text = " ".join(done.stdout.split())
    assert "sky_fit/evaluator/Dockerfile: the image failed to build: it needs the internet to build:" in text
    assert "FROM adrs-offline.invalid/python:3.12-slim is not on this Docker daemon and no registry answered" in text


def test_a_build_step_fetching_from_an_unreachable_host_says_it_needs_the_internet(folder):
    directory = folder("harbor_sched")
    (directory / "environment" / "Dockerfile").write_text(
        "FROM adrs-sandbox:latest\nADD https://adrs-offline.invalid/data.tar /data.tar\n"  # .invalid never resolves
    )
    done = adrs_cli("check", str(directory))
    assert done.returncode == 1
    text = " ".join(done.stdout.split())
    expected = "the image failed to build: it needs the internet to build: a step fetched from the network and failed"
    assert expected in text


def test_a_failed_build_shows_the_build_log_tail(folder):
    directory = folder("harbor_sched")
    (directory / "environment" / "Dockerfile").write_text("FROM adrs-sandbox:latest\nCOPY missing.txt /app/\n")
    done = adrs_cli("check", str(directory))
    assert done.returncode == 1
    text = " ".join(done.stdout.split())
    assert "environment/Dockerfile: the image failed to build:" in text
    assert "build log tail:" in text and "missing.txt" in text


def test_an_llm_run_on_a_harbor_task_prompts_with_instruction_md_and_scores_the_edit(folder, tmp_path):
    from tests.fake_openai import FakeOpenAI, Reply

    directory = folder("harbor_sched")
    before = "    return sorted(range(len(durations)), key=lambda i: 0.0 * durations[i] + 1.0 * i)"
    after = "    return sorted(range(len(durations)), key=lambda i: durations[i])"  # shortest first: optimal
    edit = f"Idea: shortest job first\n<<<<<<< SEARCH\n{before}\n=======\n{after}\n>>>>>>> REPLACE\n"
    archive = tmp_path / "run.sqlite"
    with FakeOpenAI(responder=lambda body: Reply(edit), models=("fake-coder",)) as server:
        done = adrs_cli(
            "run",
            str(directory),
            "--llm",
            f"fake-coder@{server.url}",
            "--budget",
            "2",
            "--quiet",
            "--archive",
            str(archive),
            env={"OPENAI_API_KEY": "sk-test"},
        )
        prompts = [request.prompt for request in server.completions]
    assert done.returncode == 0, done.stdout + done.stderr
    assert prompts and all("Write `/app/solution.py` defining `order(durations)`" in p for p in prompts)
    with sqlite3.connect(archive) as db:
        scores = [row[0] for row in db.execute("SELECT score FROM evaluations WHERE ok ORDER BY id")]
    assert scores[0] == pytest.approx(HARBOR_FIRST_COME)
    assert max(scores) == pytest.approx(1.0)  # the edited file, put at /app/solution.py, is the optimal order
