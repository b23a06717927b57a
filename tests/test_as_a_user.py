"""adrs run by an ordinary user, not root: the case CI's root account never meets by itself.

A researcher's own account runs hundreds of tasks (a desktop, an editor's threads). RLIMIT_NPROC
counts every task of the real uid, so a sandbox that lowered it to a candidate's process budget
(64) made every candidate fail to start there ("bwrap: Creating new namespace failed: Resource
temporarily unavailable"). Here uid 65534 plays the user: it holds 80 threads in another process
while it evaluates a program with the same adrs, installed into a venv of a Python that uid can
run (the system's; this machine's own lives under /root, mode 0700).

Slow (a venv install, offline from uv's cache): the second pass of .ci/run.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from tests.conftest import ROOT, SKELETON, uv_env

pytestmark = pytest.mark.slow

USER = 65534
TASKS_HELD = 80  # more than a candidate's process budget (64)


def _as_user(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, user=USER, group=USER, extra_groups=[], capture_output=True, text=True, **kwargs)


def _system_python() -> str | None:
    """A Python 3.11+ that uid 65534 can run, or None."""
    for name in ("python3.13", "python3.12", "python3.11", "python3"):
        for folder in ("/usr/bin", "/usr/local/bin"):
            path = Path(folder) / name
            if not path.exists():
                continue
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                done = _as_user([str(path), "-c", "import sys; print(sys.version_info >= (3, 11))"], timeout=30)
                if done.stdout.strip() == "True":
                    return str(path)
    return None


@contextlib.contextmanager
def _tasks_held_by_the_user(count: int):
    """A process of uid 65534 holding `count` threads, as the user's session would."""
    read_end, write_end = os.pipe()
    ready_read, ready_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(write_end)
            os.setgroups([])
            os.setgid(USER)
            os.setuid(USER)
            for _ in range(count):
                threading.Thread(target=os.read, args=(read_end, 1), daemon=True).start()
            os.write(ready_write, b"1")
            os.read(read_end, 1)
        finally:
            os._exit(0)
    os.close(read_end)
    os.read(ready_read, 1)
    try:
        yield
    finally:
        os.close(write_end)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(ready_read)
        os.close(ready_write)


@pytest.fixture(scope="module")
def user_install():
    """A venv of a Python uid 65534 can run, with this checkout installed (editable), in a folder
    that uid can read: (folder, venv); skips where any of it is impossible here."""
    if os.geteuid() != 0:
        pytest.skip("needs root to act as another user (run as a user, the whole suite is this test)")
    python, uv = _system_python(), shutil.which("uv")
    if python is None or uv is None:
        pytest.skip("no Python 3.11+ that uid 65534 can run, or no uv")
    if _as_user(["/bin/cat", str(ROOT / "pyproject.toml")], timeout=30).returncode != 0:
        pytest.skip(f"uid 65534 cannot read the checkout at {ROOT}")
    work = Path(tempfile.mkdtemp(prefix="adrs-as-a-user-", dir="/tmp"))
    try:
        work.chmod(0o755)
        venv = work / "venv"
        env = uv_env(UV_OFFLINE="1", UV_LINK_MODE="copy", UV_COMPILE_BYTECODE="0")
        subprocess.run([uv, "venv", "-q", "--python", python, str(venv)], env=env, check=True, timeout=120)
        installed = subprocess.run(
            [uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), "-e", str(ROOT)],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if installed.returncode != 0:
            pytest.skip(f"adrs's dependencies are not all in uv's cache here: {installed.stderr[-300:]}")
        home = work / "home"
        home.mkdir()
        os.chown(home, USER, USER)
        yield work, venv
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _user_env(work: Path) -> dict[str, str]:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(work / "home"), "LANG": "C.UTF-8"}


def test_a_user_with_many_tasks_of_their_own_can_evaluate_a_program(user_install):
    work, venv = user_install
    problem = work / "toy"
    shutil.copytree(SKELETON, problem, ignore=shutil.ignore_patterns("__pycache__"))
    toml = problem / "problem.toml"
    toml.write_text(toml.read_text().replace("{name}", "toy"))
    with _tasks_held_by_the_user(TASKS_HELD):
        done = _as_user(
            [str(venv / "bin" / "adrs"), "eval", str(problem), str(problem / "initial.py"), "--json"],
            env=_user_env(work),
            cwd=str(work / "home"),
            timeout=300,
        )
    assert done.returncode == 0, done.stderr[-800:]
    stages = json.loads(done.stdout)["stages"]
    assert stages and all(stage["ok"] for stage in stages), [stage["error"] for stage in stages]


THREADS = """
import threading


def start(count):
    release, started = threading.Event(), 0
    try:
        for _ in range(count):
            threading.Thread(target=release.wait, daemon=True).start()
            started += 1
    except RuntimeError:
        pass
    release.set()
    return started
"""
PROBE = """
import sys
from pathlib import Path
from adrs.problemkit import run_candidate

folder = Path(sys.argv[1])
run = run_candidate(folder / "threads.py", folder / "driver.py", 200, sandbox="bwrap", workdir=folder)
print(run.value if run.ok else run.error)
"""


def test_a_users_bwrap_candidate_is_bounded_in_processes_by_its_own_namespace(user_install):
    # No pids cgroup for a user: the runner lowers RLIMIT_NPROC inside bwrap's user namespace,
    # where only the sandbox's own tasks count (not the user's 80 others).
    work, venv = user_install
    if _as_user(["bwrap", "--unshare-all", "--ro-bind", "/", "/", "true"], timeout=30).returncode != 0:
        pytest.skip("bwrap cannot make its namespaces as uid 65534 here")
    folder = work / "threads"
    folder.mkdir()
    (folder / "threads.py").write_text(THREADS)
    (folder / "driver.py").write_text("def run(candidate, payload):\n    return candidate.start(payload)\n")
    (folder / "probe.py").write_text(PROBE)
    os.chown(folder, USER, USER)
    with _tasks_held_by_the_user(TASKS_HELD):
        done = _as_user(
            [str(venv / "bin" / "python"), str(folder / "probe.py"), str(folder)],
            env=_user_env(work),
            cwd=str(folder),
            timeout=300,
        )
    assert done.returncode == 0, done.stderr[-800:]
    started = done.stdout.strip().splitlines()[-1]
    assert started.isdigit(), started
    assert 10 < int(started) < 64, f"a user's bwrap candidate started {started} threads of 200"
