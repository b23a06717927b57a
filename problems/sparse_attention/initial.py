"""Sparse decode attention policy to evolve: choose which cached keys each head attends to.

select_keys(step) -> (indices, weights):
  step.query [H, d] float32          the decode query of each head (d = 64)
  step.sketch [H, n, r] float16      centred keys projected on the head's top-r principal directions
  step.projection [H, d, r] float32  those directions; q . k - const ~= (q @ projection) . sketch
  step.page_min / page_max [H, pages, d] float16   per-page (step.page_size keys) channel bounds
  step.n_keys, step.max_fraction (mean over heads of keys read / n_keys must stay <= it)
  step.generator                     a seeded torch.Generator for any sampling
  indices [H, k] integer tensor      key positions per head (-1 = padding, duplicates add up)
  weights [H, k] float tensor > 0    1 = attended exactly; w > 1 = a sample standing for w keys
The evaluator computes sum_i w_i exp(s_i) v_i / sum_i w_i exp(s_i) from the true keys and values
of the selected positions and compares it with dense attention. Objectives: low error (mean and
95th percentile over heads) and few keys read (the sketch and page bounds are free).

Initial policy: top-k by approximate score (the key sketch), a fixed 10 % of the keys, weight 1.

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
