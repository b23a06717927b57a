"""The backends the adversarial suite runs against: every one that is available here, the others skip."""

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
