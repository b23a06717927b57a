"""Expert-load traces for eplb: the seeded synthetic generator, the real-trace loader, and windows.

Owns: what the load looks like (a history of per-step [layers, experts] token counts), how it is
cut into rebalancing windows, and the seeded resamples ("variants") that make every timed call
see a different input. The synthetic generator with `bursts=None` reproduces the stand-in trace
of shared/problems/eplb.md byte for byte (same RNG call order); bursts come from a second,
independent RNG stream so the first stays comparable.

Must not: run or import candidate code, or score anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TOKENS_PER_STEP = 32_768  # 4096 tokens x top-8 routing
WINDOW_STEPS = 100  # the leaderboard sums 100 history entries per rebalancing window


@dataclass(frozen=True)
class Bursts:
    """Short popularity spikes on top of the drift: a hot expert for a few steps.

    Each step, each layer starts a burst with probability `rate`: one uniformly drawn expert's
    routing probability is multiplied by a factor drawn uniformly in [factor_low, factor_high]
    for a geometric number of steps with mean `mean_steps`.
    """

    rate: float = 0.02
    factor_low: float = 3.0
    factor_high: float = 10.0
    mean_steps: float = 30.0


@dataclass(frozen=True)
class TraceSpec:
    """Everything that fixes one synthetic trace."""

    name: str
    seed: int
    layers: int = 48
    experts: int = 64
    steps: int = 1000
    alpha: float = 0.3  # Dirichlet concentration of popularity
    persistence: float = 0.98  # drift: cur = persistence * cur + (1 - persistence) * fresh draw
    tokens_per_step: int = TOKENS_PER_STEP
    bursts: Bursts | None = None


@dataclass(frozen=True)
class Trace:
    """A load history: history[t, l, e] = tokens routed to expert e of layer l at step t."""

    name: str
    history: np.ndarray  # int64 [steps, layers, experts]

    def windows(self, window_steps: int = WINDOW_STEPS) -> np.ndarray:
        """Consecutive chunks of `window_steps` entries, summed (the last may be shorter)."""
        steps = self.history.shape[0]
        return np.stack([self.history[s : s + window_steps].sum(axis=0) for s in range(0, steps, window_steps)])


def generate(spec: TraceSpec) -> Trace:
    """The synthetic history of `spec` (deterministic in spec.seed)."""
    rng = np.random.default_rng(spec.seed)
    alpha = np.full(spec.experts, spec.alpha)
    cur = rng.dirichlet(alpha, size=spec.layers)
    boost = np.ones((spec.layers, spec.experts))
    remaining = np.zeros((spec.layers, spec.experts), dtype=np.int64)
    burst_rng = np.random.default_rng([spec.seed, 0xB0B5]) if spec.bursts else None
    history = np.empty((spec.steps, spec.layers, spec.experts), dtype=np.int64)
    for t in range(spec.steps):
        cur = spec.persistence * cur + (1.0 - spec.persistence) * rng.dirichlet(alpha, size=spec.layers)
        probs = cur
        if burst_rng is not None and spec.bursts is not None:
            boost, remaining = _advance_bursts(burst_rng, spec.bursts, boost, remaining)
            probs = cur * boost
        # One vectorised call draws the layers in order: the same stream as one call per layer.
        history[t] = rng.multinomial(spec.tokens_per_step, probs / probs.sum(axis=1, keepdims=True))
    return Trace(spec.name, history)


def _advance_bursts(
    rng: np.random.Generator, bursts: Bursts, boost: np.ndarray, remaining: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One step of the burst process: expire finished bursts, maybe start one per layer."""
    layers, experts = boost.shape
    remaining = np.maximum(remaining - 1, 0)
    boost = np.where(remaining > 0, boost, 1.0)
    starts = rng.random(layers) < bursts.rate
    hot = rng.integers(0, experts, size=layers)
    factors = rng.uniform(bursts.factor_low, bursts.factor_high, size=layers)
    lengths = rng.geometric(1.0 / bursts.mean_steps, size=layers)
    for layer in np.flatnonzero(starts):
        boost[layer, hot[layer]] = factors[layer]
        remaining[layer, hot[layer]] = lengths[layer]
    return boost, remaining


def spec_json(trace: Trace) -> str:
    """The leaderboard's file layout, {"load_history": [{"logical_expert_load": [...]}, ...]}."""
    records = [{"logical_expert_load": step.tolist()} for step in trace.history]
    return json.dumps({"load_history": records})


def load_real(path: Path) -> Trace:
    """The leaderboard's expert-load.json (Hugging Face abmfy/eplb-openevolve), validated."""
    data = json.loads(Path(path).read_text())
    records = data.get("load_history") if isinstance(data, dict) else None
    if not isinstance(records, list) or not records:
        raise ValueError(f"{path}: expected {{'load_history': [ ... ]}} with at least one entry")
    history = np.asarray([r["logical_expert_load"] for r in records], dtype=np.int64)
    if history.ndim != 3 or (history < 0).any():
        raise ValueError(f"{path}: logical_expert_load must be a non-negative [layers][experts] array per entry")
    return Trace(Path(path).stem, history)


def variants(window: np.ndarray, count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """`count` inputs for one window: the window itself, then seeded bootstrap resamples of it.

    A resample redraws each layer's total tokens from the window's own expert shares, so it is a
    plausible alternative observation of the same window. Distinct inputs stop a candidate from
    answering repeated calls from a cache, which would make its median time meaningless.
    """
    out = [window]
    totals = window.sum(axis=1)
    shares = window / np.maximum(totals, 1)[:, None]
    shares[totals == 0] = 1.0 / window.shape[1]
    for _ in range(count - 1):
        out.append(rng.multinomial(totals, shares).astype(np.int64))
    return out
