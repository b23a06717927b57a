"""Start-up of the commands a user types most: wall time, and the part of it spent importing.

    .venv/bin/python benchmarks/startup.py                 # this checkout's interpreter
    .venv/bin/python benchmarks/startup.py --python OTHER/.venv/bin/python --repeat 9

Each command runs as a fresh `python -X importtime -m adrs.cli ...` (what the `adrs` script does),
`--repeat` times; the table gives medians of wall time, of CPU time (user + system of the command
and of every process it waited for: on a shared machine the steadier figure) and of `imports`, the
sum of `-X importtime`'s self times, i.e. the start-up a lazy-import layout can remove. The
interpreter (`python -c pass`) is the floor no layout moves, measured in the same run as the
yardstick of the machine's load. eval and check include one evaluation of the `adrs init` skeleton
(a worker and a candidate process), status and show read a 5-evaluation archive made once. Whether
bytecode is compiled matters more than anything here: compile first, as the README's install does
(`python -m compileall -q -j0 adrs evaluators`, and site-packages), to measure a compiled install.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(python: str, args: list[str], cwd: Path) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, import seconds) of one run; raises if the command fails."""
    cpu_before = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(
        [python, "-X", "importtime", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "120"},
    )
    wall = time.perf_counter() - started
    cpu = _children_cpu() - cpu_before
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} exited {done.returncode}: {done.stdout[-500:]} {done.stderr[-2000:]}")
    imports_us = sum(
        int(line.split("|")[0].split(":")[1])
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and line.split("|")[0].split(":")[1].strip().isdigit()
    )
    return wall, cpu, imports_us / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="the interpreter whose adrs install to measure")
    parser.add_argument("--repeat", type=int, default=7)
    options = parser.parse_args()
    python = options.python
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        subprocess.run([python, "-m", "adrs.cli", "init", str(work / "toy")], check=True, capture_output=True)
        archive = work / "toy.sqlite"
        subprocess.run(
            [
                python,
                "-m",
                "adrs.cli",
                "run",
                str(work / "toy"),
                "--budget",
                "5",
                "--workers",
                "1",
                "--quiet",
                "--archive",
                str(archive),
            ],
            check=True,
            capture_output=True,
        )
        commands = {
            "interpreter (python -c pass)": ["-c", "pass"],
            "adrs --help": ["-m", "adrs.cli", "--help"],
            "adrs eval (skeleton)": ["-m", "adrs.cli", "eval", str(work / "toy"), str(work / "toy" / "initial.py")],
            "adrs check (skeleton)": ["-m", "adrs.cli", "check", str(work / "toy")],
            "adrs status": ["-m", "adrs.cli", "status", str(archive)],
            "adrs show 1": ["-m", "adrs.cli", "show", str(archive), "1"],
        }
        print(f"python {python}; load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} at start")
        print(f"| command | wall (median of {options.repeat}) | CPU | imports (-X importtime) |")
        print("|---|---|---|---|")
        for label, args in commands.items():
            runs = [_timed(python, args, work) for _ in range(options.repeat)]
            wall, cpu, imports = (statistics.median(r[i] for r in runs) for i in range(3))
            print(f"| {label} | {wall * 1000:.0f} ms | {cpu * 1000:.0f} ms | {imports * 1000:.0f} ms |")
        print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} at end")


if __name__ == "__main__":
    main()
