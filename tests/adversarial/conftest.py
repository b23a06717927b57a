"""The backends the adversarial suite runs against (every one that is available here, the others
skip), and how each stage's worker starts: forked by the problem's warm server, or a fresh
interpreter (`--cold-start`); both must hold every containment property. And a candidate zygote
for this process, as a warm worker has one."""

from __future__ import annotations

import os

import pytest

from adrs import sandbox as backends
from adrs.sandbox import zygote_launch


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


@pytest.fixture
def zygote(tmp_path, monkeypatch):
    """A zygote as a warm server starts one; this process's backend uses it as a worker's does."""
    proc, control = zygote_launch.start_zygote(str(tmp_path), 4096, 64, False)
    monkeypatch.setenv(zygote_launch.ZYGOTE_FD_ENV, str(os.dup(control.fileno())))
    monkeypatch.setattr(zygote_launch, "_control", None)
    monkeypatch.setattr(zygote_launch, "_gone", False)
    yield proc
    if zygote_launch._control is not None:
        zygote_launch._control.close()
    control.close()
    proc.kill()
    proc.wait(10)
