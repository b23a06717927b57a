"""Trusted evaluator of sparse_attention: which keys should a decode query attend to?

The candidate's select_keys(step) sees each head's query and a cheap key index (a low-rank sketch
and per-page bounds) and returns key indices with weights; this evaluator computes the weighted
sparse attention output from the TRUE keys and values of the selected positions only and compares
it with dense attention (evaluators/sparse_attention/: workload.py, scoring.py). All cases of a
stage run in one sandboxed candidate process.

Stages (synthetic, fixed seeds; `seed` only seeds the candidate's sampling generator):
  quick   2 cases x 16 heads, 2048 and 4096 keys
  full    6 cases, 1024 .. 16384 keys (one not a multiple of the page size), three head mixes
  holdout 4 cases from other seeds and mixes, 2500 .. 20000 keys; never shown during evolution
With a data folder (--data / ADRS_DATA holding sparse_attention/decode_kv/*.npz) every stage uses
those dumps instead (quick: the first two).
Must not: import or call the candidate here, or show it keys or values.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from adrs.problemkit import INVALID_OUTPUT, CandidateError, find_data, run_candidate
from evaluators.kernel_bench import candidate_home, candidate_limits
from evaluators.kernel_bench.tensorio import TensorFileError, load_tensors
from evaluators.sparse_attention import scoring, workload

ROOT = Path(__file__).resolve().parent
DRIVER = ROOT / "driver.py"
MAX_FRACTION = 0.25
DEFAULT_MIX = (0.25, 0.25, 0.3, 0.2)  # sink_local, retrieval, mixed, diffuse
PEAKED_MIX = (0.4, 0.4, 0.2, 0.0)
FLAT_MIX = (0.1, 0.1, 0.3, 0.5)

S = workload.CaseSpec
STAGES = {
    "quick": [S("q2k", 16, 2048, 11, DEFAULT_MIX), S("q4k", 16, 4096, 12, DEFAULT_MIX)],
    "full": [
        S("f1k", 32, 1024, 21, DEFAULT_MIX),
        S("f2k_peaked", 32, 2048, 22, PEAKED_MIX),
        S("f3000", 32, 3000, 23, DEFAULT_MIX),
        S("f4k_flat", 32, 4096, 24, FLAT_MIX),
        S("f8k", 32, 8192, 25, DEFAULT_MIX),
        S("f16k", 16, 16384, 26, DEFAULT_MIX),
    ],
    "holdout": [
        S("h2500_flat", 32, 2500, 31, FLAT_MIX),
        S("h6000", 32, 6000, 32, DEFAULT_MIX),
        S("h12k_peaked", 24, 12288, 33, PEAKED_MIX),
        S("h20k", 16, 20000, 34, DEFAULT_MIX),
    ],
}


def stage_cases(stage: str, data_dir: str | None = None) -> list:
    if stage not in STAGES:
        raise ValueError(f"sparse_attention has no stage {stage!r}; stages: {sorted(STAGES)}")
    folder = find_data(data_dir, "sparse_attention", "decode_kv")
    if folder is not None:
        cases = workload.real_cases(folder / "decode_kv")
        return cases[:2] if stage == "quick" else cases
    return [workload.synthetic_case(spec) for spec in STAGES[stage]]


def evaluate(
    program_path: str,
    *,
    stage: str = "full",
    workdir: str | None = None,
    seed: int = 0,
    data_dir: str | None = None,
) -> dict:
    cases = stage_cases(stage, data_dir)
    base = Path(tempfile.mkdtemp(prefix="sparse-attention-", dir=workdir))
    inputs = base / "inputs.pt"
    torch.save({c.name: workload.candidate_view(c).tensors() for c in cases}, str(inputs))
    payload = {
        "seed": seed,
        "page_size": workload.PAGE_SIZE,
        "max_fraction": MAX_FRACTION,
        "cases": [{"name": c.name, "keys": c.keys} for c in cases],
    }
    run_dir = base / "run"
    run = run_candidate(program_path, DRIVER, payload, limits=candidate_limits(ROOT), workdir=run_dir, files=[inputs])
    value = run.raise_for_failure()
    if not isinstance(value, dict) or "error" in value:
        message = value.get("error") if isinstance(value, dict) else None
        raise CandidateError(INVALID_OUTPUT, str(message or "the driver's report is malformed"))
    try:
        selections = load_tensors(candidate_home(run_dir) / "selection.pt", max_bytes=256 << 20)
    except TensorFileError as exc:
        raise CandidateError(INVALID_OUTPUT, str(exc)) from None
    result = _score(cases, selections)
    result["metrics"]["candidate_wall_s"] = run.wall_s
    return result


def _score(cases: list, selections: dict) -> dict:
    errors, fractions, sampled, kinds, lines = [], [], [], [], []
    for case in cases:
        pair = selections.get(case.name)
        if pair is None or len(pair) != 2:
            raise CandidateError(INVALID_OUTPUT, f"case {case.name}: no (indices, weights) saved")
        try:
            dense = scoring.dense_weights(pair[0], pair[1], case.heads, case.keys, case.name)
        except scoring.SelectionError as exc:
            raise CandidateError(INVALID_OUTPUT, str(exc)) from None
        heads = scoring.evaluate_heads(case.q, case.k, case.v, dense)
        fraction = heads.keys_read.double() / case.keys
        if float(fraction.mean()) > MAX_FRACTION + 1e-9:
            raise CandidateError(
                INVALID_OUTPUT,
                f"case {case.name}: reads {float(fraction.mean()):.3f} of the keys "
                f"on average over heads, over the budget of {MAX_FRACTION}",
            )
        errors.append(heads.errors)
        fractions.append(fraction)
        sampled.append(heads.sampled_read.double() / heads.keys_read.double())
        kinds.extend(case.kinds)
        lines.append(
            f"{case.name}: {case.heads} heads x {case.keys} keys, mean error {float(heads.errors.mean()):.4f}, "
            f"worst {float(heads.errors.max()):.4f}, keys read {float(fraction.mean()):.3f}"
        )
    error = torch.cat(errors)
    mean_error, p95_error = float(error.mean()), scoring.p95(error)
    keys_fraction = float(torch.cat(fractions).mean())
    metrics = {
        "error": scoring.combined_error(mean_error, p95_error),
        "error_mean": mean_error,
        "error_p95": p95_error,
        "error_max": float(error.max()),
        "keys_fraction": keys_fraction,
        "sampled_share": float(torch.cat(sampled).mean()),
    }
    for kind in sorted(set(kinds)):
        chosen = [e for e, k in zip(error.tolist(), kinds, strict=True) if k == kind]
        metrics[f"error_{kind}"] = sum(chosen) / len(chosen)
        lines.append(f"{kind} heads ({len(chosen)}): mean error {metrics[f'error_{kind}']:.4f}")
    return {
        "score": scoring.score(mean_error, p95_error, keys_fraction),
        "metrics": metrics,
        "features": {"keys_fraction": keys_fraction, "sampled_share": metrics["sampled_share"]},
        "feedback": "\n".join(lines),
    }
