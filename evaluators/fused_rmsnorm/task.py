"""The fused add + RMSNorm task: deterministic inputs and the eager PyTorch reference.

Trusted. Loaded by the evaluator (to recompute references) and, copied into the candidate's folder,
by the kernel-bench driver (to build the candidate's inputs and time the reference there). The
reference is the decoder-layer pattern of Llama-style models (vLLM's fused_add_rms_norm, without
its in-place updates):

    h   = x + residual                              (in the input dtype)
    out = (h.float() * rsqrt(mean(h.float()**2, -1) + eps)).to(dtype) * weight

Must not: depend on anything but torch and the case record.
"""

from __future__ import annotations

import math
from typing import Any

import torch

INPUT_NAMES = ["x", "residual", "weight", "eps"]
OUTPUT_COUNT = 2
EPS = 1e-6

_DTYPES = {
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float64": torch.float64,
}


def reference(x: torch.Tensor, residual: torch.Tensor, weight: torch.Tensor, eps: float):
    h = x + residual
    hf = h.float()
    inv_rms = torch.rsqrt(hf.pow(2).mean(-1, keepdim=True) + eps)
    return (hf * inv_rms).to(x.dtype) * weight, h


def leading_shape(dims: dict[str, int]) -> tuple[int, ...]:
    if "rows" in dims:
        return (dims["rows"],)
    return (dims["batch"], dims["seq"])


def make_inputs(case: Any, seed: int, device: Any) -> list[Any]:
    """x and residual with the case's layout, a contiguous weight near 1, and eps."""
    device = torch.device(device)
    dtype = _DTYPES[case.dtype]
    shape = (*leading_shape(case.dims), case.dims["hidden"])
    # The exact device (not just "cuda"): both sides must draw the same numbers on the same GPU.
    gen = torch.Generator(device=device if device.type == "cuda" else "cpu").manual_seed(seed)
    x = _with_layout(shape, case.layout, dtype, device, gen)
    residual = _with_layout(shape, case.layout, dtype, device, gen)
    weight = (1.0 + 0.1 * torch.randn(shape[-1], generator=gen, device=gen.device)).to(device=device, dtype=dtype)
    return [x, residual, weight, EPS]


def _with_layout(shape: tuple[int, ...], layout: str, dtype, device, gen) -> torch.Tensor:
    """A tensor of `shape` whose memory layout is the case's: a view of a larger or permuted buffer."""

    def noise(*size: int) -> torch.Tensor:
        return torch.randn(*size, generator=gen, device=gen.device).to(device=device, dtype=dtype)

    if layout == "contiguous":
        return noise(*shape)
    if layout == "strided":  # every other element of the hidden dimension: stride 2 on the last dim
        return noise(*shape[:-1], 2 * shape[-1])[..., ::2]
    if layout == "transposed":  # hidden is the slowest dimension in memory
        buffer = noise(shape[-1], *shape[:-1])
        return buffer.permute(*range(1, len(shape)), 0)
    if layout == "offset":  # starts 3 elements into its storage: misaligned for vector loads
        flat = noise(math.prod(shape) + 3)
        return flat[3:].view(shape)
    raise ValueError(f"unknown layout {layout!r}")


def bytes_moved(case: Any) -> int:
    """Reads x, residual, weight; writes out and h: what a perfectly fused kernel moves."""
    rows = math.prod(leading_shape(case.dims))
    hidden = case.dims["hidden"]
    return (4 * rows * hidden + hidden) * _DTYPES[case.dtype].itemsize
