"""What the user is shown: errors with control characters escaped, the sandbox in force, and which
backend is the default where (the strongest that works)."""

from __future__ import annotations

import os
import subprocess
import sys

from adrs.printable import markup, printable

ADRS = [sys.executable, "-m", "adrs.cli"]
ANSI_CANDIDATE = (
    "def order_jobs(jobs):\n    raise RuntimeError('\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\u202egnp.exe all good')\n"
)


def test_printable_shows_control_characters_and_keeps_the_text():
    assert printable("a\x1b[2Jb\x07\tc\nd\x9b\u202e") == "a\\x1b[2Jb\\x07\tc\nd\\x9b\\u202e"
    assert printable("plain text, ünïcode, 数") == "plain text, ünïcode, 数"
    assert markup("[red]\x1b") == "\\[red]\\x1b"


def test_adrs_eval_escapes_the_candidates_error_and_names_the_sandbox(toy_problem, tmp_path):
    program = tmp_path / "ansi.py"
    program.write_text(ANSI_CANDIDATE)
    done = subprocess.run([*ADRS, "eval", str(toy_problem), str(program), "--stage", "quick"],
                          capture_output=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    out = done.stdout
    assert b"\x1b" not in out and b"\x07" not in out and "\u202e".encode() not in out, out
    assert b"\\x1b]0;pwned" in out
    assert b"Sandbox: " in out


def _in_subprocess(code: str, **env: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_default_is_the_strongest_backend_that_works_here():
    line = "from adrs import sandbox; print(sandbox.default_name()); print(sandbox.describe(sandbox.default_name()))"
    probe = "from adrs.sandbox.process import confinement_available as c; print(c())"
    confined = os.geteuid() == 0 and _in_subprocess(probe) == "True"
    name, said = _in_subprocess(line).splitlines()
    if confined:
        assert name == "process" and said.startswith("process: confined"), said
    # Where process cannot confine, bwrap (when it works) is the default; else process says it is not confined.
    name, said = _in_subprocess(line, ADRS_NO_CONFINE="1").splitlines()
    bwrap_works = _in_subprocess("from adrs import sandbox; print(sandbox.get('bwrap').unavailable_reason())") == "None"
    assert name == ("bwrap" if bwrap_works else "process"), (name, said)
    name, said = _in_subprocess(line, ADRS_NO_CONFINE="1", PATH="/nonexistent").splitlines()
    assert name == "process" and "NOT confined" in said, said


def test_the_header_says_when_nothing_bounds_a_candidates_processes():
    # Without a pids cgroup (not root, cgroup v2 hosts; ADRS_NO_CGROUP=1 here) a candidate can fork
    # until its wall-clock limit: the run header must not read as if it were bounded.
    line = "from adrs import sandbox; print(sandbox.describe('process')); print(sandbox.describe('bwrap'))"
    unbounded = "no bound on the number of processes"
    from adrs.sandbox.cgroup import pids_cgroup_available

    if pids_cgroup_available():
        assert unbounded not in _in_subprocess(line)
    process, bwrap = _in_subprocess(line, ADRS_NO_CGROUP="1").splitlines()
    assert unbounded in process and unbounded in bwrap
    if os.geteuid() == 0:  # an unconfined candidate switched to uid 65534: RLIMIT_NPROC binds it
        said = _in_subprocess(line, ADRS_NO_CGROUP="1", ADRS_NO_CONFINE="1", ADRS_PROBE_DROP="1")
        assert unbounded not in said.splitlines()[0]
