"""Trusted evaluator of fused_rmsnorm: correctness on awkward shapes, then speedup over eager PyTorch.

One sandboxed candidate process per evaluation (evaluators.kernel_bench.run_bench): correctness on
every case and seed below (odd sizes, size 1, 3-D, non-contiguous and misaligned views; float32,
float16, bfloat16), then timing on the stage's timed cases against the eager reference (and
torch.compile of it in the full and holdout stages). The score is the geometric mean over timed
cases of eager time / candidate time; any incorrect result, in-place change of an input, aliased
or cached output, or call of the reference rejects the candidate (CandidateError invalid_output).

Seeds: the cases are fixed; the input values come from seeds derived from ("fused_rmsnorm", stage,
`seed`, case, index), so a kernel cannot be fitted to one fixed set of numbers.
Must not: import or call the candidate here.
"""

from __future__ import annotations

from pathlib import Path

import torch

from evaluators.fused_rmsnorm import TASK
from evaluators.kernel_bench import Case, TimingSettings, candidate_limits, derive_seed, run_bench

ROOT = Path(__file__).resolve().parent
ENTRY = "fused_add_rmsnorm"
STAGES = ("quick", "full", "holdout")

# (name, dims, dtype, layout): every stage checks all of these before timing anything.
CORRECTNESS = [
    ("size1", {"rows": 1, "hidden": 1}, "float32", "contiguous"),
    ("odd", {"rows": 3, "hidden": 1023}, "float32", "contiguous"),
    ("strided", {"rows": 5, "hidden": 257}, "float32", "strided"),
    ("transposed", {"rows": 7, "hidden": 64}, "float32", "transposed"),
    ("offset_bf16", {"rows": 4, "hidden": 513}, "bfloat16", "offset"),
    ("batch3d_bf16", {"batch": 2, "seq": 3, "hidden": 96}, "bfloat16", "contiguous"),
    ("fp16_wide", {"rows": 2, "hidden": 4099}, "float16", "contiguous"),
]
HOLDOUT_EXTRA = [
    ("holdout_strided_bf16", {"batch": 3, "seq": 5, "hidden": 1537}, "bfloat16", "strided"),
    ("holdout_t_fp16", {"rows": 9, "hidden": 320}, "float16", "transposed"),
]

# Timed cases: decode-like (few rows) and prefill-like (many rows) hidden states.
TIMED_CPU = {
    "quick": [
        ("decode", {"rows": 32, "hidden": 4096}, "float32"),
        ("prefill_bf16", {"rows": 256, "hidden": 2048}, "bfloat16"),
    ],
    "full": [
        ("decode", {"rows": 32, "hidden": 4096}, "float32"),
        ("prefill_bf16", {"rows": 256, "hidden": 2048}, "bfloat16"),
        ("prefill", {"rows": 512, "hidden": 4096}, "float32"),
        ("decode_bf16", {"rows": 8, "hidden": 8192}, "bfloat16"),
    ],
    "holdout": [
        ("h_decode", {"rows": 24, "hidden": 5120}, "float32"),
        ("h_prefill_bf16", {"batch": 4, "seq": 96, "hidden": 3072}, "bfloat16"),
    ],
}
TIMED_GPU = {
    "quick": [
        ("decode", {"rows": 64, "hidden": 4096}, "bfloat16"),
        ("prefill", {"rows": 8192, "hidden": 4096}, "bfloat16"),
    ],
    "full": [
        ("decode", {"rows": 64, "hidden": 4096}, "bfloat16"),
        ("prefill", {"rows": 8192, "hidden": 4096}, "bfloat16"),
        ("prefill_wide", {"rows": 4096, "hidden": 8192}, "bfloat16"),
        ("prefill_fp16", {"rows": 16384, "hidden": 2048}, "float16"),
        ("prefill_fp32", {"rows": 4096, "hidden": 4096}, "float32"),
    ],
    "holdout": [
        ("h_decode", {"rows": 48, "hidden": 5120}, "bfloat16"),
        ("h_prefill", {"batch": 8, "seq": 1000, "hidden": 5120}, "bfloat16"),
        ("h_prefill_fp16", {"rows": 6000, "hidden": 3072}, "float16"),
    ],
}


