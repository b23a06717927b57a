"""A one-shot candidate's result is taken when its runner says it is in, not after its exit.

The runner writes its result, flushes the candidate's streams, writes one byte on a socket the
harness passed (adrs/problemkit/harness.py) and waits; the harness then reads the record and lets
the process go (`Handle.abandon`: through the zygote, which kills, reaps and removes its pids cgroup). What must
hold: what a candidate leaves running after its result (a thread, an atexit hook) neither delays the
result nor outlives the run, with or without the zygote; its output printed before the result is in
the tails; what it would write after its result (an atexit hook overwriting the record) is never
read; a byte written by the candidate itself, before any result, takes nothing early (the run
ends by its exit as before); nothing is left behind (no process, no cgroup).
"""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

from adrs.problemkit import ProcessLimits, run_candidate
from adrs.sandbox import cgroup as cgroups
from adrs.sandbox.process import confinement_available

DRIVER = "def run(candidate, payload):\n    return candidate.solve(payload)\n"
# Returns at once, leaving a thread that would hold the process for two minutes (threading's
# shutdown waits for it), an atexit hook that would sleep as long, and one that would overwrite the
# result (it runs, if ever, after the result was read: the runner waits until then).
LINGERING = textwrap.dedent(
    """
    import atexit, json, sys, threading, time

    def _overwrite():
        with open(json.load(open(sys.argv[1]))["result"], "w") as f:
            f.write('{"ok": true, "value": -1}')

    def solve(payload):
        print("printed before the result")
        threading.Thread(target=time.sleep, args=(120,)).start()
        atexit.register(time.sleep, 120)
        atexit.register(_overwrite)
        return payload * 2
    """
)
# Writes the byte itself before returning (fd 3 under the zygote; found by what it points at), and
# reports whether it found the socket.
EARLY_BYTE = textwrap.dedent(
    """
    import os, time

    def solve(payload):
        said = 0
        for fd in os.listdir("/proc/self/fd"):
            try:
                if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                    said += os.write(int(fd), b"x")
            except OSError:  # the listing's own descriptor
                pass
        time.sleep(0.5)
        return [payload + 1, said]
    """
)


@pytest.fixture(params=["zygote", "cold"])
def launched(request, monkeypatch):
    """Candidates forked by a zygote (tests/adversarial/conftest.py, as a warm worker's), or started
    cold: the zygote's process, or None."""
    if request.param == "cold":
        monkeypatch.setenv("ADRS_NO_ZYGOTE", "1")
        return None
    if not confinement_available():
        pytest.skip("candidates are not confined by the process backend here: there is no zygote")
    return request.getfixturevalue("zygote")


@pytest.fixture
def groups(monkeypatch) -> list[Path]:
    """The pids cgroups made for candidates during the test."""
    made: list[Path] = []
    create = cgroups.PidsCgroup.create.__func__

    def recording(cls, max_pids):
        group = create(cls, max_pids)
        if group is not None:
            made.append(group.path)
        return group

    monkeypatch.setattr(cgroups.PidsCgroup, "create", classmethod(recording))
    return made


def _run(tmp_path: Path, program: str, payload: int):
    (tmp_path / "candidate.py").write_text(program)
    (tmp_path / "driver.py").write_text(DRIVER)
    return run_candidate(
        tmp_path / "candidate.py", tmp_path / "driver.py", payload, workdir=tmp_path / "runs",
        limits=ProcessLimits(timeout_s=60),
    )  # fmt: skip


def _gone(paths: list[Path], deadline_s: float = 10.0) -> bool:
    deadline = time.monotonic() + deadline_s
    while any(p.exists() for p in paths):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_what_a_candidate_leaves_running_neither_delays_its_result_nor_outlives_it(tmp_path, launched, groups):
    started = time.monotonic()
    run = _run(tmp_path, LINGERING, 21)
    assert (run.ok, run.value) == (True, 42), run.error
    assert time.monotonic() - started < 30, "the result waited for the candidate's thread or atexit hook"
    assert "printed before the result" in run.stdout_tail
    assert _gone(groups), f"a candidate's pids cgroup was left behind: {groups}"
    if launched is not None:  # the zygote reaped it: only the spare for the next launch is its child
        deadline = time.monotonic() + 10
        while len(Path(f"/proc/{launched.pid}/task/{launched.pid}/children").read_text().split()) > 1:
            assert time.monotonic() < deadline, "the candidate outlived its result"
            time.sleep(0.02)


def test_a_byte_without_a_result_takes_nothing_early(tmp_path, launched):
    run = _run(tmp_path, EARLY_BYTE, 41)
    assert (run.ok, run.value) == (True, [42, 1]), run.error  # it found the socket and said it
    assert run.wall_s >= 0.5, "the run ended before the candidate returned"
