"""A SIGKILLed engine leaves nothing running, however the candidate tampered with its sandbox's init.

The candidate freezes PID 1 of its sandbox where it can (ptrace-stops it: under docker that is the
container's `timeout`, which then never fires), starts a grandchild in a session of its own, and
sleeps; the engine (`adrs eval`) is SIGKILLed while it sleeps. Within a few seconds every process of
the candidate and every container of the engine must be gone, long before any limit would end them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.adversarial.test_attacks import _leftover_containers, _processes_with

FREEZE_AND_SLEEP = """import ctypes, os, sys, time


def order_jobs(jobs):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace(16, 1, 0, 0)  # PTRACE_ATTACH to PID 1: stops the sandbox's init where allowed
    if os.fork() == 0:
        os.setsid()
        os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(900)', '{marker}'])
    time.sleep(900)
"""
GONE_WITHIN_S = 30.0  # the reaper's first sweep runs at once, the second 5 s later


def _wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def test_a_killed_engine_leaves_no_candidate_running(toy_problem, backend, tmp_path):
    toml = toy_problem / "problem.toml"
    toml.write_text(toml.read_text().replace("candidate_timeout_s = 3", "candidate_timeout_s = 200"))
    toml.write_text(toml.read_text().replace("timeout_s = 30", "timeout_s = 300"))
    marker = f"adrs-engine-killed-{os.getpid()}-{backend}"
    program = tmp_path / "freeze.py"
    program.write_text(FREEZE_AND_SLEEP.replace("{marker}", marker))
    engine = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "adrs.cli",
            "eval",
            str(toy_problem),
            str(program),
            "--sandbox",
            backend,
            "--stage",
            "quick",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        started = _wait_for(lambda: bool(_processes_with(marker)) or engine.poll() is not None, 120)
        assert started and engine.poll() is None, f"the candidate never started: {engine.stderr.read()[-800:]!r}"
        if backend == "docker":
            assert _leftover_containers(), "no container runs the candidate"
        os.kill(engine.pid, signal.SIGKILL)
        engine.wait(30)
        gone = _wait_for(lambda: not _processes_with(marker), GONE_WITHIN_S)
        assert gone, f"{backend}: the candidate's processes outlived the engine: {_processes_with(marker)}"
        if backend == "docker":
            assert _wait_for(lambda: not _leftover_containers(), GONE_WITHIN_S), _leftover_containers()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(engine.pid, signal.SIGKILL)
        for pid in _processes_with(marker):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if backend == "docker":
            _remove_containers()


def _remove_containers() -> None:
    from adrs.sandbox.docker_image import client

    for container in client().containers.list(all=True, filters={"label": "adrs.sandbox"}):
        with contextlib.suppress(Exception):
            container.remove(force=True)


@pytest.fixture(autouse=True)
def _no_stray_mounts():
    yield
    # The reaper also detaches the evaluation's tmpfs: none of the killed engine's may remain.
    if os.geteuid() == 0:
        mounts = Path("/proc/self/mountinfo").read_text()
        assert "adrs-scratch" not in mounts or _wait_for(
            lambda: "adrs-scratch" not in Path("/proc/self/mountinfo").read_text(), GONE_WITHIN_S
        ), "a killed engine's evaluation tmpfs is still mounted"


@pytest.mark.skipif(os.geteuid() != 0, reason="the evaluation tmpfs needs root")
def test_the_next_engine_detaches_a_tmpfs_whose_engine_and_reaper_are_gone(tmp_path):
    gone = subprocess.Popen(["true"])
    gone.wait()
    folder = tmp_path / "adrs-quick-orphan"
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", f"adrs-scratch-{gone.pid}", str(folder)], check=True)
    try:
        probe = "from adrs.sandbox.scratch import scratch_available; print(scratch_available())"
        done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
        assert done.stdout.strip() == "True", done.stderr
        assert f"adrs-scratch-{gone.pid} " not in Path("/proc/self/mountinfo").read_text()
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)