def stage_settings(stage: str, gpu: bool) -> TimingSettings:
    quick = stage == "quick"
    if gpu:
        return TimingSettings(
            warmup=5,
            min_reps=10,
            max_reps=100 if quick else 300,
            budget_s=2.0 if quick else 6.0,
            compile_reference=not quick,
            wall_block_s=0.05,
        )
    return TimingSettings(
        warmup=3,
        min_reps=5,
        max_reps=30 if quick else 60,
        budget_s=0.6 if quick else 3.0,
        compile_reference=not quick,
        wall_block_s=0.08 if quick else 0.15,
    )


def stage_cases(stage: str, seed: int, gpu: bool) -> tuple[list[Case], list[Case]]:
    if stage not in STAGES:
        raise ValueError(f"fused_rmsnorm has no stage {stage!r}; stages: {STAGES}")
    rows = CORRECTNESS + (HOLDOUT_EXTRA if stage == "holdout" else [])
    seeds_per_case = 2
    cases = [
        Case(
            name,
            dict(dims),
            dtype,
            layout,
            tuple(derive_seed("fused_rmsnorm", stage, seed, name, i) for i in range(seeds_per_case)),
        )
        for name, dims, dtype, layout in rows
    ]
    timed = [
        Case(name, dict(dims), dtype, "contiguous", (derive_seed("fused_rmsnorm", stage, seed, name, "timed"),))
        for name, dims, dtype in (TIMED_GPU if gpu else TIMED_CPU)[stage]
    ]
    return cases, timed


def evaluate(program_path: str, *, stage: str = "full", workdir: str | None = None, seed: int = 0) -> dict:
    gpu = torch.cuda.is_available()
    cases, timed = stage_cases(stage, seed, gpu)
    report = run_bench(
        program_path, TASK, ENTRY, cases, timed, stage_settings(stage, gpu), workdir, candidate_limits(ROOT)
    )
    speedup = report.geomean("speedup") or 0.0
    metrics: dict[str, float] = {
        "speedup_vs_eager": speedup,
        "worst_speedup": min(t.speedup for t in report.timings),
        "flagged_cases": float(sum(1 for t in report.timings if t.flag)),
        "stable_fraction": sum(t.stable for t in report.timings) / len(report.timings),
        "candidate_wall_s": report.candidate_wall_s,
        "eval_s": report.eval_s,
    }
    vs_compiled = report.geomean("speedup_vs_compiled")
    if vs_compiled is not None:
        metrics["speedup_vs_compile"] = vs_compiled
    feedback = [f"device {report.device}; all {sum(len(c.seeds) for c in cases)} correctness checks passed"]
    for t in report.timings:
        metrics[f"{t.name}_candidate_us"] = t.candidate_s * 1e6
        metrics[f"{t.name}_eager_us"] = t.eager_s * 1e6
        metrics[f"{t.name}_speedup"] = t.speedup
        line = (
            f"{t.name}: candidate {t.candidate_s * 1e6:.1f} us, eager {t.eager_s * 1e6:.1f} us, "
            f"speedup {t.speedup:.3f}x"
        )
        if t.compiled_s is not None:
            metrics[f"{t.name}_compiled_us"] = t.compiled_s * 1e6
            line += f", torch.compile {t.compiled_s * 1e6:.1f} us"
        if t.candidate_gbps is not None:
            line += f", {t.candidate_gbps:.1f} GB/s"
        if t.flag:
            line += f" [timing flagged: {t.flag}; scored with the wall-clock figure]"
        feedback.append(line)
    feedback.extend(report.notes)
    return {
        "score": speedup,
        "metrics": metrics,
        "features": {"worst_speedup": metrics["worst_speedup"]},
        "feedback": "\n".join(feedback),
    }
