"""evaluators.kernel_bench: the verifier's rules, end to end and piece by piece (CPU).

End to end: run_bench on the fused_rmsnorm task with few cases and short timing, through the real
harness and sandboxed candidate processes. A wrong kernel, one that mutates an input, one that
returns its input, one that returns a cached tensor, one that calls the reference and one that
hangs are each rejected with a reason naming what they did; a patched timer is caught by the
wall-clock check. Pieces (in-process): safe tensor files, digests, comparison, aliasing, the
stability rule, GPU slots and limits.
"""

from __future__ import annotations

import pickle
import textwrap
import threading
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from adrs.problemkit import CandidateError  # noqa: E402
from evaluators.fused_rmsnorm import TASK  # noqa: E402
from evaluators.kernel_bench import Case, TimingSettings, candidate_limits, run_bench  # noqa: E402
from evaluators.kernel_bench.cases import Tolerance  # noqa: E402
from evaluators.kernel_bench.checks import aliasing_problem, overlaps  # noqa: E402
from evaluators.kernel_bench.compare import mismatch  # noqa: E402
from evaluators.kernel_bench.gpu_slot import SlotTimeout, slot  # noqa: E402
from evaluators.kernel_bench.tensorio import TensorFileError, load_tensors, save_tensors, tensor_digest  # noqa: E402
from evaluators.kernel_bench.timing import Series, paired_ratios  # noqa: E402

PROBLEM = Path(__file__).resolve().parents[2] / "problems" / "fused_rmsnorm"
CASES = [
    Case("size1", {"rows": 1, "hidden": 1}, "float32", "contiguous", (1, 2)),
    Case("strided_bf16", {"rows": 3, "hidden": 33}, "bfloat16", "strided", (3,)),
]
TIMED = [Case("small", {"rows": 16, "hidden": 1024}, "float32", "contiguous", (4,))]
FAST = TimingSettings(warmup=2, min_reps=5, max_reps=15, budget_s=0.3, flush_bytes=1 << 20, wall_block_s=0.06)

CORRECT = """
        def _correct(x, residual, weight, eps):
            h = x + residual
            hf = h.float()
            return (hf * torch.rsqrt(hf.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype) * weight, h
"""


def _bench(tmp_path: Path, body: str, timed=TIMED, timeout_s: float | None = None):
    program = tmp_path / "candidate.py"
    program.write_text("import torch\n\n" + textwrap.dedent(body))
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    limits = candidate_limits(PROBLEM, timeout_s=timeout_s)
    return run_bench(program, TASK, "fused_add_rmsnorm", CASES, timed, FAST, work, limits)


def _rejected(tmp_path: Path, body: str, **kwargs) -> CandidateError:
    with pytest.raises(CandidateError) as info:
        _bench(tmp_path, body, **kwargs)
    return info.value


# --- end to end -------------------------------------------------------------------------------


def test_correct_kernel_passes_and_is_timed_against_eager(tmp_path):
    report = _bench(
        tmp_path,
        CORRECT
        + """
        def fused_add_rmsnorm(x, residual, weight, eps):
            return _correct(x, residual, weight, eps)
    """,
    )
    (timing,) = report.timings
    assert report.device == "cpu"
    assert FAST.min_reps <= timing.reps <= FAST.max_reps
    assert timing.candidate_s > 0 and timing.eager_s > 0 and timing.compiled_s is None
    assert 0.3 < timing.speedup < 3.0  # the same code as the reference, paired per repetition
    assert timing.flag is None and timing.wall_speedup is not None
    assert timing.candidate_gbps > 0


def test_wrong_kernel_is_rejected_with_the_mismatch(tmp_path):
    error = _rejected(
        tmp_path,
        """
        def fused_add_rmsnorm(x, residual, weight, eps):
            h = x + residual
            hf = h.float()
            # bug: divides by the mean absolute value instead of the root mean square
            return (hf / (hf.abs().mean(-1, keepdim=True) + eps)).to(x.dtype) * weight, h
    """,
    )
    assert error.kind == "invalid_output"
    # hidden=1 cannot tell the two apart (both give sign(h) * weight); the bf16 strided case can.
    assert error.message.startswith("case strided_bf16 (rows=3xhidden=33, bfloat16, strided) seed 3: output 0:")
    assert "values outside tolerance (rtol=0.03, atol=0.03)" in error.message


