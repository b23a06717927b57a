"""Failure kinds of an evaluation, and the exception a trusted evaluator raises to report one.

Owns: the vocabulary of how a candidate can fail. Every failed evaluation in the archive carries
one of these kinds, so reports and prompts can group failures.
"""

from __future__ import annotations

SYNTAX = "syntax"  # the candidate does not compile
IMPORT = "import"  # importing the candidate raised (missing module, error at import time)
EXCEPTION = "exception"  # the candidate raised while running
TIMEOUT = "timeout"  # wall-clock or CPU-time limit
MEMORY = "memory"  # address-space limit (MemoryError) or killed for memory
INVALID_OUTPUT = "invalid_output"  # returned something the trusted side rejects
NONZERO_EXIT = "nonzero_exit"  # the process ended without a result
OUTPUT_LIMIT = "output_limit"  # wrote more than the file-size limit (stdout included)
EVALUATOR = "evaluator_error"  # the trusted evaluator itself failed: a bug in the problem, not the candidate

ALL_KINDS = (SYNTAX, IMPORT, EXCEPTION, TIMEOUT, MEMORY, INVALID_OUTPUT, NONZERO_EXIT, OUTPUT_LIMIT, EVALUATOR)


class CandidateError(Exception):
    """Raised by an evaluator to end the evaluation as a recorded failure of the given kind."""

    def __init__(self, kind: str, message: str):
        if kind not in ALL_KINDS:
            raise ValueError(f"unknown failure kind {kind!r}; expected one of {ALL_KINDS}")
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message
