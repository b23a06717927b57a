"""Sandbox start-up cost per evaluation, for each backend (median milliseconds).

    python benchmarks/sandbox_startup.py [--repeats 20] [--backends process,bwrap,docker]

For each available backend, three figures:
- `candidate`: one `run_candidate` of a trivial candidate through the trusted harness (copying the
  files, starting the sandbox, the interpreter, the runner, reading the result back);
- `overhead`: `candidate` minus the same interpreter started bare (`python -I` running a script
  that writes a JSON file): what the sandbox itself adds;
- `stage`: one whole `evaluate_stage` of the toy problem's quick stage (worker start, evaluator,
  one candidate process with 5 instances), as the engine pays it per stage, with a cold worker (a
  fresh interpreter, `--cold-start`) and a warm one (forked by the problem's warm server, the
  default: adrs/evaluate/warm.py);
- `cpu`: the CPU time (user + system) of this process and the children it reaped, per candidate
  and per stage: far less sensitive than wall time to other work on a shared machine. The kernel
  accounts a sandboxed tree's time to us only where each level reaps the next: true for process
  (unshare) and for the worker, not inside bwrap or a container (their candidate's own time is
  missing there). A warm worker's time is its server's, read from /proc while the server lives;
  a warm worker's candidates are forked by the server's candidate zygote (adrs/sandbox/zygote.py),
  whose time is read the same way. For `process`, one more line: `candidate` through a zygote
  started here (cold `candidate` beside it). `ADRS_NO_ZYGOTE=1` keeps warm workers' candidates cold.
Unavailable backends are listed with the reason. Medians over `--repeats` runs, after one warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from adrs import sandbox
from adrs.evaluate import warm
from adrs.evaluate.runner import EvalSettings, evaluate_stage
from adrs.problem import load_problem
from adrs.problemkit import run_candidate
from adrs.sandbox import process as process_backend
from adrs.sandbox import zygote_launch

SKELETON = Path(__file__).resolve().parents[1] / "adrs" / "templates" / "skeleton"
CANDIDATE = "def order_jobs(jobs):\n    return list(range(len(jobs)))\n"
DRIVER = "def run(candidate, payload):\n    return candidate.order_jobs(payload)\n"
BARE = "import json\nwith open('result.json', 'w') as f:\n    json.dump({'ok': True, 'value': [0]}, f)\n"


def _median_ms(samples: list[float]) -> float:
    return 1000.0 * statistics.median(samples)


def _cpu_s() -> float:
    return warm.servers_cpu_s() + sum(
        usage.ru_utime + usage.ru_stime
        for usage in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    )


def _timed(fn, repeats: int) -> tuple[list[float], list[float]]:
    """(wall seconds, CPU seconds) of each of `repeats` calls, after a warm-up call."""
    fn()  # warm-up: probes, image checks, page cache
    wall, cpu = [], []
    for _ in range(repeats):
        began, began_cpu = time.perf_counter(), _cpu_s()
        fn()
        wall.append(time.perf_counter() - began)
        cpu.append(_cpu_s() - began_cpu)
    return wall, cpu


def _through_a_zygote(candidate, repeats: int, work: Path) -> tuple[list[float], list[float]]:
    """`candidate` with a candidate zygote (adrs/sandbox/zygote.py) started here, as a warm worker
    has one: its CPU (and its children's, which it reaps) read from /proc. Empty where candidates
    are not confined (no zygote then)."""
    if not (zygote_launch.zygote_wanted() and process_backend.confinement_available()):
        return [], []
    if process_backend.can_drop_privileges():
        return [], []
    proc, control = zygote_launch.start_zygote(str(work), 4096, 64, False)
    os.environ[zygote_launch.ZYGOTE_FD_ENV] = str(os.dup(control.fileno()))  # the backend owns its copy
    ticks = os.sysconf("SC_CLK_TCK")

    def zygote_cpu_s() -> float:
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return sum(int(fields[i]) for i in (11, 12, 13, 14)) / ticks

    wall, cpu = [], []
    try:
        candidate()  # warm-up
        for _ in range(repeats):
            began, began_cpu = time.perf_counter(), _cpu_s() + zygote_cpu_s()
            candidate()
            wall.append(time.perf_counter() - began)
            cpu.append(_cpu_s() + zygote_cpu_s() - began_cpu)
    finally:
        del os.environ[zygote_launch.ZYGOTE_FD_ENV]
        if zygote_launch._control is not None:
            zygote_launch._control.close()
            zygote_launch._control = None
        control.close()
        proc.wait(10)
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--backends", default=",".join(sandbox.BACKENDS))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="adrs-bench-sandbox-"))
    try:
        program, driver, bare = work / "program.py", work / "driver.py", work / "bare.py"
        program.write_text(CANDIDATE)
        driver.write_text(DRIVER)
        bare.write_text(BARE)
        problem_dir = work / "toy"
        shutil.copytree(SKELETON, problem_dir, ignore=shutil.ignore_patterns("__pycache__"))
        (problem_dir / "problem.toml").write_text((problem_dir / "problem.toml").read_text().replace("{name}", "toy"))
        problem = load_problem(problem_dir)
        quick = problem.stage("quick")

        def bare_start() -> None:
            subprocess.run([sys.executable, "-I", str(bare)], cwd=work, check=True)

        bare_wall, bare_cpu = _timed(bare_start, args.repeats)
        baseline = _median_ms(bare_wall)
        bare = _median_ms(bare_cpu)
        print(f"bare interpreter start: {baseline:7.1f} ms, cpu {bare:.1f} ms (median of {args.repeats})")
        print(
            f"{'backend':8} {'candidate':>10} {'overhead':>10} {'stage cold':>11} {'stage warm':>11}"
            f" {'cpu/cand':>10} {'cpu/st cold':>11} {'cpu/st warm':>11}"
        )
        for name in args.backends.split(","):
            reason = sandbox.get(name).unavailable_reason()
            if reason is not None:
                print(f"{name:8} unavailable: {reason}")
                continue

            def candidate(name: str = name) -> None:
                run = run_candidate(program, driver, [[1, 2], [3, 4]], sandbox=name, workdir=tempfile.mkdtemp(dir=work))
                assert run.ok, run.error

            def stage(name: str = name, warm_start: bool = False) -> None:
                settings = EvalSettings(sandbox=name, warm=warm_start)
                evaluation = asyncio.run(evaluate_stage(problem, program, quick, settings))
                assert evaluation.ok, evaluation.error

            one_wall, one_cpu = _timed(candidate, args.repeats)
            if name == "process":
                forked_wall, forked_cpu = _through_a_zygote(candidate, args.repeats, work)
                if forked_wall:
                    print(
                        f"process candidate forked by a zygote: {_median_ms(forked_wall):.1f} ms,"
                        f" cpu {_median_ms(forked_cpu):.1f} ms (cold: {_median_ms(one_wall):.1f} ms,"
                        f" cpu {_median_ms(one_cpu):.1f} ms)"
                    )
            cold_wall, cold_cpu = _timed(stage, max(3, args.repeats // 2))
            warm_wall, warm_cpu = _timed(lambda name=name: stage(name, True), max(3, args.repeats // 2))
            warm.close_all()
            one = _median_ms(one_wall)
            print(
                f"{name:8} {one:8.1f} ms {one - baseline:8.1f} ms {_median_ms(cold_wall):8.1f} ms"
                f" {_median_ms(warm_wall):8.1f} ms {_median_ms(one_cpu):8.1f} ms"
                f" {_median_ms(cold_cpu):8.1f} ms {_median_ms(warm_cpu):8.1f} ms"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
