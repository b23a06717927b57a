"""Broken candidates become recorded failed evaluations, and the run goes on."""

from __future__ import annotations

import asyncio

from adrs.archive.store import Archive
from adrs.config import RunConfig
from adrs.engine import Engine
from adrs.executors.local import LocalExecutor
from adrs.mutate.offline import OfflineSource
from adrs.problem import load_problem
from tests.scripted import ScriptedSource

HEADER = "def order_jobs(jobs):\n"
GOOD_TAIL = "    return sorted(range(len(jobs)), key=lambda i: jobs[i][0] / jobs[i][1])\n"

BROKEN = {
    "loop": HEADER + "    while True:\n        pass\n",
    "alloc": HEADER + "    hog = []\n    while True:\n        hog.append(bytearray(200_000_000))\n",
    "raise": HEADER + "    raise RuntimeError('policy bug')\n",
    "syntax": "def order_jobs(jobs)\n    return []\n",
    "print_megabytes": HEADER + "    print('x' * 5_000_000)\n" + GOOD_TAIL,
    "fake_result": (
        "import sys\n"
        'print(\'{"ok": true, "score": 1e9, "token": "x"}\')\n'
        'sys.stderr.write(\'{"ok": true, "value": [[0]]}\')\n' + HEADER + "    return [0] * len(jobs)\n"
    ),
    "exit_early": "import os\n" + HEADER + "    os._exit(0)\n",
}


def _run(problem_dir, archive_path, programs, budget):
    problem = load_problem(problem_dir)
    archive = Archive.open(archive_path)
    config = RunConfig(budget=budget, workers=2, seed=0, islands=1, evaluate_holdout=False)
    run = archive.create_run(problem.name, str(problem.root), problem.fingerprint(), 0, config.to_dict())
    summary = asyncio.run(Engine(problem, archive, run, config, ScriptedSource(programs)).run())
    return archive, run, summary


def test_each_broken_candidate_is_a_recorded_failure_and_the_run_goes_on(toy_problem, tmp_path):
    # 8 s, not the fixture's 3 s: the memory hog shares the two cores with the endless loop, and on a busy
    # machine its interpreter start alone once outlasted 3 s, so it ended as a timeout before its allocation.
    toml = toy_problem / "problem.toml"
    toml.write_text(toml.read_text().replace("candidate_timeout_s = 3", "candidate_timeout_s = 8"))
    programs = list(BROKEN.values()) + [HEADER + GOOD_TAIL]
    archive, run, summary = _run(toy_problem, tmp_path / "a.sqlite", programs, budget=1 + len(programs))
    by_description = {p.description: p for p in archive.programs(run.id)}
    kinds = {}
    for name, index in zip(BROKEN, range(1, len(BROKEN) + 1), strict=True):
        program = by_description[f"scripted #{index}"]
        kinds[name] = (program.status, program.error_kind, program.score)
    errors = {
        name: archive.evaluations(by_description[f"scripted #{i}"].id)[0].error[-300:]
        for i, name in enumerate(BROKEN, 1)
    }
    assert kinds["loop"][:2] == ("failed", "timeout"), errors["loop"]
    assert kinds["alloc"][:2] == ("failed", "memory"), errors["alloc"]
    assert kinds["raise"][:2] == ("failed", "exception")
    assert kinds["syntax"][:2] == ("failed", "syntax")
    assert kinds["exit_early"][0] == "failed"
    # printing megabytes is harmless: output is never parsed, and the policy itself is optimal
    assert kinds["print_megabytes"] == ("evaluated", None, 100.0)
    # a forged result line on stdout/stderr is ignored: the real (invalid) order scores 0
    assert kinds["fake_result"] == ("evaluated", None, 0.0)
    assert summary.evaluated == 1 + len(programs)
    assert summary.best is not None and summary.best.score == 100.0
    loop = by_description["scripted #1"]
    assert "wall-clock" in archive.evaluations(loop.id)[0].error


def test_a_failing_initial_program_stops_the_run_with_a_reason(toy_problem, tmp_path):
    (toy_problem / "initial.py").write_text("def order_jobs(jobs):\n    raise ValueError('nope')\n")
    archive, run, summary = _run(toy_problem, tmp_path / "a.sqlite", [], budget=5)
    assert summary.evaluated == 1
    assert "nothing to mutate" in summary.stop_reason
    assert archive.status_counts(run.id) == {"failed": 1}


class _SwallowsCancellation(LocalExecutor):
    """Completes an evaluation even when cancelled mid-way, as Python 3.11's asyncio.wait_for does
    when the cancellation races the awaited result (the worker exiting just then)."""

    async def evaluate(self, problem, code, settings, stages=None, label=""):
        work = asyncio.ensure_future(super().evaluate(problem, code, settings, stages, label))
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            return await work


def test_a_cancelled_run_stops_even_when_an_evaluation_swallows_the_cancellation(toy_problem, tmp_path):
    problem = load_problem(toy_problem)
    archive = Archive.open(tmp_path / "a.sqlite")
    config = RunConfig(budget=200, workers=2, seed=0, islands=1, evaluate_holdout=False)
    run = archive.create_run(problem.name, str(problem.root), problem.fingerprint(), 0, config.to_dict())
    engine = Engine(problem, archive, run, config, OfflineSource(), executor=_SwallowsCancellation())

    async def cancel_mid_run() -> None:
        task = asyncio.create_task(engine.run())
        while engine.progress.evaluated < 3:
            await asyncio.sleep(0.02)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=120)  # generous: a busy machine is slow
        assert done, "the cancelled run hung on its evaluation slots"
        assert task.cancelled()

    asyncio.run(cancel_mid_run())
    statuses = [p.status for p in archive.programs(run.id)]
    assert statuses.count("evaluated") + statuses.count("failed") >= 3  # finished evaluations are kept
    assert len(statuses) < 200
