"""Shared fixtures: the project root, the real data folder beside the checkout (or a skip).

The real data is ../shared/data beside the checkout, or the folder ADRS_TEST_DATA names (where
.ci/run fetches it with `adrs data fetch --all` on a machine without the shared folder). Every
test runs with a private, empty user data folder (XDG_DATA_HOME), so data a developer fetched for
their own runs never turns a test's synthetic workload into real data, and a private cache folder
(XDG_CACHE_HOME), so the report's baseline cache never reaches ~/.cache. And Ctrl-C reaches the
engines the tests start even when the suite itself was started with SIGINT ignored (`cmd &` in a
script without job control): an ignored signal stays ignored across fork and exec.
"""

from __future__ import annotations

import os
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ADRS_TEST_DATA") or ROOT.parent / "shared" / "data")


@pytest.fixture(scope="session", autouse=True)
def _sigint_reaches_children() -> None:
    """A handled signal is reset to its default at exec, an ignored one is inherited: handle it here."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session", autouse=True)
def _private_user_data_folder() -> Iterator[None]:
    saved = os.environ.get("XDG_DATA_HOME")
    with tempfile.TemporaryDirectory(prefix="adrs-test-xdg-") as folder:
        os.environ["XDG_DATA_HOME"] = folder
        try:
            yield
        finally:
            if saved is None:
                os.environ.pop("XDG_DATA_HOME", None)
            else:
                os.environ["XDG_DATA_HOME"] = saved


# The user's own cache folder, read before private_cache_folder replaces it: uv's cache lives there,
# from which tests that build a venv install offline.
USER_CACHE_HOME = os.environ.get("XDG_CACHE_HOME")


def uv_env(**extra: str) -> dict[str, str]:
    """This process's environment with the user's own XDG_CACHE_HOME, for uv (its cache)."""
    env = {key: value for key, value in os.environ.items() if key != "XDG_CACHE_HOME"}
    if USER_CACHE_HOME is not None:
        env["XDG_CACHE_HOME"] = USER_CACHE_HOME
    return {**env, **extra}


@pytest.fixture(scope="session", autouse=True)
def private_cache_folder(tmp_path_factory) -> Iterator[Path]:
    """XDG_CACHE_HOME for this process and every `adrs` it starts."""
    folder = tmp_path_factory.mktemp("xdg-cache")
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = previous


@pytest.fixture
def project_root() -> Path:
    return ROOT


@pytest.fixture
def shared_data() -> Path:
    """The real traces and tables (../shared/data, or ADRS_TEST_DATA); tests that need them skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(
            f"real data not found at {SHARED_DATA} (../shared/data beside the checkout, or ADRS_TEST_DATA; "
            "`adrs data fetch --all --data DIR` fetches it)"
        )
    return SHARED_DATA


SKELETON = ROOT / "adrs" / "templates" / "skeleton"


@pytest.fixture
def toy_problem(tmp_path: Path) -> Path:
    """A copy of the `adrs init` skeleton with short candidate limits, so failures are quick."""
    import shutil

    target = tmp_path / "toy"
    shutil.copytree(SKELETON, target, ignore=shutil.ignore_patterns("__pycache__"))
    toml = (target / "problem.toml").read_text().replace("{name}", "toy")
    toml = toml.replace("candidate_timeout_s = 20", "candidate_timeout_s = 3")
    toml = toml.replace("candidate_memory_mb = 1024", "candidate_memory_mb = 512")
    (target / "problem.toml").write_text(toml)
    return target
