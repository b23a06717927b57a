"""The README's set-up: exactly two commands, which compose in either order and run twice, and a
test command that is CI's own script, closing with a summary of what skipped and why."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _setup_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Set-up"):readme.index("## Using it")]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S)]


def test_the_readme_has_two_setup_commands_and_the_second_is_ci():
    first, second = _setup_commands()
    assert second == "bash .ci/run"
    assert "uv venv -q --allow-existing" in first and "--compile-bytecode" in first
    ci = (ROOT / ".ci" / "run").read_text()
    assert "uv venv -q --allow-existing .venv" in ci and "export UV_COMPILE_BYTECODE=1" in ci
    assert "rm -rf .venv" not in ci  # the first command's environment is reused, not thrown away
    assert re.search(r"pytest -rs --junitxml", ci) and ".ci/skips.py" in ci


def test_creating_the_environment_twice_works_as_the_commands_do_it(tmp_path):
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH (the README's commands install it)")
    for _ in range(2):  # the README's first command, then the second's (or either twice)
        done = subprocess.run([uv, "venv", "-q", "--allow-existing", "--python", sys.executable, ".venv"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=120)
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
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                    "-o", "addopts=", f"--junitxml={report}", str(tmp_path / "test_sample.py")],
                   capture_output=True, text=True, timeout=120, cwd=tmp_path)
    done = subprocess.run([sys.executable, str(ROOT / ".ci" / "skips.py"), str(report), str(tmp_path / "absent.xml")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "== summary: 4 tests, 0 failed, 3 skipped ==" in done.stdout
    lines = done.stdout.splitlines()
    assert any(re.fullmatch(r"\s+2 skipped: no chromium on PATH", line) for line in lines), done.stdout
    assert any(re.fullmatch(r"\s+1 skipped: real data not found", line) for line in lines), done.stdout
