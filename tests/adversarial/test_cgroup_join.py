"""Joining a stage's pids cgroup (adrs/sandbox/cgroup.py, PidsCgroup.join).

A process moving itself while single-threaded takes the fast path (it moves its one thread); any
other process must still be moved whole: every thread in the group, and counted by pids.max, so
no thread of a sandboxed process stays outside its stage's group.
"""

from __future__ import annotations

import json
import os
import threading

import pytest

from adrs.sandbox.cgroup import PidsCgroup, pids_cgroup_available

pytestmark = pytest.mark.skipif(not pids_cgroup_available(), reason="no writable pids cgroup here")


def _in_group(cgroup_file: str, group: PidsCgroup) -> bool:
    with open(cgroup_file) as lines:
        return any(":pids:" in line and line.rstrip().endswith("/" + group.path.name) for line in lines)


def _in_child(group: PidsCgroup, threads: int) -> dict:
    """Fork a child with `threads` extra threads that joins `group` itself; what it saw after."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            release = threading.Event()
            started = [threading.Thread(target=release.wait) for _ in range(threads)]
            for thread in started:
                thread.start()
            group.join(os.getpid())
            tasks = os.listdir("/proc/self/task")
            inside = [_in_group(f"/proc/self/task/{task}/cgroup", group) for task in tasks]
            seen = {"tasks": len(tasks), "inside": inside, "current": int((group.path / "pids.current").read_text())}
            release.set()
            os.write(write_end, json.dumps(seen).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as reader:
        seen = json.loads(reader.read())
    os.waitpid(pid, 0)
    return seen


@pytest.mark.parametrize("threads", [0, 2])
def test_a_process_that_joins_itself_is_in_the_group_with_every_thread(threads):
    group = PidsCgroup.create(64)
    assert group is not None
    try:
        seen = _in_child(group, threads)
        assert seen["tasks"] == 1 + threads
        assert all(seen["inside"]), f"a thread stayed outside the group: {seen}"
        assert seen["current"] == 1 + threads, "pids.max does not count every task of the process"
    finally:
        group.remove()
