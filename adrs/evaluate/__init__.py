"""Sandboxed evaluation: workers, the trusted harness for candidates, sandbox backends."""

from adrs.evaluate.failures import CandidateError
from adrs.evaluate.harness import CandidateRun, run_candidate, run_candidates

__all__ = ["CandidateError", "CandidateRun", "run_candidate", "run_candidates"]
