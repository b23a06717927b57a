"""What a run reports while it goes (Progress) and when it ends (RunSummary).

Owns: the records the engine fills in and the live view, the API and the CLI read: the best
score with its uncertainty, why the run stopped and whether that was a failure (`RunFailure`),
a pause while the LLM endpoint is away (`Pause`) or one a person asked for from the dashboard,
and the arithmetic on them a view needs (rate, time since the best changed, time left).
Must not: compute anything about the search; the engine updates these in place (and an LLM
source its `LLMActivity`).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from adrs.archive.records import ProgramRecord

# RunFailure.kind: why a run stopped on a failure rather than on a budget, a target or a cap.
INITIAL_FAILED = "initial_failed"  # no program evaluated successfully (the initial program failed)
EVALUATIONS_FAILING = "evaluations_failing"  # a streak of failed evaluations (RunConfig.max_failure_streak)
PROPOSALS_FAILING = "proposals_failing"  # the proposal streak limit hit before any proposal became a program
SOURCE_FAILED = "source_failed"  # the proposal source gave up: the LLM endpoint stayed away or kept failing
FAILURE_KINDS = (INITIAL_FAILED, EVALUATIONS_FAILING, PROPOSALS_FAILING, SOURCE_FAILED)
# The archive's state key (prefix; a joined engine adds its own suffix) under which an engine keeps a copy
# of its LLM source's activity: calls in flight exist only in the engine's process, `adrs serve` reads this.
LLM_ACTIVITY_STATE = "llm_activity"


@dataclass(frozen=True)
class RunFailure:
    """A stop that is a failure: `adrs run` and `adrs resume` print `message` and exit non-zero."""

    kind: str  # one of FAILURE_KINDS
    message: str  # what failed: the file, the stage and the error where there is one


@dataclass(frozen=True)
class Pause:
    """Proposals are paused: the LLM endpoint is unreachable. The run gives up at `gives_up_at`."""

    reason: str  # the last error, e.g. "connection after 4 attempts: cannot reach the endpoint (...)"
    since: float  # time.time() when the outage began
    next_try_at: float  # time.time() of the next probe of the endpoint
    gives_up_at: float  # time.time() when the run stops unless the endpoint answered
    probes: int  # probes made so far


@dataclass
class LLMActivity:
    """What an LLM proposal source is doing; the source updates it in place as calls start and end."""

    in_flight: int = 0  # calls sent and not answered yet
    calls: int = 0  # calls answered or failed in this invocation (the start-up check excluded)
    failed: int = 0  # calls that failed after their retries, in this invocation
    dollars: float = 0.0  # spent by the run in all, earlier invocations included
    cap: float | None = None  # the run's cost cap, if any

    def snapshot(self) -> dict[str, float | int | None]:
        """What the engine copies into the archive for `adrs serve` (LLM_ACTIVITY_STATE)."""
        return {
            "in_flight": self.in_flight,
            "calls": self.calls,
            "failed": self.failed,
            "dollars": self.dollars,
            "cap": self.cap,
        }


@dataclass
class Progress:
    """What a live view needs; updated in place by the engine."""

    budget: int
    evaluated: int = 0  # evaluations finished in this invocation (failed ones included)
    failures: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    too_similar: int = 0  # rejected by the novelty filter before evaluation
    no_edit: int = 0
    archive_size: int = 0
    front_size: int = 0
    best_score: float | None = None  # the run's best: for a noisy problem, the mean of its evaluations
    best_id: int | None = None
    best_uncertainty: float | None = None  # standard error of best_score (0: deterministic; None: unknown yet)
    best_evaluations: int = 0  # evaluations behind best_score
    noise: float | None = None  # standard deviation of one evaluation's score (declared or measured; None: unknown)
    rescores: int = 0  # extra evaluations spent re-scoring contenders for the best (not counted in `budget`)
    initial_score: float | None = None
    started: float = field(default_factory=time.monotonic)
    best_changed: float | None = None  # monotonic time the best program last changed (or was first known)
    objectives: int = 1  # how many objectives the problem has: a Pareto front means something only above 1
    max_time_s: float | None = None  # the invocation's wall-clock budget
    llm: LLMActivity | None = None  # the LLM source's activity (None: the offline mutator alone)
    stop_reason: str = ""
    failure: RunFailure | None = None  # set when the stop is a failure
    paused: Pause | None = None  # set while proposals wait for the LLM endpoint
    steering_paused: bool = False  # a person paused proposals from `adrs serve --steer` (a steerable run)
    # Engine time, summed over the invocation (seconds): where per-evaluation overhead goes.
    proposal_s: float = 0.0  # selection, mutation, hashing and the pending write
    evaluation_s: float = 0.0  # wall time of the stage cascades (sandbox start + evaluator)
    record_s: float = 0.0  # writing evaluations and updating the elites

    @property
    def per_minute(self) -> float:
        elapsed = time.monotonic() - self.started
        return 60.0 * self.evaluated / elapsed if elapsed > 0 else 0.0

    @property
    def since_best_changed_s(self) -> float | None:
        return None if self.best_changed is None else time.monotonic() - self.best_changed

    def time_left(self) -> tuple[float, str] | None:
        """Seconds until the run stops at its present pace, and which budget stops it; None before
        the first evaluation when no wall-clock budget is set."""
        elapsed = time.monotonic() - self.started
        estimates = []
        if self.evaluated > 0 and elapsed > 0:
            remaining = max(0, self.budget - self.evaluated)
            estimates.append((remaining * elapsed / self.evaluated, f"budget of {self.budget} evaluations"))
        if self.max_time_s is not None:
            estimates.append((max(0.0, self.max_time_s - elapsed), f"time limit of {self.max_time_s:g} s"))
        return min(estimates) if estimates else None


@dataclass(frozen=True)
class RunSummary:
    run_id: int
    archive_url: str
    evaluated: int
    best: ProgramRecord | None
    initial_score: float | None
    stop_reason: str
    holdout_score: float | None
    best_uncertainty: float | None = None  # standard error of best.score (0 for a deterministic problem)
    best_evaluations: int = 0  # evaluations behind best.score
    holdout_uncertainty: float | None = None
    rescores: int = 0  # evaluations spent re-scoring (besides `evaluated`)
    failure: RunFailure | None = None  # the stop was a failure: the CLI prints it and exits non-zero

    @property
    def failed(self) -> bool:
        return self.failure is not None
