"""The backends the adversarial suite runs against (every one that is available here, the others
skip), and how each stage's worker starts: forked by the problem's warm server, or a fresh
interpreter (`--cold-start`); both must hold every containment property."""

from __future__ import annotations

import pytest

from adrs import sandbox as backends


@pytest.fixture(scope="module", params=backends.BACKENDS)
def backend(request) -> str:
    name = request.param
    reason = backends.get(name).unavailable_reason()
    if reason is not None:
        pytest.skip(f"sandbox backend {name!r} unavailable here: {reason}")
    return name


@pytest.fixture(scope="module", params=["warm", "cold"])
def start(request) -> str:
    """How stage workers start (adrs/evaluate/warm.py): `warm` (the default) or `cold`."""
    yield request.param
    from adrs.evaluate import warm

    warm.close_all()
