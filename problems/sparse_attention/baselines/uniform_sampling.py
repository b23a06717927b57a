"""Baseline: uniform random sampling of 10 % of the keys, each weighted n / m.

The weighted estimator is (nearly) unbiased for numerator and denominator of softmax attention,
so it shines on flat heads and fails on peaked ones (it misses the few keys that matter).
"""

import torch

# EVOLVE-BLOCK-START

FRACTION = 0.10


def select_keys(step):
    n = step.n_keys
    count = max(1, int(FRACTION * n))
    heads = step.query.shape[0]
    indices = torch.stack([torch.randperm(n, generator=step.generator)[:count] for _ in range(heads)])
    weights = torch.full(indices.shape, n / count, dtype=torch.float32)
    return indices, weights


# EVOLVE-BLOCK-END
