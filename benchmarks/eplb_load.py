"""Is the eplb score independent of machine load? Each program scored idle and with the cores busy.

    .venv/bin/python benchmarks/eplb_load.py                              # baseline + evolved-style, full
    .venv/bin/python benchmarks/eplb_load.py --programs a.py,b.py --loads 0,4 --repeats 3
    .venv/bin/python benchmarks/eplb_load.py --evaluator OLD/problems/eplb/evaluator.py  # another version

For every load L in --loads, L busy-loop processes (pure Python `while True`, like `stress -c L`)
run for the whole measurement; each program is evaluated --repeats times through the real
evaluator (sandboxed sessions, the trusted baseline beside it). The table gives the mean and the
spread (max - min) of the score, the time ratio to the baseline, and the mean balancedness. The
load average before and after is printed; the busy loops come on top of whatever else runs.

`--evaluator` scores with another version of problems/eplb/evaluator.py (e.g. an export of an
older commit: `git archive COMMIT | tar -x -C DIR`); that tree is put first on sys.path so its
evaluators.* modules are used too. The default programs are the DeepSeek baseline and the
evolved-style policy of tests/problems/test_eplb.py (1.5 s import, faster vectorised calls).
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "problems" / "eplb" / "baselines" / "deepseek_eplb.py"


def _busy() -> None:
    while True:
        pass


def load_evaluator(path: Path):
    tree = path.resolve().parents[2]
    if tree != ROOT:
        sys.path.insert(0, str(tree))
        for name in [n for n in sys.modules if n == "evaluators" or n.startswith("evaluators.")]:
            del sys.modules[name]
    spec = importlib.util.spec_from_file_location("eplb_evaluator_under_load", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def evolved_style_program(folder: Path) -> Path:
    sys.path.insert(0, str(ROOT))
    from tests.problems.test_eplb import EVOLVED_STYLE

    path = folder / "evolved_style.py"
    path.write_text(EVOLVED_STYLE)
    return path


def measure(evaluator, program: Path, stage: str, repeats: int) -> dict:
    scores, ratios, balance = [], [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as workdir:
            result = evaluator.evaluate(str(program), stage=stage, workdir=workdir)
        scores.append(result["score"])
        ratios.append(result["metrics"]["time_ratio"])
        balance.append(result["metrics"]["balancedness"])
    return {
        "score": statistics.mean(scores),
        "spread": max(scores) - min(scores),
        "ratio": statistics.mean(ratios),
        "ratio_spread": max(ratios) - min(ratios),
        "balance": statistics.mean(balance),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", help="comma-separated program files (default: baseline, evolved-style)")
    parser.add_argument("--loads", default="0,4", help="busy-loop processes per measurement, comma-separated")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--stage", default="full")
    parser.add_argument("--evaluator", type=Path, default=ROOT / "problems" / "eplb" / "evaluator.py")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="eplb-load-"))
    programs = (
        [Path(p) for p in args.programs.split(",")] if args.programs else [BASELINE, evolved_style_program(scratch)]
    )
    evaluator = load_evaluator(args.evaluator)
    print(
        f"evaluator {args.evaluator}, stage {args.stage}, cpus {os.cpu_count()}, "
        f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(f"{'program':24s} {'busy':>4s} {'score':>7s} {'spread':>6s} {'ratio':>6s} {'r spread':>8s} {'balance':>7s}")
    for load in (int(x) for x in args.loads.split(",")):
        loops = [multiprocessing.Process(target=_busy, daemon=True) for _ in range(load)]
        for loop in loops:
            loop.start()
        try:
            for program in programs:
                row = measure(evaluator, program, args.stage, args.repeats)
                print(
                    f"{program.name:24s} {load:4d} {row['score']:7.2f} {row['spread']:6.2f} {row['ratio']:6.3f} "
                    f"{row['ratio_spread']:8.3f} {row['balance']:7.4f}",
                    flush=True,
                )
        finally:
            for loop in loops:
                loop.kill()
                loop.join()
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
