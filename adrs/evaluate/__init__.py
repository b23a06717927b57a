"""Sandboxed evaluation: workers, the trusted harness for candidates, sandbox backends.

Names are loaded lazily: the evaluation worker imports this package on every evaluation, and it
should not pay for the harness unless the problem's evaluator uses it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adrs.evaluate.failures import CandidateError
    from adrs.evaluate.harness import CandidateRun, run_candidate, run_candidates

__all__ = ["CandidateError", "CandidateRun", "run_candidate", "run_candidates"]


def __getattr__(name: str) -> Any:
    if name == "CandidateError":
        from adrs.evaluate.failures import CandidateError

        return CandidateError
    if name in ("CandidateRun", "run_candidate", "run_candidates"):
        from adrs.evaluate import harness

        return getattr(harness, name)
    raise AttributeError(f"module 'adrs.evaluate' has no attribute {name!r}")
