"""Baseline: fewer memory passes with plain PyTorch (no custom kernel).

The sum of squares comes from one vector_norm reduction instead of pow + mean, and the scaling
steps reuse freshly allocated intermediates in place, so fewer temporaries are written and read.
Inputs are never written: every in-place op targets a tensor this function just created.
"""

import torch

# EVOLVE-BLOCK-START


def fused_add_rmsnorm(x: torch.Tensor, residual: torch.Tensor, weight: torch.Tensor, eps: float):
    h = torch.add(x, residual)
    hf = h.float()  # h itself when x is float32 (never written below)
    norm = torch.linalg.vector_norm(hf, dim=-1, keepdim=True)
    inv_rms = norm.square_().div_(h.shape[-1]).add_(eps).rsqrt_()
    out = torch.mul(hf, inv_rms).to(x.dtype)
    return out.mul_(weight), h


# EVOLVE-BLOCK-END
