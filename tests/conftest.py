"""Shared fixtures: the project root, the real data folder beside the checkout (or a skip)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture
def project_root() -> Path:
    return ROOT


@pytest.fixture
def shared_data() -> Path:
    """The real traces and tables (../shared/data); tests that need them skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (../shared/data beside the checkout)")
    return SHARED_DATA
