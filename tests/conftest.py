"""Shared fixtures: the project root, the real data folder beside the checkout (or a skip), and a
private cache folder for the whole session (the report's baseline cache never reaches ~/.cache)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


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
    """The real traces and tables (../shared/data); tests that need them skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (../shared/data beside the checkout)")
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
