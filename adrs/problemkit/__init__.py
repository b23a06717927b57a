"""The one public module for problem authors: everything an evaluator or a driver's helpers use.

    from adrs.problemkit import CandidateError, INVALID_OUTPUT, find_data, run_candidates

Owns nothing of its own: it names the public parts of harness.py (starting candidate processes
from a trusted evaluator), session.py (interactive candidate processes: the trusted side sends
each message, times each call and enforces per-call limits), failures.py (how an evaluation can
fail), outputs.py (reading files a candidate wrote without following its links) and datadir.py
(where a problem's real data lives), plus the sandbox's `ProcessLimits`. Anything not in `__all__`
is internal and may change.

Names load lazily: the evaluation worker imports this package whenever an evaluator raises, and
it should not pay for the harness (and the sandbox backends behind it) unless the evaluator uses it.
Must not: hold behaviour of its own.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from adrs.problemkit.failures import (
    ALL_KINDS,
    EVALUATOR,
    EXCEPTION,
    IMPORT,
    INVALID_OUTPUT,
    MEMORY,
    NONZERO_EXIT,
    OUTPUT_LIMIT,
    SYNTAX,
    TIMEOUT,
    CandidateError,
)

if TYPE_CHECKING:
    from adrs.problemkit.datadir import find_data
    from adrs.problemkit.harness import CandidateRun, default_limits, run_candidate, run_candidates
    from adrs.problemkit.outputs import CandidateFileError, open_output, read_output, stat_output
    from adrs.problemkit.session import CandidateSession, SessionGroup, SessionReply, open_session
    from adrs.sandbox.base import ProcessLimits

_LAZY = {
    "CandidateRun": "adrs.problemkit.harness",
    "default_limits": "adrs.problemkit.harness",
    "run_candidate": "adrs.problemkit.harness",
    "run_candidates": "adrs.problemkit.harness",
    "CandidateSession": "adrs.problemkit.session",
    "SessionGroup": "adrs.problemkit.session",
    "SessionReply": "adrs.problemkit.session",
    "open_session": "adrs.problemkit.session",
    "find_data": "adrs.problemkit.datadir",
    "CandidateFileError": "adrs.problemkit.outputs",
    "open_output": "adrs.problemkit.outputs",
    "read_output": "adrs.problemkit.outputs",
    "stat_output": "adrs.problemkit.outputs",
    "ProcessLimits": "adrs.sandbox.base",
}

__all__ = [
    "ALL_KINDS",
    "EVALUATOR",
    "EXCEPTION",
    "IMPORT",
    "INVALID_OUTPUT",
    "MEMORY",
    "NONZERO_EXIT",
    "OUTPUT_LIMIT",
    "SYNTAX",
    "TIMEOUT",
    "CandidateError",
    "CandidateFileError",
    "CandidateRun",
    "CandidateSession",
    "ProcessLimits",
    "SessionGroup",
    "SessionReply",
    "default_limits",
    "find_data",
    "open_output",
    "read_output",
    "open_session",
    "run_candidate",
    "run_candidates",
    "stat_output",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'adrs.problemkit' has no attribute {name!r}")
