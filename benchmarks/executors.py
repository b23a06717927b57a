"""Local executor vs Ray: evaluations per minute on prism, and the per-evaluation cost Ray adds.

    .venv/bin/python benchmarks/executors.py run --budget 60 --workers 2        # engine runs on prism
    .venv/bin/python benchmarks/executors.py overhead --evals 40                # one at a time

`run`: the same offline-mutator run of problems/prism (seed 0) with `--executor local` and with
`--executor ray` (a local Ray started by the run, its start-up timed separately): evaluations per
minute over the run's wall time, start-up excluded.

`overhead`: the same program evaluated `--evals` times, one at a time, through each executor, on
prism and on a trivial evaluator (it returns a number at once: what is left is the executors' own
cost: sandbox start plus, for Ray, task submission, scheduling, problem load and result transfer).
The difference of the means is the per-evaluation overhead Ray adds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from adrs.archive.store import Archive
from adrs.config import RunConfig
from adrs.engine import Engine
from adrs.evaluate.runner import EvalSettings
from adrs.executors import Executor, LocalExecutor
from adrs.mutate.offline import OfflineSource
from adrs.problem import Problem, load_problem

ROOT = Path(__file__).resolve().parents[1]

TRIVIAL_INITIAL = '''"""A constant."""

# EVOLVE-BLOCK-START
VALUE = 1.0
# EVOLVE-BLOCK-END
'''
TRIVIAL_EVALUATOR = """
def evaluate(program_path, *, stage="full", workdir=None, seed=0):
    return {"score": float(len(open(program_path).read()))}
"""


def _trivial_problem(root: Path) -> Problem:
    folder = root / "trivial"
    folder.mkdir()
    (folder / "problem.toml").write_text('[problem]\nname = "trivial"\n\n[[stages]]\nname = "full"\ntimeout_s = 30\n')
    (folder / "initial.py").write_text(TRIVIAL_INITIAL)
    (folder / "evaluator.py").write_text(TRIVIAL_EVALUATOR)
    return load_problem(folder)


def _ray_executor(run_dir: Path, workers: int) -> Executor:
    from adrs.executors.ray import RayExecutor

    return RayExecutor(run_dir=run_dir, workers=workers)


def engine_run(
    problem: Problem, executor: Executor, budget: int, workers: int, folder: Path
) -> tuple[float, float, int]:
    """(start-up seconds, run seconds, evaluations) of one offline run."""
    archive = Archive.open(folder / f"{executor.name}.sqlite")
    config = RunConfig(budget=budget, workers=workers, seed=0, evaluate_holdout=False)
    record = archive.create_run(problem.name, str(problem.root), problem.fingerprint(), 0, config.to_dict())
    began = time.perf_counter()
    executor.start(problem)
    started = time.perf_counter()
    try:
        engine = Engine(problem, archive, record, config, OfflineSource(), executor=executor)
        asyncio.run(engine.run())
    finally:
        ran = time.perf_counter()
        executor.close()
        archive.close()
    return started - began, ran - started, engine.progress.evaluated


def one_at_a_time(problem: Problem, executor: Executor, evals: int) -> list[float]:
    code = problem.initial_code()

    async def measure() -> list[float]:
        times = []
        for _ in range(evals + 1):  # the first warms the worker pool up; dropped
            began = time.perf_counter()
            result = await executor.evaluate(problem, code, EvalSettings())
            assert all(e.ok for e in result), result[-1].error
            times.append(time.perf_counter() - began)
        return times[1:]

    return asyncio.run(measure())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["run", "overhead"])
    parser.add_argument("--budget", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--evals", type=int, default=40)
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    prism = load_problem(ROOT / "problems" / "prism")
    print(f"machine: {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f} at start")
    with tempfile.TemporaryDirectory(prefix="adrs-exec-") as tmp:
        folder = Path(tmp)
        if args.mode == "run":
            for executor in (LocalExecutor(), _ray_executor(folder / "ray-run", args.workers)):
                startup, wall, evaluated = engine_run(prism, executor, args.budget, args.workers, folder)
                rate = 60.0 * evaluated / wall
                print(
                    f"prism, {executor.name:5s}: {evaluated} evaluations on {args.workers} slots in {wall:.1f} s = "
                    f"{rate:.1f} evaluations/min (start-up {startup:.1f} s, not counted)"
                )
            return
        trivial = _trivial_problem(folder)
        for problem in (trivial, prism):
            means = {}
            for executor in (LocalExecutor(), _ray_executor(folder / f"ray-{problem.name}", 1)):
                executor.start(problem)
                try:
                    times = one_at_a_time(problem, executor, args.evals)
                finally:
                    executor.close()
                means[executor.name] = statistics.mean(times)
                print(
                    f"{problem.name:8s} {executor.name:5s}: mean {1000 * means[executor.name]:7.1f} ms, "
                    f"median {1000 * statistics.median(times):7.1f} ms per evaluation ({args.evals} in a row)"
                )
            print(f"{problem.name:8s} Ray adds {1000 * (means['ray'] - means['local']):+.1f} ms per evaluation")


if __name__ == "__main__":
    main()
