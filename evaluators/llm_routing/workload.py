"""Seeded synthetic request traces for the routing problem: Mooncake-like prefix sharing.

Requests come from sessions (a conversation or an agent's chain of calls). A session belongs to
an application template (a system prompt plus tool definitions, shared by every session of that
template) chosen with Zipf popularity; its first prompt adds a task context, every later turn
appends the previous output and a new message, so turn k's prompt extends turn k-1's. Hot spots:
every `hot_period_s` one template becomes `hot_boost` times more popular. Session starts follow a
two-state Markov-modulated Poisson process (bursts); in the multi-region setting every region's
rate also follows a compressed diurnal cosine, phases a third of a day apart (so the global rate
is flat while each region swings `1 + A` to `1 - A`).

Block ids are chained: an id stands for its whole prefix. Template blocks are shared; the block
holding the end of the template and everything after it belong to the session.

Every draw comes from generators seeded by `spec.seed` (templates, session starts and sessions
from separate streams, so a load level's longer base trace extends a shorter one): a trace
depends only on its spec.

Must not: know about policies, instances' state or scores.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

BLOCK_TOKENS = 512
SESSION_ID_STRIDE = 1 << 12  # blocks per session id range (contexts stay below 2M tokens)
TEMPLATE_BASE = 1 << 40  # template block ids live above every session's


@dataclass(frozen=True)
class WorkloadShape:
    """Statistics of the synthetic workload (README, "Workload")."""

    templates: int = 48
    zipf_s: float = 1.0
    template_median_tokens: float = 2000.0
    template_sigma: float = 0.6
    context_median_tokens: float = 3000.0  # task context of a session's first prompt
    context_sigma: float = 0.8
    message_median_tokens: float = 900.0  # new tokens appended per later turn
    message_sigma: float = 0.9
    output_median_tokens: float = 200.0
    output_sigma: float = 0.7
    turns_mean: float = 2.0  # geometric number of turns per session, capped
    turns_cap: int = 8
    gap_median_s: float = 6.0  # between the end of a turn's arrival and the next turn's arrival
    gap_sigma: float = 1.0
    hot_period_s: float = 40.0
    hot_boost: float = 12.0
    burst_high: float = 1.6  # MMPP rate multipliers and mean sojourn
    burst_low: float = 0.6
    burst_mean_s: float = 15.0
    max_prompt_tokens: int = 32768


@dataclass(frozen=True)
class TraceSpec:
    name: str
    seed: int
    duration_s: float
    session_rate: float  # new sessions per second over all regions
    regions: tuple[str, ...] = ("local",)
    diurnal_amplitude: float = 0.0  # A: a region's rate swings between 1 + A and 1 - A times its mean
    speedup: float = 1.0  # the trace of `speedup` x duration_s compressed into duration_s (load levels)
    shape: WorkloadShape = field(default_factory=WorkloadShape)


@dataclass
class Trace:
    """Requests sorted by arrival. `blocks[i]` is request i's prompt chain, `out_blocks[i]` the
    full blocks its output completes (the next turn of its session reuses both)."""

    spec: TraceSpec | None  # None for a trace rebuilt from a payload (the candidate's side)
    arrival: list[float]
    region: list[int]
    session: list[int]
    prompt_tokens: list[int]
    output_tokens: list[int]
    blocks: list[tuple[int, ...]]
    out_blocks: list[tuple[int, ...]]

    def __len__(self) -> int:
        return len(self.arrival)

    def to_payload(self) -> dict:
        return {
            "arrival": self.arrival,
            "region": self.region,
            "session": self.session,
            "prompt_tokens": self.prompt_tokens,
            "output_tokens": self.output_tokens,
            "blocks": [list(b) for b in self.blocks],
            "out_blocks": [list(b) for b in self.out_blocks],
        }


def trace_from_payload(data: dict) -> Trace:
    return Trace(
        None,
        list(data["arrival"]),
        list(data["region"]),
        list(data["session"]),
        list(data["prompt_tokens"]),
        list(data["output_tokens"]),
        [tuple(b) for b in data["blocks"]],
        [tuple(b) for b in data["out_blocks"]],
    )


def _lognormal(rng: random.Random, median: float, sigma: float, low: int, high: int) -> int:
    return int(min(high, max(low, round(median * math.exp(sigma * rng.gauss(0.0, 1.0))))))


def _session_starts(streams: int, spec: TraceSpec) -> list[tuple[float, int]]:
    """(time, region) of every session start: MMPP bursts times the regional diurnal cosine.
    Each region draws from its own stream, so a longer single-region trace extends a shorter one."""
    shape = spec.shape
    regions = len(spec.regions)
    per_region = spec.session_rate / regions
    duration = spec.duration_s * spec.speedup
    peak = per_region * shape.burst_high * (1.0 + spec.diurnal_amplitude)
    starts = []
    for region in range(regions):
        rng = random.Random(f"{streams}:starts:{region}")
        phase = region / regions
        t = 0.0
        high = rng.random() < 0.5
        switch = rng.expovariate(1.0 / shape.burst_mean_s)
        while True:  # thinning against the peak rate
            t += rng.expovariate(peak)
            if t >= duration:
                break
            while t >= switch:
                high = not high
                switch += rng.expovariate(1.0 / shape.burst_mean_s)
            burst = shape.burst_high if high else shape.burst_low
            diurnal = 1.0 + spec.diurnal_amplitude * math.cos(2.0 * math.pi * (t / duration - phase))
            if rng.random() * peak < per_region * burst * diurnal:
                starts.append((t, region))
    starts.sort()
    return starts


def _template_weights(shape: WorkloadShape, order: list[int]) -> list[float]:
    weights = [0.0] * shape.templates
    for rank, template in enumerate(order):
        weights[template] = 1.0 / (rank + 1) ** shape.zipf_s
    return weights


def generate(spec: TraceSpec, session_seed: int | None = None, session_offset: int = 0) -> Trace:
    """The trace of `spec`. A probe draws other sessions on the same templates with `session_seed`
    and numbers them from `session_offset` so that their blocks never collide with the original's."""
    rng = random.Random(spec.seed)
    shape = spec.shape
    order = list(range(shape.templates))
    rng.shuffle(order)
    base_weights = _template_weights(shape, order)
    template_tokens = [
        _lognormal(rng, shape.template_median_tokens, shape.template_sigma, 256, 12000) for _ in range(shape.templates)
    ]
    duration = spec.duration_s * spec.speedup
    periods = int(duration // shape.hot_period_s) + 1
    hot = [rng.randrange(shape.templates) for _ in range(periods)]
    streams = spec.seed if session_seed is None else session_seed
    starts = _session_starts(streams, spec)
    rng = random.Random(f"{streams}:sessions")
    requests = []
    p_more = 1.0 - 1.0 / shape.turns_mean
    for session, (start, region) in enumerate(starts, start=session_offset):
        weights = list(base_weights)
        weights[hot[int(start // shape.hot_period_s)]] *= shape.hot_boost
        template = rng.choices(range(shape.templates), weights)[0]
        shared = template_tokens[template] // BLOCK_TOKENS
        prompt = template_tokens[template] + _lognormal(
            rng, shape.context_median_tokens, shape.context_sigma, 64, 16000
        )
        t = start
        for turn in range(shape.turns_cap):
            if turn and (rng.random() >= p_more or t >= duration):
                break
            if prompt > shape.max_prompt_tokens:
                break
            output = _lognormal(rng, shape.output_median_tokens, shape.output_sigma, 8, 2048)
            requests.append((t, region, session, template, shared, prompt, output))
            prompt += output + _lognormal(rng, shape.message_median_tokens, shape.message_sigma, 16, 8000)
            t += _lognormal(rng, shape.gap_median_s * 1000, shape.gap_sigma, 200, 120000) / 1000.0
    requests.sort(key=lambda r: (r[0], r[2]))
    trace = Trace(spec, [], [], [], [], [], [], [])
    for t, region, session, template, shared, prompt, output in requests:
        if t >= duration:
            continue
        t /= spec.speedup
        template_ids = tuple(TEMPLATE_BASE + template * SESSION_ID_STRIDE + j for j in range(shared))
        session_base = session * SESSION_ID_STRIDE
        full = prompt // BLOCK_TOKENS
        trace.arrival.append(round(t, 6))
        trace.region.append(region)
        trace.session.append(session)
        trace.prompt_tokens.append(prompt)
        trace.output_tokens.append(output)
        trace.blocks.append(template_ids + tuple(range(session_base + shared, session_base + full)))
        trace.out_blocks.append(tuple(range(session_base + full, session_base + (prompt + output) // BLOCK_TOKENS)))
    return trace


def ideal_hit_ratio(trace: Trace) -> float:
    """Share of prompt tokens in blocks an earlier request already used (an infinite shared cache)."""
    seen: set[int] = set()
    hit = total = 0
    for blocks, out, tokens in zip(trace.blocks, trace.out_blocks, trace.prompt_tokens, strict=True):
        run = 0
        for block in blocks:
            if block not in seen:
                break
            run += 1
        hit += run * BLOCK_TOKENS
        total += tokens
        seen.update(blocks)
        seen.update(out)
    return hit / total if total else 0.0
