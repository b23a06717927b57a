"""Scoring a sparse-attention selection: validation, the sparse estimate, errors, keys read, score.

Trusted; runs only in the evaluator. A selection is, per head, key indices and positive weights
(padding: index -1). Duplicate indices add their weights. The estimate of the attention output is

    o_hat = sum_i W_i exp(s_i) v_i / sum_i W_i exp(s_i),      s_i = q.k_i / sqrt(d)

computed HERE from the true keys and values of the selected positions only (weight 1 = a key
attended exactly, weight > 1 = a sampled key standing for others, as in vAttention's estimator).
Error per head = ||o_hat - o|| / ||o|| against dense attention; keys fraction = distinct keys
read / keys. The scalar score (higher is better) trades one against the other:

    score = 100 * exp(-(mean_error + p95_error) / 2 / ERROR_SCALE - keys_fraction / KEYS_SCALE)

i.e. 100 * exp(-(combined error + keys fraction) / 0.2): lowering the combined error by 0.1 is
worth as much as reading 10 % fewer keys, and each such step multiplies the score by e^-0.5.

Must not: trust the candidate's tensors' shapes, dtypes or values without checking them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

ERROR_SCALE = 0.20
KEYS_SCALE = 0.20


class SelectionError(ValueError):
    """A selection that breaks the rules; the message says which rule, for which head."""


@dataclass
class HeadResult:
    errors: torch.Tensor  # [H] relative L2 error per head
    keys_read: torch.Tensor  # [H] distinct keys read per head
    sampled_read: torch.Tensor  # [H] distinct keys read with a weight above 1 (sampled)


def dense_weights(indices: torch.Tensor, weights: torch.Tensor, heads: int, keys: int, case: str) -> torch.Tensor:
    """[H, n] weights from the padded (indices, weights) pair, or SelectionError."""
    where = f"case {case}"
    if indices.dtype not in (torch.int64, torch.int32, torch.int16):
        raise SelectionError(f"{where}: indices must be an integer tensor, got {indices.dtype}")
    if not weights.is_floating_point():
        raise SelectionError(f"{where}: weights must be a floating tensor, got {weights.dtype}")
    if indices.dim() != 2 or indices.shape[0] != heads or indices.shape[1] > 4 * keys:
        raise SelectionError(
            f"{where}: indices must have shape [{heads}, k] with k <= {4 * keys}, got {tuple(indices.shape)}"
        )
    if weights.shape != indices.shape:
        raise SelectionError(
            f"{where}: weights shape {tuple(weights.shape)} differs from indices {tuple(indices.shape)}"
        )
    idx = indices.long()
    used = idx >= 0
    if bool((idx < -1).any()) or bool((idx >= keys).any()):
        raise SelectionError(f"{where}: indices must lie in [0, {keys}) (or be -1 for padding)")
    w = weights.double()
    if bool((used & ~torch.isfinite(w)).any()) or bool((used & (w <= 0)).any()):
        raise SelectionError(f"{where}: every selected key needs a finite weight > 0")
    dense = torch.zeros(heads, keys, dtype=torch.float64)
    dense.scatter_add_(1, idx.clamp(min=0), torch.where(used, w, torch.zeros_like(w)))
    empty = (dense > 0).sum(dim=1) == 0
    if bool(empty.any()):
        raise SelectionError(f"{where}: head {int(torch.nonzero(empty)[0])} selects no key")
    return dense


def evaluate_heads(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, dense: torch.Tensor) -> HeadResult:
    """Errors of the weighted sparse estimate against dense attention, per head."""
    d = q.shape[-1]
    qd, kd, vd = q.double(), k.double(), v.double()
    scores = torch.einsum("hd,hnd->hn", qd, kd) / math.sqrt(d)
    exact = torch.einsum("hn,hnd->hd", torch.softmax(scores, dim=-1), vd)
    logits = torch.where(dense > 0, scores + torch.log(dense.clamp(min=1e-300)), torch.full_like(scores, -math.inf))
    approx = torch.einsum("hn,hnd->hd", torch.softmax(logits, dim=-1), vd)
    errors = (approx - exact).norm(dim=-1) / exact.norm(dim=-1).clamp(min=1e-12)
    read = dense > 0
    return HeadResult(errors=errors, keys_read=read.sum(dim=1), sampled_read=(dense > 1.0 + 1e-9).sum(dim=1))


def combined_error(mean_error: float, p95_error: float) -> float:
    return 0.5 * (mean_error + p95_error)


def score(mean_error: float, p95_error: float, keys_fraction: float) -> float:
    exponent = combined_error(mean_error, p95_error) / ERROR_SCALE + keys_fraction / KEYS_SCALE
    return 100.0 * math.exp(-exponent)


def p95(values: torch.Tensor) -> float:
    return float(torch.quantile(values.double(), 0.95))
