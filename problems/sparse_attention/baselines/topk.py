"""Baseline: top-k by approximate score (the key sketch), a fixed 10 % of the keys, weight 1.

Approximate scores: (q @ projection) . sketch_i / sqrt(d), an unbiased but noisy estimate of
q . k_i / sqrt(d) from 16 random projections. Good when a few keys dominate; biased when the
attention is flat (the tail it drops carries real mass).
"""

import math

import torch

# EVOLVE-BLOCK-START

FRACTION = 0.10


def approximate_scores(step):
    projected_query = torch.einsum("hd,hdr->hr", step.query, step.projection)  # [H, r]
    sketch = step.sketch.float()  # [H, n, r]
    return torch.einsum("hr,hnr->hn", projected_query, sketch) / math.sqrt(step.query.shape[-1])


def select_keys(step):
    count = max(1, int(FRACTION * step.n_keys))
    indices = approximate_scores(step).topk(count, dim=-1).indices
    return indices, torch.ones(indices.shape, dtype=torch.float32)


# EVOLVE-BLOCK-END
