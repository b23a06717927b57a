"""Baseline: vAttention-style hybrid with a fixed budget: sink tokens, a recency window and top-k by
approximate score are attended exactly (weight 1); the rest of the 10 % budget is a uniform sample
of the remaining keys, each weighted (remaining keys / samples) so the tail's mass is estimated.

vAttention (arXiv 2510.05688) also sizes the sample per head from an (epsilon, delta) bound; this
baseline keeps the sample size fixed.
"""

import math

import torch

# EVOLVE-BLOCK-START

FRACTION = 0.10
SINKS = 4
WINDOW = 32
TOP_FRACTION = 0.04


def approximate_scores(step):
    projected_query = torch.einsum("hd,hdr->hr", step.query, step.projection)
    sketch = step.sketch.float()
    return torch.einsum("hr,hnr->hn", projected_query, sketch) / math.sqrt(step.query.shape[-1])


def select_keys(step):
    n = step.n_keys
    heads = step.query.shape[0]
    budget = max(1, int(FRACTION * n))
    scores = approximate_scores(step)
    fixed = torch.zeros(heads, n, dtype=torch.bool)
    fixed[:, : min(SINKS, n)] = True
    fixed[:, max(0, n - WINDOW) :] = True
    top = max(0, min(int(TOP_FRACTION * n), budget - int(fixed[0].sum())))
    if top:
        fixed.scatter_(1, scores.masked_fill(fixed, -math.inf).topk(top, dim=-1).indices, True)
    rows_idx, rows_w = [], []
    for h in range(heads):
        exact = torch.nonzero(fixed[h]).flatten()
        rest = torch.nonzero(~fixed[h]).flatten()
        samples = min(len(rest), max(0, budget - len(exact)))
        chosen = rest[torch.randperm(len(rest), generator=step.generator)[:samples]]
        rows_idx.append(torch.cat([exact, chosen]))
        rows_w.append(torch.cat([torch.ones(len(exact)), torch.full((samples,), len(rest) / max(samples, 1))]))
    width = max(len(r) for r in rows_idx)
    indices = torch.full((heads, width), -1, dtype=torch.long)
    weights = torch.ones(heads, width)
    for h, (idx, w) in enumerate(zip(rows_idx, rows_w, strict=True)):
        indices[h, : len(idx)] = idx
        weights[h, : len(w)] = w
    return indices, weights


# EVOLVE-BLOCK-END
