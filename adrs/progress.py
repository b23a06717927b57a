"""What a run reports while it goes (Progress) and when it ends (RunSummary).

Owns: the records the engine fills in and the live view, the API and the CLI read.
Must not: compute anything about the search; the engine updates these in place.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from adrs.archive.store import ProgramRecord


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
    best_score: float | None = None
    best_id: int | None = None
    initial_score: float | None = None
    started: float = field(default_factory=time.monotonic)
    stop_reason: str = ""
    # Engine time, summed over the invocation (seconds): where per-evaluation overhead goes.
    proposal_s: float = 0.0  # selection, mutation, hashing and the pending write
    evaluation_s: float = 0.0  # wall time of the stage cascades (sandbox start + evaluator)
    record_s: float = 0.0  # writing evaluations and updating the elites

    @property
    def per_minute(self) -> float:
        elapsed = time.monotonic() - self.started
        return 60.0 * self.evaluated / elapsed if elapsed > 0 else 0.0


@dataclass(frozen=True)
class RunSummary:
    run_id: int
    archive_url: str
    evaluated: int
    best: ProgramRecord | None
    initial_score: float | None
    stop_reason: str
    holdout_score: float | None
