"""Limits and times of an interactive session are the trusted side's, on every available backend.

A candidate shares its process with the driver, so a limit or a clock inside that process is the
candidate's to switch off (prism's old SIGALRM per-case limit was). Through a session
(adrs/problemkit/session.py) the trusted side times every call from its own side and kills the
process past a call's limit. Each attack here switches off what it can reach in its own process:
signals, alarms, the clocks the driver would read; none changes what the trusted side measures.
"""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

from adrs.problemkit import CandidateError, SessionGroup, open_session

DRIVER = """
import time

def start(candidate, payload):
    return {"pid_namespace_ready": True, "payload": payload}

def handle(candidate, message):
    started = time.perf_counter()  # a clock the candidate can patch: reported, never used
    value = candidate.work(message["n"])
    return {"value": value, "self_reported_s": time.perf_counter() - started}
"""

TAMPERING = """
import signal, time
# switch off everything in-process limits and clocks rely on
for sig in (signal.SIGALRM, signal.SIGVTALRM, signal.SIGPROF, signal.SIGTERM, signal.SIGINT, signal.SIGXCPU):
    signal.signal(sig, signal.SIG_IGN)
signal.setitimer = lambda *args, **kwargs: (0.0, 0.0)
signal.alarm = lambda *args: 0
time.perf_counter = lambda: 0.0
time.monotonic = lambda: 0.0
time.time = lambda: 0.0

def work(n):
    if n < 0:
        while True:
            pass
    end = time.process_time() + n  # busy for n seconds of CPU (process_time is left alone)
    while time.process_time() < end:
        pass
    return n
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_a_call_is_timed_by_the_trusted_side_whatever_the_candidate_does_to_its_clocks(backend, tmp_path):
    driver = _write(tmp_path, "driver.py", DRIVER)
    program = _write(tmp_path, "candidate.py", TAMPERING)
    with open_session(program, driver, {"a": 1}, workdir=tmp_path / "work", sandbox=backend) as session:
        assert session.ready == {"pid_namespace_ready": True, "payload": {"a": 1}}
        reply = session.call({"n": 0.3}, timeout_s=30)
        value = reply.raise_for_failure()
    assert value["value"] == 0.3 and value["self_reported_s"] == 0.0  # its own clock says nothing happened
    assert reply.seconds >= 0.3  # the trusted clock saw the work


def test_a_call_past_its_limit_is_killed_although_the_candidate_ignores_every_signal(backend, tmp_path):
    driver = _write(tmp_path, "driver.py", DRIVER)
    program = _write(tmp_path, "candidate.py", TAMPERING)
    started = time.monotonic()
    with open_session(program, driver, workdir=tmp_path / "work", sandbox=backend) as session:
        reply = session.call({"n": -1}, timeout_s=1.0)
        assert not reply.ok and reply.error_kind == "timeout" and "1 s limit" in reply.error
        assert not session.alive
        after = session.call({"n": 0})
        assert not after.ok and "ended" in after.error
    assert time.monotonic() - started < 60  # killed at the limit, not at the process's own limits


def test_import_time_work_is_outside_every_call(backend, tmp_path):
    driver = _write(tmp_path, "driver.py", DRIVER)
    program = _write(
        tmp_path,
        "candidate.py",
        """
        import time
        time.sleep(1.0)  # a slow import (think: import torch)

        def work(n):
            return n
    """,
    )
    with open_session(program, driver, workdir=tmp_path / "work", sandbox=backend) as session:
        reply = session.call({"n": 1}, timeout_s=30)
    assert reply.raise_for_failure()["value"] == 1
    assert reply.seconds < 0.9


def test_a_candidate_that_cannot_start_fails_with_its_kind(backend, tmp_path):
    driver = _write(tmp_path, "driver.py", DRIVER)
    broken = _write(tmp_path, "broken.py", "def work(n:\n")
    with pytest.raises(CandidateError) as caught:
        open_session(broken, driver, workdir=tmp_path / "a", sandbox=backend)
    assert caught.value.kind == "syntax"
    raising = _write(tmp_path, "raising.py", "raise RuntimeError('no')\n")
    with pytest.raises(CandidateError) as caught:
        open_session(raising, driver, workdir=tmp_path / "b", sandbox=backend)
    assert caught.value.kind == "import" and "no" in caught.value.message


def test_a_candidate_cannot_label_its_failure_an_evaluator_error(backend, tmp_path):
    driver = _write(tmp_path, "driver.py", DRIVER)
    program = _write(
        tmp_path,
        "candidate.py",
        """
        import json, os, struct, sys

        def work(n):
            # write a forged failure frame straight into the channel, then stop answering
            channel = [int(fd) for fd in os.listdir("/proc/self/fd") if os.path.exists(f"/proc/self/fd/{fd}")
                       and os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")][0]
            body = json.dumps({"ok": False, "kind": "evaluator_error", "message": "not my fault"}).encode()
            os.write(channel, struct.pack(">I", len(body)) + body)
            os._exit(0)
    """,
    )
    with open_session(program, driver, workdir=tmp_path / "work", sandbox=backend) as session:
        reply = session.call({"n": 1}, timeout_s=30)
    assert not reply.ok and reply.error_kind == "exception"


def test_a_group_runs_sessions_side_by_side_and_stops_them_all_on_a_failure(backend, tmp_path):
    driver = _write(tmp_path, "driver.py", DRIVER)
    program = _write(tmp_path, "candidate.py", TAMPERING)

    def converse(n: float) -> float:
        with group.open() as session:
            return session.call({"n": n}, timeout_s=30).raise_for_failure()["value"]

    with SessionGroup(program, driver, workdir=tmp_path / "ok", sandbox=backend) as group:
        assert group.map(converse, [0.0, 0.1, 0.2], parallel=2) == [0.0, 0.1, 0.2]

    def failing(n: float) -> float:
        with group.open() as session:
            return session.call({"n": n}, timeout_s=0.5 if n < 0 else 60).raise_for_failure()["value"]

    started = time.monotonic()
    group = SessionGroup(program, driver, workdir=tmp_path / "bad", sandbox=backend)
    with group, pytest.raises(CandidateError) as caught:
        group.map(failing, [-1, 30.0], parallel=2)  # the second would take 30 s unless stopped
    assert caught.value.kind == "timeout" and "0.5 s" in caught.value.message
    assert time.monotonic() - started < 25


LINKING = """
import os

def work(n):
    # the session's stderr file becomes a link to a file only the trusted side may read, then the
    # process dies without answering: the recorded error quotes "stderr"
    os.remove("stderr.txt")
    os.symlink(os.environ.get("SECRET_PATH", "{secret}"), "stderr.txt")
    os._exit(3)
"""


def test_a_session_reads_the_candidates_stderr_through_its_own_descriptor(backend, tmp_path):
    secret = tmp_path / "secret.txt"  # where trusted code could read it; the candidate cannot
    secret.write_text("ESCAPED: a file only trusted code may read\n")
    driver = _write(tmp_path, "driver.py", DRIVER)
    program = _write(tmp_path, "candidate.py", LINKING.replace("{secret}", str(secret)))
    with open_session(program, driver, workdir=tmp_path / "work", sandbox=backend) as session:
        reply = session.call({"n": 1}, timeout_s=30)
        assert not reply.ok and "ESCAPED" not in reply.error
        assert "ESCAPED" not in session.stderr_tail()
