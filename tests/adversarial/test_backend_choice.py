"""Choosing a backend: problem.toml or the flag (the flag wins); unavailable ones say why and what instead."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest

from adrs import sandbox as backends
from adrs.evaluate.runner import EvalSettings, evaluate_stage, sandbox_name
from adrs.problem import load_problem
from adrs.sandbox.process import confinement_available

ADRS = [sys.executable, "-m", "adrs.cli"]
PROBE = "from adrs import sandbox as backends; print(backends.get({name!r}).unavailable_reason())"


def _reason_in_subprocess(name: str, **env: str) -> str:
    """The probe is cached per process: ask a fresh one, with a changed environment."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(name=name)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_unknown_backend_names_the_choices():
    with pytest.raises(backends.SandboxUnavailable, match="process, bwrap, docker"):
        backends.get("chroot")


def test_process_is_always_available():
    assert backends.get("process").unavailable_reason() is None


def test_missing_bubblewrap_says_how_to_install_and_what_to_use_instead():
    reason = _reason_in_subprocess("bwrap", PATH="/nonexistent")
    assert "apt-get install bubblewrap" in reason
    with pytest.raises(backends.SandboxUnavailable, match="Use --sandbox process"):
        backend = backends.get("bwrap")
        backend.unavailable_reason = lambda: reason  # type: ignore[method-assign]
        backend.require()


def test_unreachable_docker_daemon_is_reported(tmp_path):
    reason = _reason_in_subprocess("docker", ADRS_DOCKER_HOST=f"unix://{tmp_path}/no.sock")
    assert "no Docker daemon answers" in reason or "docker SDK is not installed" in reason


def test_cli_refuses_an_unavailable_backend_before_running(toy_problem, tmp_path):
    env = {**os.environ, "ADRS_DOCKER_HOST": f"unix://{tmp_path}/no.sock"}
    done = subprocess.run(
        [*ADRS, "eval", str(toy_problem), str(toy_problem / "initial.py"), "--sandbox", "docker"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    said = " ".join(done.stdout.split())  # rich wraps long lines
    assert "sandbox backend 'docker' is unavailable" in said
    assert "Use --sandbox bwrap or process" in said


def test_problem_toml_chooses_and_the_flag_overrides(toy_problem):
    toml = toy_problem / "problem.toml"
    toml.write_text(toml.read_text().replace('name = "toy"', 'name = "toy"\nsandbox = "bwrap"'))
    problem = load_problem(toy_problem)
    assert sandbox_name(problem, EvalSettings()) == "bwrap"
    assert sandbox_name(problem, EvalSettings(sandbox="docker")) == "docker"


def test_the_worker_hands_the_backend_down_to_the_harness(toy_problem, backend, start):
    # The candidate reports which sandbox it is in through its score: 100 when PID 1 of its PID
    # namespace is what that backend starts there, the initial's score otherwise (`process`: the
    # cold chain's confine.py, or, under a warm worker, a child of the candidate zygote).
    forked = start == "warm" and confinement_available()
    process = b"adrs.sandbox.zygote" if forked else b"confine.py"
    init = {"process": (process,), "bwrap": (b"bwrap",), "docker": (b"timeout",)}[backend]
    program = toy_problem / "probe.py"
    program.write_text(
        "def order_jobs(jobs):\n"
        "    with open('/proc/1/cmdline', 'rb') as f:\n"
        "        cmdline = f.read()\n"
        f"    if not any(init in cmdline for init in {init!r}):\n"
        "            return sorted(range(len(jobs)), key=lambda i: jobs[i][0] * 1.0)\n"
        "    return sorted(range(len(jobs)), key=lambda i: jobs[i][0] / jobs[i][1])\n"
    )
    problem = load_problem(toy_problem)
    settings = EvalSettings(sandbox=backend, warm=start == "warm")
    evaluation = asyncio.run(evaluate_stage(problem, program, problem.stage("quick"), settings))
    assert evaluation.ok, evaluation.error
    assert evaluation.score == 100.0, (backend, evaluation.score)


@pytest.mark.parametrize("declared", [False, True])
def test_only_problems_that_declare_gpus_get_the_device_view(toy_problem, backend, declared, start):
    # Without a GPU on the machine the device nodes cannot be checked; /sys, which CUDA needs and
    # which comes with them, tells whether the candidate got the device view.
    if backend == "docker":
        pytest.skip("docker always shows a read-only /sys; its GPU devices are --device options")
    if declared:
        toml = toy_problem / "problem.toml"
        toml.write_text(toml.read_text() + "\n[resources]\ngpus = 1\n")
    program = toy_problem / "probe.py"
    program.write_text(
        "import os\n\n\ndef order_jobs(jobs):\n"
        f"    if os.path.isdir('/sys/class') != {declared!r}:\n"
        "        return sorted(range(len(jobs)), key=lambda i: jobs[i][0] * 1.0)\n"
        "    return sorted(range(len(jobs)), key=lambda i: jobs[i][0] / jobs[i][1])\n"
    )
    problem = load_problem(toy_problem)
    settings = EvalSettings(sandbox=backend, warm=start == "warm")
    evaluation = asyncio.run(evaluate_stage(problem, program, problem.stage("quick"), settings))
    assert evaluation.ok, evaluation.error
    assert evaluation.score == 100.0, (backend, declared, evaluation.score)


@pytest.mark.skipif(not confinement_available(), reason="candidates are not confined by the process backend here")
@pytest.mark.parametrize("cold", [False, True], ids=["warm", "cold"])
def test_confined_candidates_run_where_uid_65534_could_run_python(toy_problem, cold):
    # Where Python is readable by everybody (a root container with the system's Python), the
    # backend may switch unconfined candidates to uid 65534; confine.py's namespaces and mounts
    # need root, so a confined candidate must keep uid 0 (without capabilities). Switching first
    # made unshare(1) fail for every candidate there. ADRS_PROBE_DROP=1 is that machine's probe.
    program = toy_problem / "probe_uid.py"
    program.write_text(
        "import os\n\n"
        "def order_jobs(jobs):\n"
        "    with open('/proc/self/status') as f:\n"
        "        capabilities = next(line.split()[1] for line in f if line.startswith('CapEff:'))\n"
        "    if os.getuid() != 0 or int(capabilities, 16) != 0:\n"
        "        return list(range(len(jobs)))\n"
        "    return sorted(range(len(jobs)), key=lambda i: jobs[i][0] / jobs[i][1])\n"
    )
    done = subprocess.run(
        [*ADRS, "eval", str(toy_problem), str(program), "--sandbox", "process", "--stage", "quick", "--json",
         *(["--cold-start"] if cold else [])],
        env={**os.environ, "ADRS_PROBE_DROP": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-800:]
    stage = json.loads(done.stdout)["stages"][0]
    assert stage["ok"], stage["error"]
    assert stage["score"] == 100.0, "the candidate did not run as uid 0 without capabilities"
