"""bwrap with what it binds under /tmp: a virtual environment there (or any folder bound there)
stays visible, and when bwrap cannot run the probe names the real reason.

bwrap mounts a fresh tmpfs on /tmp; mounted after the binds, it hid a virtual environment under
/tmp, and the probe then blamed user namespaces.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from adrs import sandbox as backends
from adrs.sandbox.bwrap import bwrap_command

ROOT = Path(__file__).resolve().parents[2]
PROBE = "from adrs import sandbox as backends; print(backends.get('bwrap').unavailable_reason())"


@pytest.fixture
def bwrap() -> None:
    reason = backends.get("bwrap").unavailable_reason()
    if reason is not None:
        pytest.skip(f"bwrap unavailable here: {reason}")


@pytest.fixture
def under_tmp():
    folder = Path(tempfile.mkdtemp(dir="/tmp", prefix="adrs-under-tmp-"))
    folder.chmod(0o755)  # the sandbox runs as nobody
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_folder_bound_under_tmp_is_visible_inside_the_sandbox(bwrap, under_tmp):
    bound, home = under_tmp / "bound", under_tmp / "home"
    bound.mkdir(mode=0o755)
    home.mkdir(mode=0o777)
    (bound / "marker.txt").write_text("seen")
    (bound / "marker.txt").chmod(0o644)
    code = f"print(open({str(bound / 'marker.txt')!r}).read())"
    command = bwrap_command(home, {"PATH": "/usr/bin"}, (bound,), [sys.executable, "-I", "-c", code])
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "seen"


def test_an_interpreter_bwrap_cannot_see_is_named_instead_of_blaming_namespaces(bwrap, under_tmp):
    # The interpreter reached through a link under /tmp, which the sandbox does not mount: Python
    # finds its runtime through the link, but bwrap is asked to run the link itself.
    link = under_tmp / "python3"
    link.symlink_to(os.path.realpath(sys.executable))
    env = {k: v for k, v in os.environ.items() if k != "ADRS_PROBE_BWRAP"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    done = subprocess.run([str(link), "-c", PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"the Python interpreter {link} is not visible inside the sandbox" in done.stdout, done.stdout
    assert "namespaces" not in done.stdout


@pytest.mark.slow
def test_a_virtual_environment_under_tmp_runs_candidates_under_bwrap(bwrap, under_tmp, toy_problem):
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed")
    venv = under_tmp / "venv"
    subprocess.run([uv, "venv", "-q", str(venv)], check=True, timeout=300)
    python = str(venv / "bin" / "python")
    subprocess.run([uv, "pip", "install", "-q", "--python", python, "-e", str(ROOT)], check=True, timeout=600)
    env = {k: v for k, v in os.environ.items() if k != "ADRS_PROBE_BWRAP"}
    probe = subprocess.run([python, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert probe.stdout.strip() == "None", probe.stdout + probe.stderr
    done = subprocess.run(
        [str(venv / "bin" / "adrs"), "eval", str(toy_problem), str(toy_problem / "initial.py")]
        + ["--sandbox", "bwrap", "--json"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert '"ok": true' in done.stdout
