"""Figures for the kernel problems: every baseline of fused_rmsnorm and sparse_attention, evaluated
through the real evaluators, harness and sandboxed candidate processes.

    .venv/bin/python benchmarks/kernels.py                       # quick stage of both problems
    .venv/bin/python benchmarks/kernels.py --stage full --stage holdout --json out.json
    .venv/bin/python benchmarks/kernels.py --problem sparse_attention --stage full

Prints one markdown table per problem and stage: score, the objectives (speedup over eager and
over torch.compile; error mean / p95 and keys fraction), the evaluation's wall time measured here,
and the candidate process's wall time. The machine's load average is printed too: on a shared CPU,
absolute kernel times are inflated and noisy; the speedups are paired ratios measured in one process.

Must not: change any problem file; it only calls evaluate().
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS = ("fused_rmsnorm", "sparse_attention")


def load_evaluator(problem: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"{problem}_evaluator_bench", ROOT / "problems" / problem / "evaluator.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def programs(problem: str) -> list[Path]:
    folder = ROOT / "problems" / problem
    return [folder / "initial.py", *sorted((folder / "baselines").glob("*.py"))]


def measure(evaluator: ModuleType, program: Path, stage: str, seed: int) -> dict[str, Any]:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kernels-bench-") as work:
        result = evaluator.evaluate(str(program), stage=stage, workdir=work, seed=seed)
    result["eval_wall_s"] = time.perf_counter() - started
    return result


def fused_row(name: str, r: dict[str, Any]) -> str:
    m = r["metrics"]
    cases = [k.removesuffix("_candidate_us") for k in m if k.endswith("_candidate_us")]
    per_case = ", ".join(f"{c} {m[f'{c}_speedup']:.2f}x ({m[f'{c}_candidate_us']:.0f} us)" for c in cases)
    compile_ratio = f"{m['speedup_vs_compile']:.2f}" if "speedup_vs_compile" in m else "n/a"
    return (
        f"| {name} | {r['score']:.3f} | {m['worst_speedup']:.3f} | {compile_ratio} | {per_case} "
        f"| {int(m['flagged_cases'])} | {r['eval_wall_s']:.1f} | {m['candidate_wall_s']:.1f} |"
    )


def sparse_row(name: str, r: dict[str, Any]) -> str:
    m = r["metrics"]
    return (
        f"| {name} | {r['score']:.2f} | {m['error_mean']:.4f} | {m['error_p95']:.4f} | {m['keys_fraction']:.3f} "
        f"| {m['sampled_share']:.2f} | {r['eval_wall_s']:.1f} | {m['candidate_wall_s']:.1f} |"
    )


HEADERS = {
    "fused_rmsnorm": "| program | score (geomean speedup vs eager) | worst case | vs torch.compile "
    "| per case: paired speedup (candidate median) "
    "| flagged | eval s | candidate s |\n|---|---|---|---|---|---|---|---|",
    "sparse_attention": "| program | score | error mean | error p95 | keys fraction | sampled share "
    "| eval s | candidate s |\n"
    "|---|---|---|---|---|---|---|---|",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", action="append", choices=PROBLEMS)
    parser.add_argument("--stage", action="append", choices=("quick", "full", "holdout"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write every raw result here")
    args = parser.parse_args(argv)
    problems = args.problem or list(PROBLEMS)
    stages = args.stage or ["quick"]
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; python {sys.version.split()[0]}")
    raw: dict[str, Any] = {}
    for problem in problems:
        evaluator = load_evaluator(problem)
        for stage in stages:
            print(f"\n### {problem}, stage {stage}\n\n{HEADERS[problem]}")
            for program in programs(problem):
                name = str(program.relative_to(ROOT / "problems" / problem))
                try:
                    result = measure(evaluator, program, stage, args.seed)
                except Exception as exc:  # noqa: BLE001 - a failing program is a row, not a crash
                    print(f"| {name} | failed: {type(exc).__name__}: {exc} |")
                    continue
                raw[f"{problem}/{stage}/{name}"] = result
                print(
                    fused_row(name, result) if problem == "fused_rmsnorm" else sparse_row(name, result),
                    flush=True,
                )
    if args.json:
        args.json.write_text(json.dumps(raw, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