def test_kernel_that_mutates_an_input_is_rejected(tmp_path):
    error = _rejected(
        tmp_path,
        CORRECT
        + """
        def fused_add_rmsnorm(x, residual, weight, eps):
            out, h = _correct(x, residual, weight, eps)
            residual.copy_(h)  # the vLLM in-place convention: not allowed here
            return out, h
    """,
    )
    assert error.kind == "invalid_output"
    assert "modified its input 'residual' in place" in error.message


def test_kernel_that_returns_its_input_is_rejected_as_aliasing(tmp_path):
    error = _rejected(
        tmp_path,
        CORRECT
        + """
        def fused_add_rmsnorm(x, residual, weight, eps):
            out, h = _correct(x, residual, weight, eps)
            x.copy_(h)
            return out, x
    """,
    )
    assert "output 1 aliases input 0" in error.message


def test_kernel_that_returns_a_cached_tensor_is_rejected(tmp_path):
    error = _rejected(
        tmp_path,
        CORRECT
        + """
        _CACHE = {}

        def fused_add_rmsnorm(x, residual, weight, eps):
            key = (tuple(x.shape), x.dtype)
            if key not in _CACHE:
                _CACHE[key] = _correct(x, residual, weight, eps)
            return _CACHE[key]
    """,
    )
    assert "case size1 (seed 2)" in error.message
    assert "a tensor returned by an earlier call (a cached result)" in error.message


def test_kernel_that_caches_only_while_timed_is_caught_on_fresh_inputs(tmp_path):
    """Correct on the correctness calls, then replays one result: fresh inputs per repetition expose it."""
    error = _rejected(
        tmp_path,
        CORRECT
        + """
        _calls = [0]
        _last = {}

        def fused_add_rmsnorm(x, residual, weight, eps):
            _calls[0] += 1
            if _calls[0] > 6 and "out" in _last:
                return _last["out"][0].clone(), _last["out"][1].clone()
            _last["out"] = _correct(x, residual, weight, eps)
            return _last["out"]
    """,
    )
    assert "result differs from the reference on fresh inputs" in error.message


def test_kernel_that_calls_the_reference_is_rejected(tmp_path):
    error = _rejected(
        tmp_path,
        """
        import sys

        def fused_add_rmsnorm(x, residual, weight, eps):
            return sys.modules["kernel_task"].reference(x, residual, weight, eps)
    """,
    )
    assert "called the reference implementation (kernel_task.reference)" in error.message


def test_kernel_that_hangs_times_out(tmp_path):
    error = _rejected(
        tmp_path,
        """
        import time

        def fused_add_rmsnorm(x, residual, weight, eps):
            time.sleep(3600)
    """,
        timeout_s=5,
    )
    assert error.kind == "timeout"
    assert "5 s wall-clock limit" in error.message


def test_patched_timer_is_flagged_and_scored_by_the_wall_clock(tmp_path):
    """A kernel 4x slower than eager that hides 95 % of its time from time.perf_counter_ns."""
    report = _bench(
        tmp_path,
        CORRECT
        + """
        import time

        _real = time.perf_counter_ns
        _hidden = [0]
        time.perf_counter_ns = lambda: _real() - _hidden[0]

        def fused_add_rmsnorm(x, residual, weight, eps):
            start = _real()
            for _ in range(3):
                _correct(x, residual, weight, eps)
            result = _correct(x, residual, weight, eps)
            _hidden[0] += int((_real() - start) * 0.95)
            return result
    """,
    )
    (timing,) = report.timings
    assert timing.claimed_speedup > 2.0  # what the patched clock says
    assert timing.flag is not None and "wall clock" in timing.flag
    assert timing.speedup < 1.0  # what the score uses: the kernel's file timestamps


# --- pieces (in-process) ----------------------------------------------------------------------


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_tensor_files_are_read_without_unpickling_objects(tmp_path):
    good = tmp_path / "good.pt"
    save_tensors(good, {"a": [torch.arange(6).reshape(2, 3).t()]})  # a non-contiguous view
    loaded = load_tensors(good, max_bytes=1 << 20)
    assert loaded["a"][0].is_contiguous() and loaded["a"][0].tolist() == [[0, 3], [1, 4], [2, 5]]
    evil = tmp_path / "evil.pt"
    torch.save({"a": [_Evil()]}, str(evil))
    with pytest.raises(TensorFileError, match="not a plain tensor file"):
        load_tensors(evil, max_bytes=1 << 20)
    raw = tmp_path / "raw.pt"
    raw.write_bytes(pickle.dumps({"a": [1]}, protocol=2))
    with pytest.raises(TensorFileError):
        load_tensors(raw, max_bytes=1 << 20)
    with pytest.raises(TensorFileError, match="more than"):
        load_tensors(good, max_bytes=10)
    with pytest.raises(TensorFileError, match="wrote no"):
        load_tensors(tmp_path / "missing.pt", max_bytes=10)
    torch.save({"a": torch.zeros(2)}, str(raw))
    with pytest.raises(TensorFileError, match="not a list of tensors"):
        load_tensors(raw, max_bytes=1 << 20)


