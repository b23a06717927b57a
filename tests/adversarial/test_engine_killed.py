"""A SIGKILLed engine leaves nothing running, however the candidate tampered with its sandbox's init.

With warm workers (the default) the engine's warm server must go too: it is the workers' parent.

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


def _warm_servers_of(pid: int) -> list[int]:
    """Warm servers (adrs/evaluate/warm_server.py) whose parent is `pid`."""
    found = []
    for entry in _processes_with("adrs.evaluate.warm_server"):
        with contextlib.suppress(OSError, IndexError):
            if int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(entry)
    return found


def test_a_killed_engine_leaves_no_candidate_running(toy_problem, backend, start, tmp_path):
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
            *(["--cold-start"] if start == "cold" else []),
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
        servers = _warm_servers_of(engine.pid)
        assert len(servers) == (1 if start == "warm" else 0), servers
        os.kill(engine.pid, signal.SIGKILL)
        engine.wait(30)
        gone = _wait_for(lambda: not _processes_with(marker), GONE_WITHIN_S)
        assert gone, f"{backend}: the candidate's processes outlived the engine: {_processes_with(marker)}"
        alive = [pid for pid in servers if _alive(pid)]
        assert _wait_for(lambda: not [pid for pid in servers if _alive(pid)], GONE_WITHIN_S), alive
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


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _remove_containers() -> None:
    from adrs.sandbox.docker_image import client, containers_where, remove_containers

    docker_client = client()
    remove_containers(docker_client, containers_where(docker_client, label="adrs.sandbox"))


def _orphan_scratch(before: set[str]) -> list[str]:
    """Evaluation tmpfs mounts (`adrs-scratch-<engine pid>`) made during the test whose engine is
    dead: other engines on a shared machine may hold theirs meanwhile."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        source = line.split(" - ", 1)[-1].split()[1] if " - " in line else ""
        new = source.startswith("adrs-scratch-") and source not in before
        if new and not _alive(int(source.rsplit("-", 1)[1])):
            found.append(source)
    return found


@pytest.fixture(autouse=True)
def _no_stray_mounts():
    mounts = Path("/proc/self/mountinfo").read_text() if os.geteuid() == 0 else ""
    before = {word for word in mounts.split() if word.startswith("adrs-scratch-")}
    yield
    # The reaper also detaches the evaluation's tmpfs: none of the killed engine's may remain.
    if os.geteuid() == 0:
        assert _wait_for(lambda: not _orphan_scratch(before), GONE_WITHIN_S), (
            f"a killed engine's evaluation tmpfs is still mounted: {_orphan_scratch(before)}"
        )


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
