"""A sandboxed child dies with the process that started it, also when it runs as another user.

A change of uid clears the parent-death signal (the kernel's commit_creds), so the `process`
backend's preexec (adrs/sandbox/process.py) must set it after the switch to uid 65534, not before:
else a candidate running as nobody outlives a SIGKILLed worker (the reaper removes tmpfs mounts
and containers, not processes). The child here is sleep(1), which nobody can run wherever Python
itself is private (the case where the backend keeps the uid); what matters is the preexec.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from adrs.sandbox.base import ProcessLimits
from adrs.sandbox.process import SandboxSpec, popen_kwargs

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="switching to uid 65534 needs root")

PR_GET_PDEATHSIG = 2


def _start_through_a_parent(tmp_path, drop: bool) -> tuple[int, int]:
    """Fork a parent that starts `sleep 300` the backend's way; (parent pid, sleep's pid)."""
    read_end, write_end = os.pipe()
    parent = os.fork()
    if parent == 0:
        try:
            os.close(read_end)
            spec = SandboxSpec(limits=ProcessLimits(memory_mb=256, cpu_s=60), drop_privileges=drop)
            child = subprocess.Popen(["sleep", "300"], **popen_kwargs(spec, str(tmp_path)))
            os.write(write_end, str(child.pid).encode())
            time.sleep(300)
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        return parent, int(os.read(read_end, 64))  # the parent keeps the pipe open: no end of file
    finally:
        os.close(read_end)


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


@pytest.mark.parametrize("drop", [False, True], ids=["same-uid", "as-nobody"])
def test_a_child_dies_with_its_killed_parent(tmp_path, drop):
    tmp_path.chmod(0o755)
    parent, child = _start_through_a_parent(tmp_path, drop)
    try:
        if drop:
            assert os.stat(f"/proc/{child}").st_uid == 65534, "the child did not switch to nobody"
        os.kill(parent, signal.SIGKILL)
        os.waitpid(parent, 0)
        deadline = time.monotonic() + 10
        while not _gone(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _gone(child), "the sandboxed child outlived the parent that started it"
    finally:
        for pid in (parent, child):
            with contextlib.suppress(ProcessLookupError, ChildProcessError):
                os.kill(pid, signal.SIGKILL)


def test_the_preexec_leaves_the_death_signal_set_after_the_uid_switch():
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            from adrs.sandbox.process import _preexec

            _preexec(SandboxSpec(limits=ProcessLimits(memory_mb=256), drop_privileges=True, unshare_network=False))
            value = ctypes.c_int()
            ctypes.CDLL(None, use_errno=True).prctl(PR_GET_PDEATHSIG, ctypes.byref(value))
            os.write(write_end, f"{os.getuid()} {value.value}".encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as reader:
        uid, sig = map(int, reader.read().split())
    os.waitpid(pid, 0)
    assert uid == 65534
    assert sig == signal.SIGKILL, "the uid switch cleared the death signal"
