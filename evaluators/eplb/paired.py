"""One eplb evaluation's calls: the candidate and the trusted baseline side by side, input by input.

Both programs run in interactive sessions (adrs.problemkit.SessionGroup) with the problem's
driver. After a few untimed warm-up calls on an input outside the workload, every input goes to
both programs, and as a null call (no policy) to the baseline's process, back to back in rotating
order, and each call is timed by this (trusted) side (timing.py says why).
Inputs are sent in time order: every variant of window i (the pair scored on window i + 1) before
window i + 1 itself, so neither process ever holds the window that scores its answer. Once the
candidate's calls have taken the stage's budget in all, later pairs get their first input only.

A slow candidate is the candidate's failure, never the evaluator's: the baseline's process waits
for the candidate's calls between its own, so its wall-clock limit is the candidate's twice over
plus a margin (`baseline_limits`): the candidate's process reaches its own limit first, and its
call comes back as a `timeout`. A candidate within its limit is scored however slow its calls are,
as the public evaluator scores DeepSeek's per-layer loops (its time term then costs it the points).

Owns: the order of the calls, the warm-up, the budget, collecting trusted times and judged
replies. Must not: score (scoring.py) or estimate the time from the figures (timing.py).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from adrs.problemkit import (
    EVALUATOR,
    INVALID_OUTPUT,
    NONZERO_EXIT,
    CandidateError,
    CandidateSession,
    ProcessLimits,
    SessionGroup,
    SessionReply,
    default_limits,
)
from evaluators.eplb import codec
from evaluators.eplb.judge import Judged, judge_call, where
from evaluators.eplb.stages import Workload

BASELINE_MARGIN_S = 60.0  # past the candidate's limit (twice: its start-up, then its calls) for the baseline
WARMUP_CALLS = 3  # untimed: first-call costs (lazy imports, caches, JIT) are not policy time
WARMUP_SEED = 7_0707  # the warm-up input: random loads, not any window of the workload


@dataclass
class PairedRun:
    """Every call of both programs: trusted seconds and judged balancedness, in call order."""

    candidate: Judged = field(default_factory=Judged)
    baseline: Judged = field(default_factory=Judged)
    candidate_s: list[float] = field(default_factory=list)
    baseline_s: list[float] = field(default_factory=list)
    null_s: list[float] = field(default_factory=list)  # the baseline's process, without the policy
    pairs_cut: int = 0  # pairs that got one call because the budget was spent
    wall_s: float = 0.0  # the candidate process's life, start to close


def run_paired(
    program_path: str | os.PathLike,
    baseline_path: Path,
    driver: Path,
    workload: Workload,
    workdir: str | os.PathLike | None,
) -> PairedRun:
    limits = default_limits()
    base = Path(workdir) if workdir else None
    trusted = baseline_limits(limits)
    with (
        SessionGroup(baseline_path, driver, limits=trusted, workdir=base and base / "baseline") as baseline_group,
        SessionGroup(program_path, driver, limits=limits, workdir=base and base / "candidate") as candidate_group,
    ):
        try:
            baseline = baseline_group.open(workload.setup())
        except CandidateError as exc:
            raise CandidateError(EVALUATOR, f"the trusted baseline failed to start: {exc.message}") from None
        candidate = candidate_group.open(workload.setup())  # a program that cannot start fails here
        _warm_up(workload, baseline, candidate)
        run = _timed_calls(workload, baseline, candidate)
        run.wall_s = candidate.wall_s
    return run


def baseline_limits(candidate: ProcessLimits) -> ProcessLimits:
    """The trusted baseline's limits: it lives while the candidate starts (up to the candidate's
    limit) and then answers (up to the limit again), so it never ends first."""
    return dataclasses.replace(candidate, timeout_s=2 * candidate.timeout_s + BASELINE_MARGIN_S)


def _warm_up(workload: Workload, baseline: CandidateSession, candidate: CandidateSession) -> None:
    rng = np.random.default_rng(WARMUP_SEED)
    message = {"weight": codec.encode(rng.integers(0, 4096, size=workload.shape), "<i4")}
    for _ in range(WARMUP_CALLS):
        _baseline_value(baseline.call(message))
        reply = candidate.call(message)
        if not reply.ok:
            _failed(reply, "on a warm-up input")
        if isinstance(reply.value, dict) and "invalid" in reply.value:
            raise CandidateError(INVALID_OUTPUT, f"on a warm-up input: {reply.value['invalid']}")


def _timed_calls(workload: Workload, baseline: CandidateSession, candidate: CandidateSession) -> PairedRun:
    run = PairedRun()
    spent = 0.0
    sweeps = len(workload.inputs)
    number = 0
    for pair in range(len(workload.pairs)):
        calls = sweeps if spent < workload.budget_s else 1
        run.pairs_cut += calls < sweeps
        for target in (run.candidate, run.baseline):
            target.gpu.append([])
            target.slot.append([])
        for sweep in range(calls):
            message = workload.message(sweep, pair)
            step = [(candidate, message), (baseline, message), (baseline, {**message, "null": True})]
            # rotate who goes first, so no call always runs on a machine another one just warmed
            shift = number % len(step)
            replies = [session.call(text) for session, text in step[shift:] + step[:shift]]
            mine, theirs, null = replies[-shift:] + replies[:-shift] if shift else replies
            number += 1
            if "invalid" in (_baseline_value(null) or {}):  # a rejected null answer would skip the encoding
                raise CandidateError(EVALUATOR, f"the driver's null answer was rejected: {null.value['invalid']}")
            if not mine.ok:
                _failed(mine, f"on {where(workload, pair, sweep)}")
            judged = judge_call(workload, pair, sweep, mine.value)
            try:
                reference = judge_call(workload, pair, sweep, _baseline_value(theirs))
            except CandidateError as exc:
                raise CandidateError(EVALUATOR, f"the trusted baseline's answer: {exc.message}") from None
            for target, (gpu, slot) in ((run.candidate, judged), (run.baseline, reference)):
                target.gpu[-1].append(gpu)
                target.slot[-1].append(slot)
            run.candidate_s.append(mine.seconds)
            run.baseline_s.append(theirs.seconds)
            run.null_s.append(null.seconds)
            spent += mine.seconds
    return run


def _baseline_value(reply: SessionReply) -> object:
    if not reply.ok:
        raise CandidateError(EVALUATOR, f"the trusted baseline failed: {reply.error_kind}: {reply.error}")
    return reply.value


def _failed(reply: SessionReply, where_text: str) -> None:
    raise CandidateError(reply.error_kind or NONZERO_EXIT, f"{where_text}: {reply.error}")
