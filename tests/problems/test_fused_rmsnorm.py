"""fused_rmsnorm through the real evaluator, harness and sandboxed candidate processes (CPU).

The baselines pass every correctness case and get a speedup figure measured against eager PyTorch
in the same process. The verifier's rejections (wrong, mutating, aliasing, cached, reference-calling,
hanging kernels, patched timers) are tested in test_kernel_bench.py on this problem's task.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

torch = pytest.importorskip("torch")

from adrs.problem import load_problem  # noqa: E402
from adrs.problemkit import CandidateError  # noqa: E402

PROBLEM = Path(__file__).resolve().parents[2] / "problems" / "fused_rmsnorm"


from tests.problems.helpers import load_module as _load  # noqa: E402


@pytest.fixture(scope="module")
def evaluator() -> ModuleType:
    return _load(PROBLEM / "evaluator.py", "fused_rmsnorm_evaluator")


def _evaluate(evaluator: ModuleType, program: Path, tmp_path: Path, stage: str = "quick") -> dict:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return evaluator.evaluate(str(program), stage=stage, workdir=str(work))


def test_problem_directory_is_valid():
    problem = load_problem(PROBLEM)
    assert [s.name for s in problem.stages] == ["quick", "full", "holdout"]
    assert problem.limits.candidate_memory_mb >= 8192
    assert problem.limits.memory_mb >= problem.limits.candidate_memory_mb
    assert {p.name for p in problem.baselines()} == {"eager.py", "torch_fused.py", "triton_fused.py"}


@pytest.mark.parametrize("program", ["initial.py", "baselines/torch_fused.py", "baselines/triton_fused.py"])
def test_baselines_pass_correctness_and_get_a_speedup(evaluator, tmp_path, program):
    result = _evaluate(evaluator, PROBLEM / program, tmp_path)
    metrics = result["metrics"]
    assert "all 14 correctness checks passed" in result["feedback"]
    assert 0.2 < result["score"] < 5.0  # a ratio to eager measured in the same process
    assert metrics["decode_eager_us"] > 0 and metrics["prefill_bf16_candidate_us"] > 0
    assert metrics["flagged_cases"] == 0
    assert result["features"]["worst_speedup"] <= result["score"] + 1e-9


def test_torch_import_needs_the_larger_address_space(evaluator, tmp_path, monkeypatch):
    monkeypatch.setenv("ADRS_CANDIDATE_MEMORY_MB", "600")
    with pytest.raises(CandidateError) as info:
        _evaluate(evaluator, PROBLEM / "initial.py", tmp_path)
    assert info.value.kind in {"memory", "import", "exception", "nonzero_exit"}


@pytest.mark.slow
def test_full_stage_times_torch_compile_too(evaluator, tmp_path):
    """Full stage: 4 timed shapes, torch.compile of the reference compiled (20-70 s on a loaded CPU)."""
    result = _evaluate(evaluator, PROBLEM / "baselines" / "torch_fused.py", tmp_path, stage="full")
    metrics = result["metrics"]
    assert "speedup_vs_compile" in metrics, result["feedback"]
    assert {"decode", "prefill_bf16", "prefill", "decode_bf16"} == {
        k.removesuffix("_compiled_us") for k in metrics if k.endswith("_compiled_us")
    }
    assert "unavailable" not in result["feedback"] and "failed" not in result["feedback"]
