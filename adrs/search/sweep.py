"""The adaptive search's stall sweep (adaptive v5): when sampling stops paying, walk the neighbourhood.

Owns `StallSweep`, for one run: once the run's best has not improved in `sweep_after` evaluations,
a share (`sweep_share`) of the proposals of an offline run are entries of a list instead of draws:

0. (adaptive v6, `sweep_control`) the pairs of its single edits coupled by control flow, one in
   an `if`/`while` test and one in the test of an `if`/`while` nested under it (neighbours.py
   `control_pairs`: few, 9 of 2,415 pairs on cant_be_late's initial program, and its exit from
   29.08 is one of them; none on txn_scheduling's), each once, in an order drawn from the
   proposals' rngs;
1. every single edit of the sweep's target (first: the run's best), each once, in an order drawn
   from the proposals' rngs (adrs/mutate/offline/neighbours.py lists them; a child already in the
   run, by normalised code hash, is not proposed again, its score is read);
2. then pairs of its single edits whose children were evaluated: first two of the `sweep_pairs`
   least harmful edits that changed the score (two edits that each flip the same decision can
   together be a new working program where each alone is worse: cant_be_late's 42.73 plateau,
   docs/benchmarks.md, has no single edit that gains and pairs that do), then one of those with
   one edit that kept the score (a step along the plateau and a change from there), each pair
   once, in an order drawn from the proposals' rngs;
3. then a neutral step: the target becomes one of its single edits that scored exactly the same
   (a different program on the same plateau, whose own neighbourhood differs), chosen by the
   proposal's rng, never one already swept, and 0-3 repeat on it.

Beside the list (guards; half since v6): for `guard_share` of the sweep's proposals the adaptive
search asks `guard_target` for the program being swept and has a guard inserted into it (a new
decision, adrs/mutate/offline/guards.py), where one has a place; those take no entry off the
list. A new best of the run starts over from step 0 on it. Everything is a function of the
results in the order the proposer's view received them and of the proposals' rngs; the state is
stored with the rest of the adaptive state (adaptive.py) so a resumed run continues the sweep
exactly.

Must not: choose anything but the sweep's next entry, read or write the archive, or evaluate.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

from adrs.archive.elites import Elites
from adrs.archive.records import ProgramRecord
from adrs.mutate.offline.guards import guard_spots
from adrs.mutate.offline.neighbours import control_pairs, single_edits
from adrs.mutate.offline.sites import Analysis
from adrs.mutate.offline.splices import apply_splices
from adrs.program import normalized_hash
from adrs.search.signal import complete_score


def same_score(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def listing(code: str) -> tuple[list[str], list[tuple[int, int]]]:
    """The normalised hash of each single edit's child of `code`, in neighbours.py's order, and
    the index pairs of those edits that are two nested decisions (`control_pairs`)."""
    analysis = Analysis.of(code)
    if analysis is None:
        return [], []
    edits = [edit for _, edit in single_edits(analysis)]
    return [normalized_hash(apply_splices(code, edit.splices)) for edit in edits], control_pairs(analysis, edits)


@dataclass
class StallSweep:
    pairs: int  # how many of the changed single edits are paired (the least harmful ones)
    target: int | None = None  # the program being swept (its id in the view)
    target_score: float | None = None
    origin: float | None = None  # the run's best score when this sweep began (a better best restarts it)
    proposed: set[int] = field(default_factory=set)  # single edits proposed
    outcomes: dict[int, tuple[float | None, int | None]] = field(default_factory=dict)  # index -> (score, program id)
    paired: set[tuple[int, int]] = field(default_factory=set)
    visited: list[int] = field(default_factory=list)  # programs swept since the best last improved
    control: bool = True  # step 0: the nested-decision pairs first (AdaptiveConfig.sweep_control)
    _hashes: dict[str, int] | None = None  # the target's children's hashes -> index (derived, not stored)
    _size: int = 0
    _coupled: list[tuple[int, int]] = field(default_factory=list)  # the target's control_pairs: derived
    _guardable: tuple[int, bool] | None = None  # (target id, whether a guard can go into it): derived

    # which entry next ---------------------------------------------------------------------------
    def next(
        self, view: Elites, best: ProgramRecord, rng: random.Random
    ) -> tuple[ProgramRecord, tuple[int, ...]] | None:
        """The target and the edit indices of the next sweep proposal, or None (nothing to propose now)."""
        if not self._follow(best):
            return None
        for _ in range(4):  # at most a few neutral steps in one call
            target = view.programs.get(self.target) if self.target is not None else None
            if target is None:
                return None
            self._index(view, target)
            coupled = [pair for pair in self._coupled if pair not in self.paired]
            if coupled:
                return target, rng.choice(coupled)
            remaining = [i for i in range(self._size) if i not in self.proposed and i not in self.outcomes]
            if remaining:
                return target, (rng.choice(remaining),)
            if len(self.outcomes) < self._size:
                return None  # singles still being evaluated: their outcomes decide the pairs
            pairs = self._open_pairs()
            if pairs:
                return target, rng.choice(pairs)
            if not self._step(view, rng):
                return None
        return None

    def guard_target(self, view: Elites, best: ProgramRecord) -> ProgramRecord | None:
        """The program being swept (the run's best, or a neutral neighbour the sweep stepped to), if a
        guard can go into it (adrs/mutate/offline/guards.py); None otherwise."""
        target = view.programs.get(self.target) if self._follow(best) and self.target is not None else None
        if target is None:
            return None
        if self._guardable is None or self._guardable[0] != target.id:
            analysis = Analysis.of(target.code)
            self._guardable = (target.id, analysis is not None and bool(guard_spots(analysis)))
        return target if self._guardable[1] else None

    def _follow(self, best: ProgramRecord) -> bool:
        """Start over on the run's best if it changed since this sweep began; False if it has no score."""
        score = complete_score(best)
        if score is None:
            return False
        if self.origin is None or not same_score(score, self.origin):
            self._retarget(best, score)
        return True

    def _open_pairs(self) -> list[tuple[int, int]]:
        """Pairs not tried yet: of two changed edits first (the `pairs` least harmful), then of a
        neutral edit and one of those (a step along the plateau and a change from there)."""
        assert self.target_score is not None
        target = self.target_score
        scored = [(score, index) for index, (score, _) in self.outcomes.items() if score is not None]
        ranked = sorted((c for c in scored if not same_score(c[0], target)), key=lambda c: (-c[0], c[1]))
        changed = sorted(index for _, index in ranked[: self.pairs])
        both = [(a, b) for n, a in enumerate(changed) for b in changed[n + 1 :] if (a, b) not in self.paired]
        if both:
            return both
        neutral = sorted(index for score, index in scored if same_score(score, target))
        return [(min(a, b), max(a, b)) for a in neutral for b in changed if (min(a, b), max(a, b)) not in self.paired]

    def _step(self, view: Elites, rng: random.Random) -> bool:
        """Move the target to a neutral single edit of it not swept yet; False if there is none."""
        assert self.target_score is not None
        neutral = sorted(
            pid
            for score, pid in self.outcomes.values()
            if score is not None and pid is not None and same_score(score, self.target_score)
            and pid not in self.visited and pid in view.programs
        )  # fmt: skip
        if not neutral:
            return False
        self._start(view.programs[rng.choice(neutral)])
        return True

    def _retarget(self, best: ProgramRecord, score: float) -> None:
        self.origin = score
        self.visited = []
        self._start(best)

    def _start(self, target: ProgramRecord) -> None:
        self.target, self.target_score = target.id, complete_score(target)
        self.proposed, self.outcomes, self.paired = set(), {}, set()
        self.visited.append(target.id)
        self._hashes = None

    def _index(self, view: Elites, target: ProgramRecord) -> None:
        """The target's children's hashes, and the outcomes of those already in the view."""
        if self._hashes is not None:
            return
        hashes, coupled = listing(target.code)
        self._size = len(hashes)
        self._coupled = coupled if self.control else []
        self._hashes = {}
        for index, code_hash in enumerate(hashes):
            if code_hash in self._hashes or code_hash == target.code_hash:
                self.outcomes.setdefault(index, (None, None))  # the same child as another entry, or none
            else:
                self._hashes[code_hash] = index
        # Every result the view has received, failed ones included (they are not among its
        # programs): a resumed run re-indexes here, and must know the same outcomes as one that
        # went on without stopping (a failed child taken in then and not now made them differ).
        for program in view.arrivals:
            self.took(program, view)

    # results ------------------------------------------------------------------------------------
    def took(self, program: ProgramRecord, view: Elites) -> None:
        """A result came in: if it is one of the target's single edits, its score is that edit's outcome."""
        if self.target is None:
            return
        if self._hashes is None:
            target = view.programs.get(self.target)
            if target is None:
                return
            self._index(view, target)  # scans the view's arrivals, this program included
            return
        index = self._hashes.get(program.code_hash)
        if index is None or (index in self.outcomes and self.outcomes[index][1] is not None):
            return
        self.outcomes[index] = (complete_score(program), program.id)

    def proposed_entry(self, indices: tuple[int, ...], made: bool) -> None:
        """The proposal for `indices` was stored (made) or yielded no program (a single: no outcome to wait for)."""
        if len(indices) == 1:
            self.proposed.add(indices[0])
            if not made and indices[0] not in self.outcomes:
                self.outcomes[indices[0]] = (None, None)
        else:
            self.paired.add((indices[0], indices[1]))

    # state --------------------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "target_score": self.target_score,
            "origin": self.origin,
            "proposed": sorted(self.proposed),
            "outcomes": sorted([i, s, p] for i, (s, p) in self.outcomes.items()),
            "paired": sorted([a, b] for a, b in self.paired),
            "visited": list(self.visited),
        }

    @classmethod
    def from_state(cls, data: dict[str, Any] | None, pairs: int, control: bool = True) -> StallSweep:
        """The sweep stored with a run (None: a run stored before v5, which had none)."""
        if not data:
            return cls(pairs, control=control)
        return cls(
            pairs,
            data["target"],
            data["target_score"],
            data["origin"],
            {int(i) for i in data["proposed"]},
            {int(i): (s, p) for i, s, p in data["outcomes"]},
            {(int(a), int(b)) for a, b in data["paired"]},
            [int(v) for v in data["visited"]],
            control,
        )
