"""What the adaptive search's exploitation has already spent: pushes of each gain, samples of the best.

Owns `ExploitLedger`, two counts kept from the results and proposals of one run (adaptive v3,
docs/benchmarks.md, issue 20):

- failed pushes per gain: children that pushed a gain's numbers further (the offline mutator's
  momentum edit, recognised by its operator name at the head of the stored description) and did
  not beat their parent. After `momentum_patience` of them the gain gets no more momentum: a
  constant that gained once by noise (a start index that only reshuffles a random stream) would
  otherwise keep about half of the exploiting children of its island's best for the rest of the run.
- hill-like children of the run's best: single, unfocused edits of the best (the children hill
  climbing would make) proposed since it became the best. Until `neighbourhood` of them have been
  proposed, a share of every island's proposals is one of them, whatever the island's intensity or
  stall: a run must not leave the best's own neighbourhood unsampled because its islands were
  busy exploring, escalating or pushing a gain (what seed 1 of cant_be_late did in v2). After
  that the share decays with the samples instead of stopping (v4, `neighbourhood_decay`): the
  stalled seeds of v3 sat below hill climbing's because the best's neighbourhood went unsampled.

Gains and bests are named by their original program id (a copy counts as its original).

Must not: choose anything or touch the archive; the controller (adaptive.py) stores the state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adrs.archive.records import ProgramRecord
from adrs.search.focus import PUSH_OPERATOR


def is_push(program: ProgramRecord) -> bool:
    """Whether the program was made by pushing its parent's gain further (the offline momentum edit)."""
    return (program.description or "").startswith(f"{PUSH_OPERATOR}:")


@dataclass
class ExploitLedger:
    failed_pushes: dict[int, int] = field(default_factory=dict)  # gain's original id -> pushes without a gain
    hill_best: int | None = None  # the original id of the best whose neighbourhood is being sampled
    hill_children: int = 0  # hill-like children of it proposed so far

    # pushes -----------------------------------------------------------------------------------
    def took_push(self, parent: ProgramRecord, parent_score: float | None, score: float | None) -> None:
        """A push of `parent`'s gain was evaluated: no better than the parent counts against the gain."""
        if score is None or parent_score is None or score <= parent_score:
            gain = parent.original_id
            self.failed_pushes[gain] = self.failed_pushes.get(gain, 0) + 1

    def momentum_spent(self, parent: ProgramRecord, patience: int) -> bool:
        """Whether `parent`'s gain has been pushed `patience` times without a gain."""
        return self.failed_pushes.get(parent.original_id, 0) >= patience

    # the best's neighbourhood -----------------------------------------------------------------
    def hill_samples(self, best: ProgramRecord) -> int:
        """Hill-like children of `best` proposed since it became the best."""
        return self.hill_children if self.hill_best == best.original_id else 0

    def hill_child(self, parent: ProgramRecord) -> None:
        """A hill-like child of `parent` (the run's best) was proposed."""
        original = parent.original_id
        if self.hill_best != original:
            self.hill_best, self.hill_children = original, 0
        self.hill_children += 1

    # state ------------------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {
            "failed_pushes": sorted([gain, count] for gain, count in self.failed_pushes.items()),
            "hill_best": self.hill_best,
            "hill_children": self.hill_children,
        }

    @classmethod
    def from_state(cls, data: dict[str, Any] | None) -> ExploitLedger:
        """The ledger stored with a run (None: a run stored before v3, which kept none)."""
        if not data:
            return cls()
        return cls(
            {int(gain): int(count) for gain, count in data["failed_pushes"]},
            data["hill_best"],
            int(data["hill_children"]),
        )
