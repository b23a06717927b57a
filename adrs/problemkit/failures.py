"""Failure kinds of an evaluation, and the exception a trusted evaluator raises to report one.

Owns: the vocabulary of how a candidate can fail, and which kinds a candidate may report about
itself. Every failed evaluation in the archive carries one of these kinds, so reports and prompts
can group failures. Kinds are assigned by trusted code: a record written inside the candidate's
process (its result file, an exception it raises in an in-process evaluator) may only carry one of
`CANDIDATE_REPORTED`; a limit (timeout, output_limit) counts only where the trusted side measured it,
and `evaluator_error` only where the trusted evaluator itself failed.
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
# What the candidate's own process can know and say about its failure (the runner writes these).
CANDIDATE_REPORTED = (SYNTAX, IMPORT, EXCEPTION, MEMORY, INVALID_OUTPUT)


def reported_kind(kind: object) -> str:
    """The kind to record for a failure the candidate's process reported: its own claim when it may
    make it, else `exception` (a candidate cannot label itself timed out or the evaluator broken)."""
    return kind if isinstance(kind, str) and kind in CANDIDATE_REPORTED else EXCEPTION


def claim_note(claimed: object, recorded: str) -> str:
    """The note a recorded failure carries when the candidate's process claimed another kind."""
    return f"(the candidate process reported kind {str(claimed)[:40]!r}; recorded as {recorded})"


# A claim, from inside the candidate's process, that the problem's driver failed (adrs/candidate/runner.py
# says so when a driver fails to load, lacks its entry point, or meets a NameError-like bug). The trusted
# side never takes it as is: adrs/evaluate/driver_check.py verifies it on the problem's initial program.
DRIVER_FAULT_CLAIM = claim_note(EVALUATOR, EXCEPTION)
# How the trusted side begins an error it has verified as a bug of the problem's driver (adrs/evaluate/driver_check.py).
DRIVER_BROKEN = "the problem's driver is broken"


def recorded_claim(claimed: object, message: str) -> tuple[str, str]:
    """Kind and message to record for a failure the candidate's process reported: `reported_kind`,
    with a note of the claim when it was not kept."""
    kind = reported_kind(claimed)
    return (kind, message) if kind == claimed else (kind, f"{message}\n{claim_note(claimed, kind)}")


class CandidateError(Exception):
    """Raised by an evaluator to end the evaluation as a recorded failure of the given kind."""

    def __init__(self, kind: str, message: str):
        if kind not in ALL_KINDS:
            raise ValueError(f"unknown failure kind {kind!r}; expected one of {ALL_KINDS}")
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message
