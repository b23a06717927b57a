"""The README's set-up: exactly two commands, which compose in either order and run twice, and a
test command that is CI's own script, closing with a summary of what skipped and why."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _setup_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Set-up") : readme.index("## Using it")]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S)]


def test_the_readme_has_two_setup_commands_and_the_second_is_ci():
    first, second = _setup_commands()
    assert second == "bash .ci/run"
    assert "uv venv -q --allow-existing" in first and "--compile-bytecode" in first
    assert "uv pip install -q --python .venv/bin/python" in first  # never an environment activated elsewhere
    ci = (ROOT / ".ci" / "run").read_text()
    assert "uv venv -q --allow-existing .venv" in ci and "export UV_COMPILE_BYTECODE=1" in ci
    assert "rm -rf .venv" not in ci  # the first command's environment is reused, not thrown away
    assert re.search(r"pytest -rs --junitxml", ci) and ".ci/skips.py" in ci
    assert ".ci/test-data.sh || true" in ci and "data fetch" not in ci  # the data step lives there, tested below


def test_creating_the_environment_twice_works_as_the_commands_do_it(tmp_path):
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH (the README's commands install it)")
    for _ in range(2):  # the README's first command, then the second's (or either twice)
        done = subprocess.run(
            [uv, "venv", "-q", "--allow-existing", "--python", sys.executable, ".venv"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
    assert (tmp_path / ".venv" / "bin" / "python").exists()


def test_the_closing_summary_counts_skips_by_reason(tmp_path):
    (tmp_path / "test_sample.py").write_text(
        "import pytest\n\n"
        "def test_runs():\n    pass\n\n"
        "@pytest.mark.parametrize('k', [1, 2])\n"
        "def test_needs_a_browser(k):\n    pytest.skip('no chromium on PATH')\n\n"
        "def test_needs_data():\n    pytest.skip('real data not found')\n"
    )
    report = tmp_path / "report.xml"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            "-o",
            "addopts=",
            f"--junitxml={report}",
            str(tmp_path / "test_sample.py"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    done = subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "skips.py"), str(report), str(tmp_path / "absent.xml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "== summary: 4 tests, 0 failed, 3 skipped ==" in done.stdout
    lines = done.stdout.splitlines()
    assert any(re.fullmatch(r"\s+2 skipped: no chromium on PATH", line) for line in lines), done.stdout
    assert any(re.fullmatch(r"\s+1 skipped: real data not found", line) for line in lines), done.stdout


def _data_step(tmp_path: Path, *, shared: bool, mirror: Path) -> tuple[subprocess.CompletedProcess, Path]:
    """.ci/test-data.sh run from a checkout in `tmp_path/clone`, with or without ../shared/data beside it."""
    clone = tmp_path / "clone"
    (clone / ".ci").mkdir(parents=True)
    shutil.copy2(ROOT / ".ci" / "test-data.sh", clone / ".ci" / "test-data.sh")
    if shared:
        (tmp_path / "shared" / "data").mkdir(parents=True)
    cache = tmp_path / "cache"
    env = {k: v for k, v in os.environ.items() if k != "ADRS_TEST_DATA"}
    env.update(PYTHON=sys.executable, XDG_CACHE_HOME=str(cache), ADRS_DATA_MIRROR=str(mirror))
    done = subprocess.run(
        ["bash", str(clone / ".ci" / "test-data.sh")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done, cache


def test_ci_never_fetches_data_when_the_shared_folder_is_beside_the_checkout(tmp_path):
    mirror = tmp_path / "empty-mirror"  # a fetch attempt would fail on it and say so
    mirror.mkdir()
    done, cache = _data_step(tmp_path, shared=True, mirror=mirror)
    assert done.returncode == 0 and done.stdout == "" and done.stderr == "", done
    assert not cache.exists()  # nothing was fetched, nor even a folder made for it


def test_ci_goes_on_when_the_data_cannot_be_fetched(tmp_path):
    mirror = tmp_path / "empty-mirror"  # stands for a machine without internet: every source is unreadable
    mirror.mkdir()
    done, _ = _data_step(tmp_path, shared=False, mirror=mirror)
    assert done.returncode == 0 and done.stdout == "", done  # no ADRS_TEST_DATA: the real-data tests skip
    assert "the real data could not be fetched (" in done.stderr and "cannot read it" in done.stderr, done.stderr


def test_the_setup_command_compiles_every_module_of_adrs(tmp_path):
    """The first command's compile step, run as written on a copy of adrs/ and evaluators/, leaves a
    .pyc for every module, even where PYTHONDONTWRITEBYTECODE is set (an editable install compiles
    only site-packages, so without this step adrs's modules compile at every start there)."""
    first, _ = _setup_commands()
    (step,) = [part.strip() for part in first.split("&&") if "compileall" in part]
    for folder in ("adrs", "evaluators"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    argv = [sys.executable, *step.split()[1:]]
    assert step.split()[0] == ".venv/bin/python"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    sources = [path for folder in ("adrs", "evaluators") for path in (tmp_path / folder).rglob("*.py")]
    uncompiled = [str(p) for p in sources if not Path(importlib.util.cache_from_source(str(p))).is_file()]
    assert len(sources) > 100 and not uncompiled, uncompiled[:5]
