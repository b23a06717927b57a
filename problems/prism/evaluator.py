"""Trusted evaluator of prism: runs the candidate's placement policy on seeded cases and scores it.

Stages: quick = the first 10 of the leaderboard's 50 cases (seed 42), full = all 50, holdout = 50
fresh cases from another fixed seed (never shown during evolution). The cases go one at a time to
an interactive candidate session (adrs.problemkit.SessionGroup, driver.py): each call is timed
here, and a case still running after 10 s scores 0 and its process is killed; the remaining cases
continue in a fresh process. The candidate never holds a case before it is asked, and nothing it
does to its own timers or clocks changes the limit. Every record is validated and scored against
the original model data (evaluators.prism).
Must not import or call the candidate itself, and must not read anything the candidate printed.
"""

from __future__ import annotations

import time
from pathlib import Path

from adrs.problemkit import NONZERO_EXIT, TIMEOUT, CandidateError, SessionGroup, default_limits
from evaluators.prism import FULL_SEED, HOLDOUT_SEED, case_message, generate_cases, score_stage

DRIVER = Path(__file__).with_name("driver.py")
QUICK_CASES = 10
CASE_TIMEOUT_S = 10.0  # the leaderboard's per-case limit, timed and enforced by this (trusted) side
STAGE_SEEDS = {"quick": FULL_SEED, "full": FULL_SEED, "holdout": HOLDOUT_SEED}


def stage_cases(stage: str):
    """The trusted cases of a stage (fixed seeds; evaluate()'s `seed` does not change them)."""
    if stage not in STAGE_SEEDS:
        raise ValueError(f"prism has no stage {stage!r}; stages: {sorted(STAGE_SEEDS)}")
    cases = generate_cases(STAGE_SEEDS[stage])
    return cases[:QUICK_CASES] if stage == "quick" else cases


def evaluate(program_path: str, *, stage: str = "full", workdir: str | None = None) -> dict:
    """Score `program_path` on the stage's cases; a broken candidate raises CandidateError."""
    cases = stage_cases(stage)
    records, seconds, wall_s = run_cases(program_path, cases, workdir)
    result = score_stage(cases, records, stage).as_dict()
    result["metrics"]["candidate_wall_s"] = wall_s
    result["metrics"]["slowest_case_s"] = max(seconds)
    return result


def run_cases(program_path: str, cases, workdir: str | None) -> tuple[list, list[float], float]:
    """One untrusted record per case, the trusted seconds of each call, and the wall time of all.

    All cases together may take `[limits] candidate_timeout_s`, counted across fresh processes."""
    limits = default_limits()
    started = time.monotonic()
    records: list = []
    seconds: list[float] = []
    session = None
    with SessionGroup(program_path, DRIVER, limits=limits, workdir=workdir) as group:
        for case in cases:
            if time.monotonic() - started > limits.timeout_s:
                raise CandidateError(TIMEOUT, f"the cases together ran past {limits.timeout_s:g} s")
            if session is None or not session.alive:
                session = group.open()
            reply = session.call(case_message(case), timeout_s=CASE_TIMEOUT_S)
            seconds.append(reply.seconds)
            if reply.ok:
                records.append(reply.value)
            elif reply.error_kind == TIMEOUT:
                records.append(
                    {
                        "status": "raised",
                        "error": (
                            f"TimeoutError: the case took more than {CASE_TIMEOUT_S:g} s (timed by the evaluator; "
                            "the process was stopped and the next cases ran in a fresh one)"
                        ),
                    }
                )
            else:
                raise CandidateError(reply.error_kind or NONZERO_EXIT, f"case {case.index}: {reply.error}")
    return records, seconds, time.monotonic() - started
