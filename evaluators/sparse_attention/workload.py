"""Decode-attention workloads: synthetic (seeded) or real query/key/value dumps, plus the cheap key
index (sketch and page bounds) that a sparse-attention policy may read for free.

Trusted; runs only in the evaluator. Synthetic heads are of four kinds seen in LLM decoding:
  sink_local  mass on the first tokens (attention sinks) and a recency window
  retrieval   a few planted keys that match the query strongly, over a moderate background
  mixed       Gaussian scores of moderate spread (a heavy head of top keys and a long tail)
  diffuse     nearly flat scores (top-k alone fails; sampling works)
Scores are q.k / sqrt(d). Values have a per-head mean (as real value vectors do), so ||output||
is not vanishingly small for flat heads.

Real data: `decode_kv.npz` (arrays q [H, d], k [H, n, d], v [H, n, d], float16/32) in the data
folder; each file named `*.npz` there is one case.

Must not: be shown to the candidate beyond `CandidateView` (q, sketch, projection, page bounds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

HEAD_DIM = 64
SKETCH_DIM = 16
PAGE_SIZE = 16
HEAD_KINDS = ("sink_local", "retrieval", "mixed", "diffuse")


@dataclass(frozen=True)
class CaseSpec:
    name: str
    heads: int
    keys: int
    seed: int
    mix: tuple[float, float, float, float]  # probabilities of HEAD_KINDS


@dataclass
class AttentionCase:
    """One decode step of several heads: everything the trusted side knows."""

    name: str
    q: torch.Tensor  # [H, d] float32
    k: torch.Tensor  # [H, n, d] float32
    v: torch.Tensor  # [H, n, d] float32
    kinds: list[str]
    seed: int  # seeds the index projection

    @property
    def heads(self) -> int:
        return self.q.shape[0]

    @property
    def keys(self) -> int:
        return self.k.shape[1]


def synthetic_case(spec: CaseSpec) -> AttentionCase:
    gen = torch.Generator().manual_seed(spec.seed)
    kinds_index = torch.multinomial(
        torch.tensor(spec.mix, dtype=torch.float64), spec.heads, replacement=True, generator=gen
    )
    qs, ks, vs, kinds = [], [], [], []
    for h in range(spec.heads):
        kind = HEAD_KINDS[int(kinds_index[h])]
        q, k, v = _head(kind, spec.keys, gen)
        qs.append(q)
        ks.append(k)
        vs.append(v)
        kinds.append(kind)
    return AttentionCase(spec.name, torch.stack(qs), torch.stack(ks), torch.stack(vs), kinds, spec.seed)


def _uniform(gen: torch.Generator, lo: float, hi: float) -> float:
    return lo + (hi - lo) * float(torch.rand((), generator=gen))


def _head(kind: str, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    d = HEAD_DIM
    # Keys: a shared mean plus a low-rank-ish spread (decaying spectrum), as measured in LLMs.
    basis, _ = torch.linalg.qr(torch.randn(d, d, generator=gen))
    scales = torch.arange(1, d + 1, dtype=torch.float32) ** -0.8
    scales *= math.sqrt(d / float((scales**2).sum()))
    key_mean = torch.randn(d, generator=gen) * 0.8
    spread = (torch.randn(n, d, generator=gen) * scales) @ basis.T
    # Query: a random direction, scaled so the background scores q.(k - mean)/sqrt(d) have std beta.
    beta = _uniform(gen, *BACKGROUND_SPREAD[kind])
    q = torch.randn(d, generator=gen)
    q *= beta * math.sqrt(d) / float(((basis.T @ q) * scales).norm())
    boost = _boosts(kind, n, gen)  # extra score of chosen positions, added along the query direction
    k = key_mean + spread + (boost * math.sqrt(d) / float(q.norm())).unsqueeze(1) * (q / q.norm())
    # Values correlate with keys (both are projections of the same hidden state), plus a mean.
    mixing = torch.randn(d, d, generator=gen) / math.sqrt(d)
    value_mean = torch.randn(d, generator=gen)
    v = value_mean + 0.5 * (k - key_mean) @ mixing.T + 0.7 * torch.randn(n, d, generator=gen)
    return q, k, v


BACKGROUND_SPREAD = {
    "sink_local": (1.0, 2.0),
    "retrieval": (1.0, 1.8),
    "mixed": (1.8, 2.6),
    "diffuse": (0.2, 0.8),
}


def _boosts(kind: str, n: int, gen: torch.Generator) -> torch.Tensor:
    boost = torch.zeros(n)
    if kind == "sink_local":
        sinks = min(n, 1 + int(torch.randint(0, 4, (), generator=gen)))
        boost[:sinks] = _uniform(gen, 6.0, 9.0)
        window = min(n, int(torch.randint(16, 128, (), generator=gen)))
        distance = torch.arange(window, dtype=torch.float32).flip(0)
        boost[n - window :] += _uniform(gen, 3.0, 6.0) * torch.exp(-distance / (window / 3))
    elif kind == "retrieval":
        planted = torch.randperm(n, generator=gen)[: int(torch.randint(2, 12, (), generator=gen))]
        boost[planted] = 7.0 + 4.0 * torch.rand(len(planted), generator=gen)
        boost[0] = _uniform(gen, 3.0, 6.0)
    elif kind == "mixed":
        boost[0] = _uniform(gen, 2.0, 5.0)
    return boost


def real_cases(folder: Path) -> list[AttentionCase]:
    """Every *.npz in `folder` with arrays q [H, d], k [H, n, d], v [H, n, d]."""
    cases = []
    for i, path in enumerate(sorted(folder.glob("*.npz"))):
        with np.load(path, allow_pickle=False) as data:
            q, k, v = (torch.from_numpy(np.asarray(data[name], dtype=np.float32)) for name in ("q", "k", "v"))
        heads, n, d = k.shape
        if q.shape != (heads, d) or v.shape != (heads, n, d):
            raise ValueError(f"{path}: expected q [H, d], k and v [H, n, d]; got {q.shape}, {k.shape}, {v.shape}")
        cases.append(AttentionCase(path.stem, q, k, v, ["real"] * heads, seed=1000 + i))
    if not cases:
        raise FileNotFoundError(f"{folder} holds no *.npz decode dumps")
    return cases


@dataclass
class CandidateView:
    """What the policy may read without it counting as keys read: the query and a cheap index."""

    query: torch.Tensor  # [H, d] float32
    sketch: torch.Tensor  # [H, n, r] float16: centred keys times the projection
    projection: torch.Tensor  # [H, d, r] float32: each head's top-r principal directions of its keys
    page_min: torch.Tensor  # [H, pages, d] float16: per-page, per-channel key minimum
    page_max: torch.Tensor  # [H, pages, d] float16

    def tensors(self) -> list[torch.Tensor]:
        return [self.query, self.sketch, self.projection, self.page_min, self.page_max]


def candidate_view(case: AttentionCase) -> CandidateView:
    d = case.k.shape[2]
    centred = case.k - case.k.mean(dim=1, keepdim=True)
    # Per-head principal directions of the keys (a Loki-style low-rank index), [H, d, r]: the
    # eigenvectors of the key covariance with the largest eigenvalues (eigh sorts them ascending).
    _, vectors = torch.linalg.eigh(centred.transpose(1, 2) @ centred)
    projection = vectors.flip(-1)[:, :, :SKETCH_DIM].contiguous()
    sketch = torch.einsum("hnd,hdr->hnr", centred, projection).to(torch.float16)
    pages = math.ceil(case.keys / PAGE_SIZE)
    padded = case.k
    if pages * PAGE_SIZE != case.keys:  # repeat the last key: min and max are unchanged
        pad = padded[:, -1:, :].expand(-1, pages * PAGE_SIZE - case.keys, -1)
        padded = torch.cat([padded, pad], dim=1)
    blocks = padded.reshape(case.heads, pages, PAGE_SIZE, d)
    return CandidateView(
        query=case.q.clone(),
        sketch=sketch,
        projection=projection,
        page_min=blocks.amin(dim=2).to(torch.float16),
        page_max=blocks.amax(dim=2).to(torch.float16),
    )
