"""Failed programs grouped by cause, for the report and the live view.

Owns `failure_causes`: failed stages grouped by error kind and the last line of the message, with
the parts that differ between programs (numbers, addresses, temporary paths) blurred, most
frequent first, with the stages they failed at and a few example program ids.

Must not: read the archive (the caller passes the failed stages), draw or write HTML.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from adrs.archive.records import FailedStage

CAUSE_CHARS = 160  # a failure's cause is its message's last line, cut to this length
EXAMPLES_PER_CAUSE = 5


@dataclass(frozen=True)
class FailureCause:
    """Failed programs that failed the same way: the kind and the last line of the message."""

    kind: str
    cause: str
    count: int
    stages: dict[str, int]  # how many failed at each stage
    examples: tuple[int, ...]  # the first few program ids


def failure_cause(error: str) -> str:
    """What a failure message says, with the parts that differ between programs (numbers,
    addresses, temporary paths) blurred, so that failures of one cause group together."""
    lines = [line.strip() for line in error.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else "(no message)"
    last = re.sub(r"/(?:tmp|var/tmp)/\S*", "<tmp>", last)
    last = re.sub(r"0x[0-9a-fA-F]+", "0x…", last)
    last = re.sub(r"\d+(?:\.\d+)?", "N", last)
    return last if len(last) <= CAUSE_CHARS else last[: CAUSE_CHARS - 1] + "…"


def failure_causes(failed: list[FailedStage]) -> list[FailureCause]:
    """Failed programs grouped by kind and cause, most frequent first."""
    groups: dict[tuple[str, str], list[FailedStage]] = {}
    for row in failed:
        groups.setdefault((row.error_kind or "unknown", failure_cause(row.error)), []).append(row)
    causes = [
        FailureCause(
            kind,
            cause,
            len(rows),
            dict(Counter(r.stage for r in rows)),
            tuple(r.program_id for r in rows[:EXAMPLES_PER_CAUSE]),
        )
        for (kind, cause), rows in groups.items()
    ]
    return sorted(causes, key=lambda c: (-c.count, c.kind, c.cause))
