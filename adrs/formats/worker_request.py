"""What the evaluation worker must be told about a peer folder: its format and this stage's function.

Owns: the extra fields of the worker's request (`format`, `entry`); none for adrs's own folders.
Must not: import evaluator code (the engine builds the request).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adrs.problem import Problem, Stage


def peer_request(problem: Problem, stage: Stage) -> dict[str, Any]:
    peer = problem.peer
    if peer is None:
        return {}
    return {"format": peer.format, "entry": peer.entry_points[stage.name]}
