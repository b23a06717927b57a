"""Baseline: one Triton kernel per row block on a GPU (one read of x, residual, weight; one write of
out and h); on a machine without a GPU or without Triton it falls back to the PyTorch composition.

Each program normalises one row: it loads x and residual (any row stride; the hidden dimension
must have stride 1, else the row is made contiguous first), adds them in the input dtype, reduces
the sum of squares in float32, and writes h and out.
"""

import torch

# EVOLVE-BLOCK-START

try:
    import triton
    import triton.language as tl
except ImportError:  # CPU-only installs have no Triton
    triton = None


if triton is not None:

    @triton.jit
    def _add_rmsnorm_kernel(x_ptr, r_ptr, w_ptr, out_ptr, h_ptr, x_stride, r_stride, n_cols, eps, BLOCK: tl.constexpr):
        row = tl.program_id(0)
        cols = tl.arange(0, BLOCK)
        mask = cols < n_cols
        x = tl.load(x_ptr + row * x_stride + cols, mask=mask, other=0.0)
        r = tl.load(r_ptr + row * r_stride + cols, mask=mask, other=0.0)
        h = x + r  # rounded to the input dtype, like the reference's x + residual
        tl.store(h_ptr + row * n_cols + cols, h, mask=mask)
        hf = h.to(tl.float32)
        inv_rms = 1.0 / tl.sqrt(tl.sum(hf * hf, axis=0) / n_cols + eps)
        w = tl.load(w_ptr + cols, mask=mask, other=0.0)
        normed = (hf * inv_rms).to(x.dtype)
        tl.store(out_ptr + row * n_cols + cols, normed * w, mask=mask)


def _torch_path(x, residual, weight, eps):
    h = torch.add(x, residual)
    hf = h.float()
    norm = torch.linalg.vector_norm(hf, dim=-1, keepdim=True)
    inv_rms = norm.square_().div_(h.shape[-1]).add_(eps).rsqrt_()
    return torch.mul(hf, inv_rms).to(x.dtype).mul_(weight), h


def fused_add_rmsnorm(x: torch.Tensor, residual: torch.Tensor, weight: torch.Tensor, eps: float):
    hidden = x.shape[-1]
    if triton is None or not x.is_cuda or hidden > 65536 or x.numel() == 0:
        return _torch_path(x, residual, weight, eps)
    x2 = x.reshape(-1, hidden)  # a view when possible, a copy otherwise
    r2 = residual.reshape(-1, hidden)
    if x2.stride(-1) != 1:
        x2 = x2.contiguous()
    if r2.stride(-1) != 1:
        r2 = r2.contiguous()
    w = weight.contiguous()
    rows = x2.shape[0]
    out = torch.empty((rows, hidden), dtype=x.dtype, device=x.device)
    h = torch.empty((rows, hidden), dtype=x.dtype, device=x.device)
    block = triton.next_power_of_2(hidden)
    warps = min(max(block // 256, 1), 16)
    _add_rmsnorm_kernel[(rows,)](
        x2, r2, w, out, h, x2.stride(0), r2.stride(0), hidden, eps, BLOCK=block, num_warps=warps
    )
    return out.view(x.shape), h.view(x.shape)


# EVOLVE-BLOCK-END