def test_digests_see_any_change_and_ignore_layout():
    x = torch.randn(4, 5)
    assert tensor_digest(x) == tensor_digest(x.t().contiguous().t())
    y = x.clone()
    y[2, 3] = torch.nextafter(y[2, 3], torch.tensor(10.0))
    assert tensor_digest(x) != tensor_digest(y)
    assert tensor_digest(x) != tensor_digest(x.double())


def test_comparison_handles_tolerance_nan_shape_and_dtype():
    tol = Tolerance(rtol=1e-3, atol=1e-3)
    want = (torch.tensor([1.0, 2.0, float("inf")]),)
    assert mismatch((torch.tensor([1.0005, 2.0, float("inf")]),), want, tol) is None
    assert "1 of 3 values" in mismatch((torch.tensor([1.1, 2.0, float("inf")]),), want, tol)
    assert "1 of 3 values" in mismatch((torch.tensor([1.0, float("nan"), float("inf")]),), want, tol)
    assert "1 of 3 values" in mismatch((torch.tensor([1.0, 2.0, 5.0]),), want, tol)
    assert "shape" in mismatch((torch.zeros(2),), want, tol)
    assert "dtype float64, expected float32" in mismatch((want[0].double(),), want, tol)


def test_aliasing_sees_views_but_not_separate_tensors():
    base = torch.zeros(10)
    assert overlaps(base[2:5], base[4:8]) and not overlaps(base[:2].clone(), base)
    assert aliasing_problem((base[1:],), [base], [], "x") == (
        "output 0 aliases input 0 (it shares the input's storage); return a new tensor"
    )
    assert aliasing_problem((torch.zeros(3),), [base], [], "x") is None


def test_stability_needs_a_tight_median_interval():
    noisy = Series([1.0, 3.0, 0.5, 2.0, 1.5, 4.0, 0.7, 2.5])
    assert not noisy.is_stable(0.03, 5)
    steady = Series([1.0 + 0.001 * (i % 3) for i in range(30)])
    assert steady.is_stable(0.03, 5) and not Series([1.0, 1.0]).is_stable(0.03, 5)
    assert paired_ratios([2.0, 4.0, 9.0], [1.0, 2.0, 3.0]).median == 2.0


def test_gpu_slot_is_exclusive_per_device(tmp_path, monkeypatch):
    monkeypatch.setenv("ADRS_GPU_LOCK_DIR", str(tmp_path / "locks"))
    with slot(["gpu-0"]) as held:
        assert held == "gpu-0"
        with pytest.raises(SlotTimeout), slot(["gpu-0"], wait_s=0.2):
            pass
        with slot(["gpu-0", "gpu-1"], wait_s=1.0) as other:
            assert other == "gpu-1"
    released = threading.Event()

    def hold() -> None:
        with slot(["gpu-0"]):
            released.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.2)
    threading.Timer(0.3, released.set).start()
    started = time.monotonic()
    with slot(["gpu-0"], wait_s=5):  # waits for the holder, then gets the slot
        assert time.monotonic() - started >= 0.2
    holder.join()


def test_candidate_limits_come_from_problem_toml_or_the_engine(monkeypatch):
    monkeypatch.delenv("ADRS_CANDIDATE_MEMORY_MB", raising=False)
    monkeypatch.delenv("ADRS_CANDIDATE_TIMEOUT_S", raising=False)
    limits = candidate_limits(PROBLEM)
    assert limits.memory_mb == 8192 and limits.timeout_s == 240
    monkeypatch.setenv("ADRS_CANDIDATE_MEMORY_MB", "12000")
    assert candidate_limits(PROBLEM, timeout_s=5).memory_mb == 12000
    assert candidate_limits(PROBLEM, timeout_s=5).timeout_s == 5
