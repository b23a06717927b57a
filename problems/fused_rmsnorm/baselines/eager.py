"""Baseline: the eager PyTorch composition, op for op (speedup about 1.0 by construction).

fused_add_rmsnorm(x, residual, weight, eps) -> (out, h) where
    h   = x + residual                                   (same dtype as x)
    out = (h.float() * rsqrt(mean(h.float()**2, -1) + eps)).to(x.dtype) * weight
x and residual have shape (..., hidden) and may be non-contiguous views; weight has shape (hidden,).
Return NEW tensors (never an input, never a tensor returned before) and leave the inputs unchanged.
PyTorch is available; on a GPU machine Triton may be used too (check torch.cuda.is_available()).
"""

import torch

# EVOLVE-BLOCK-START


def fused_add_rmsnorm(x: torch.Tensor, residual: torch.Tensor, weight: torch.Tensor, eps: float):
    h = x + residual
    hf = h.float()
    variance = hf.pow(2).mean(-1, keepdim=True)
    out = (hf * torch.rsqrt(variance + eps)).to(x.dtype) * weight
    return out, h


# EVOLVE-BLOCK-END
