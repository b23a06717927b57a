"""What one evaluation stage of a built-in problem costs, and what joining a pids cgroup costs.

    .venv/bin/python benchmarks/stage_cost.py stages [--problem problems/prism] [--repeats 12]
    ADRS_NO_PRELOAD=1 .venv/bin/python benchmarks/stage_cost.py stages      # numpy not preloaded
    .venv/bin/python benchmarks/stage_cost.py join [--repeats 20]

`stages`: each evolution stage of the problem's initial program, evaluated `--repeats` times the way
the engine evaluates it (`evaluate_stage`, warm workers, candidates forked by the zygote where
`process` confines them); medians after two warm-ups of the wall time and of the CPU time of this
process, the warm server, its workers, its candidate zygote and the candidates (from /proc while
the server lives: warm.servers_cpu_s). Prints the score, so a changed figure is not a changed
evaluation.

`join`: a forked child moves itself into a fresh pids cgroup, as each worker and each confined
candidate does, once by writing its pid to `cgroup.procs` (the kernel takes the global threadgroup
lock, whose write side waits for an RCU grace period) and once by writing 0 to `tasks` (what
adrs/sandbox/cgroup.py does for a single-threaded process: its one thread moves without that
lock). The joins are 50 ms apart, as a run's are (back-to-back joins share one grace period and
hide the cost). Medians and maxima in milliseconds of wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adrs.evaluate import warm  # noqa: E402
from adrs.evaluate.runner import EvalSettings, evaluate_stage  # noqa: E402
from adrs.problem import load_problem  # noqa: E402
from adrs.sandbox.cgroup import PidsCgroup, pids_cgroup_available  # noqa: E402


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime + warm.servers_cpu_s()


def stages(problem_dir: Path, repeats: int) -> None:
    problem = load_problem(problem_dir)
    program = problem.initial_path
    toggles = " ".join(f"{name}={os.environ.get(name, '')!r}" for name in ("ADRS_NO_PRELOAD", "ADRS_NO_ZYGOTE"))
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{problem.name}, {repeats} evaluations per stage (medians after 2 warm-ups); {toggles}; load average {load}")
    for stage in problem.evolution_stages:
        walls, cpus = [], []
        for _ in range(repeats + 2):
            cpu, began = _cpu_s(), time.perf_counter()
            evaluation = asyncio.run(evaluate_stage(problem, program, stage, EvalSettings()))
            walls.append(time.perf_counter() - began)
            cpus.append(_cpu_s() - cpu)
            if not evaluation.ok:
                raise SystemExit(f"stage {stage.name}: {evaluation.error}")
        print(f"  {stage.name:8s} wall {statistics.median(walls[2:]) * 1e3:6.1f} ms   "
              f"CPU {statistics.median(cpus[2:]) * 1e3:6.1f} ms   score {evaluation.score:.4f}")  # fmt: skip
    warm.close_all()


def _join_once(how: str) -> float:
    group = PidsCgroup.create(64)
    assert group is not None
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        began = time.perf_counter()
        if how == "cgroup.procs":
            (group.path / "cgroup.procs").write_text(str(os.getpid()))
        else:
            (group.path / "tasks").write_text("0")
        os.write(write_end, json.dumps(time.perf_counter() - began).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as reader:
        seconds = json.loads(reader.read())
    os.waitpid(pid, 0)
    group.remove()
    return seconds


def join(repeats: int) -> None:
    if not pids_cgroup_available():
        raise SystemExit("no writable pids cgroup here (root and /sys/fs/cgroup/pids needed)")
    print(f"joining a pids cgroup, {repeats} forked children per way, 50 ms apart; "
          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")  # fmt: skip
    for how in ("cgroup.procs", "tasks 0"):
        samples = []
        for _ in range(repeats):
            samples.append(_join_once(how))
            time.sleep(0.05)
        print(f"  {how:13s} median {statistics.median(samples) * 1e3:5.2f} ms   max {max(samples) * 1e3:5.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    staged = sub.add_parser("stages")
    staged.add_argument("--problem", type=Path, default=ROOT / "problems" / "prism")
    staged.add_argument("--repeats", type=int, default=12)
    joined = sub.add_parser("join")
    joined.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    if args.command == "stages":
        stages(args.problem, args.repeats)
    else:
        join(args.repeats)


if __name__ == "__main__":
    main()
