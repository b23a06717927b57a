"""A stage's result is taken once the worker's frame is complete, not after the worker's exit; the
exit, what is left of its tree, its cgroup and the stage's folder are finished in the background
(adrs/evaluate/runner.py, adrs/evaluate/leftovers.py).

What must hold: a frame that is complete ends the stage at once, the worker is killed and nothing
of it outlives the stage's leftovers; a worker that exits without a frame while something it
started still holds its result pipe ends the stage as before (at its exit, not at the stage's time
limit), and that something is killed; a real stage leaves no folder and no cgroup behind once its
leftovers are settled; a cancelled waiter does not lose a warm worker's exit report.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path

from adrs.evaluate import leftovers, runner, warm
from adrs.evaluate.runner import EvalSettings, evaluate_stage
from adrs.problem import load_problem
from adrs.sandbox.cgroup import PidsCgroup, pids_cgroup_available

TOKEN = "leftovers-test-token"


async def _worker(script: str, write_fd: int) -> asyncio.subprocess.Process:
    """A real process in the worker's place: it gets the result pipe's write end, as a worker does."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-I", "-c", script, pass_fds=(write_fd,), stdin=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip


async def _await(problem, stage, script: str, tmp_path: Path, cgroup: PidsCgroup | None = None):
    read_fd, write_fd = os.pipe()
    proc = await _worker(script.replace("FD", str(write_fd)), write_fd)
    if cgroup is not None:
        cgroup.join(proc.pid)
    os.close(write_fd)
    stderr_fd = os.open(tmp_path / "stderr", os.O_RDWR | os.O_CREAT)
    exiting: list = []
    began = time.monotonic()
    try:
        evaluation = await runner._await_worker(
            problem, stage, proc, {}, TOKEN, read_fd, cgroup, stderr_fd, began, exiting
        )
    finally:
        os.close(stderr_fd)
    return evaluation, time.monotonic() - began, proc, exiting


def test_a_complete_frame_ends_the_stage_before_the_worker_exits(toy_problem, tmp_path):
    problem = load_problem(toy_problem)
    stage = replace(problem.stage("quick"), timeout_s=20)
    frame = json.dumps({"token": TOKEN, "ok": True, "result": {"score": 7.0}})
    # The frame, the pipe closed, then an exit that takes longer than the stage may.
    script = f"import os, time\nos.write(FD, {frame!r}.encode())\nos.close(FD)\ntime.sleep(120)\n"
    cgroup = PidsCgroup.create(16) if pids_cgroup_available() else None

    async def scenario():
        evaluation, took, proc, exiting = await _await(problem, stage, script, tmp_path, cgroup)
        assert evaluation.ok and evaluation.score == 7.0, evaluation.error
        assert took < 10, f"the stage waited {took:.1f} s for the worker's exit"
        assert exiting == [(proc, cgroup)]
        tidied: list[bool] = []
        leftovers.finish_later(proc, cgroup, lambda: tidied.append(True))
        await leftovers.settle()
        return proc, tidied

    proc, tidied = asyncio.run(scenario())
    assert proc.returncode == -signal.SIGKILL, "the worker was not killed once its frame was in"
    assert tidied == [True]
    if cgroup is not None:
        assert not cgroup.path.exists(), "the worker's cgroup outlived the stage's leftovers"
    assert leftovers.pending() == 0


def test_a_worker_that_exits_without_a_frame_ends_the_stage_at_its_exit(toy_problem, tmp_path):
    # A child it forked keeps the pipe open: the stage ends at the worker's exit, as before, not at
    # the time limit, and the child is killed with the worker's tree.
    problem = load_problem(toy_problem)
    stage = replace(problem.stage("quick"), timeout_s=20)
    script = (
        "import os, time\n"
        "child = os.fork()\n"
        "if child == 0:\n"
        "    open('CHILD', 'w').write(str(os.getpid()))\n"
        "    time.sleep(120)\n"
        "    os._exit(0)\n"
        "while not os.path.exists('CHILD'):\n"
        "    time.sleep(0.01)\n"
        "os._exit(3)\n"
    ).replace("CHILD", str(tmp_path / "child"))

    async def scenario():
        evaluation, took, _proc, exiting = await _await(problem, stage, script, tmp_path)
        return evaluation, took, exiting

    evaluation, took, exiting = asyncio.run(scenario())
    assert not evaluation.ok and took < 10, (evaluation.error, took)
    assert exiting == []
    child = int((tmp_path / "child").read_text())
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(child), "a process the worker started outlived the stage"


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_stages_leave_no_folder_and_no_cgroup_once_settled(toy_problem, tmp_path, monkeypatch):
    problem = load_problem(toy_problem)
    root = tmp_path / "stages"
    root.mkdir()
    settings = EvalSettings(workdir_root=str(root))
    made: list[Path] = []  # every cgroup this process creates for the stages' workers
    create = PidsCgroup.create.__func__

    def recorded(cls, max_pids: int):
        group = create(cls, max_pids)
        if group is not None:
            made.append(group.path)
        return group

    monkeypatch.setattr(PidsCgroup, "create", classmethod(recorded))

    async def scenario():
        stage = problem.stage("quick")
        results = [await evaluate_stage(problem, problem.initial_path, stage, settings) for _ in range(4)]
        await leftovers.settle()
        return results

    try:
        results = asyncio.run(scenario())
    finally:
        warm.close_all()
    assert all(r.ok for r in results), [r.error for r in results]
    assert list(root.iterdir()) == [], "a stage's folder outlived its leftovers"
    assert [path for path in made if path.exists()] == [], "a stage's cgroup outlived its leftovers"
