"""The built-in offline mutator: random AST-level edits inside EVOLVE-BLOCK regions, no LLM needed.

`OfflineMutator.propose(parent, inspirations, rng)` picks an operator by weight (trying the others
when one has nothing to act on), applies it as exact text splices, and occasionally chains 2-3
operators. `escalation` k > 0 (the adaptive search's answer to a stalled line of programs: the
offline analogue of asking a model for a new approach) makes edits larger: chains are likelier
and longer (up to 3 + k operators) and crossover, which grafts whole functions and statement
blocks from other programs, is weighted (1 + k) times as much. `focus` (line numbers of the
parent, from the adaptive search: where the parent's own gain was made) makes the first edit of
a child land on those lines most of the time, so a knob that just paid off is tried again, and
`momentum` (the numbers that gain changed) makes about half of the children push one of them a
step or two further the same way (adrs/mutate/offline/momentum.py). `listed` (the stall sweep's
entries of neighbours.py's list, applied together) and `guarded` (one guard inserted, guards.py)
are the adaptive search's stall sweep's; the guard is never drawn by weight. A child
is returned only if it compiles, differs from the parent by normalized hash and
leaves everything outside the regions byte-identical (`check_edit_allowed`); otherwise it retries,
up to `max_attempts`, then gives up with None. Every random choice comes from the rng passed in,
and every iteration order is the source order, so a seed fixes the sequence of children.
`OfflineSource` runs it behind the engine's proposal interface (adrs/mutate/base.py).

Must not: use the global `random` module, run or import the programs, or touch the archive.
"""

from __future__ import annotations

import math
import random
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from adrs.mutate.base import Proposal, ProposalContext, ProposalSource
from adrs.mutate.offline.constants import perturb_constant
from adrs.mutate.offline.crossover import crossover
from adrs.mutate.offline.expressions import flip_bool, swap_arith, swap_compare, tweak_sort
from adrs.mutate.offline.guards import GUARD_OPERATOR, draw_guard, guard_spots, insert_guard
from adrs.mutate.offline.momentum import extrapolate_constant
from adrs.mutate.offline.neighbours import single_edits
from adrs.mutate.offline.sites import Analysis
from adrs.mutate.offline.splices import Edit, apply_splices
from adrs.mutate.offline.statements import delete_stmt, duplicate_stmt, swap_stmts
from adrs.program import MarkerError, check_edit_allowed
from adrs.search.focus import PUSH_OPERATOR, Step

Operator = Callable[[Analysis, random.Random, Sequence[Analysis]], Edit | None]

OPERATORS: Mapping[str, Operator] = MappingProxyType(
    {
        "perturb_constant": perturb_constant,
        "swap_compare": swap_compare,
        "swap_arith": swap_arith,
        "flip_bool": flip_bool,
        "delete_stmt": delete_stmt,
        "duplicate_stmt": duplicate_stmt,
        "swap_stmts": swap_stmts,
        "tweak_sort": tweak_sort,
        "crossover": crossover,
        GUARD_OPERATOR: insert_guard,
    }
)
# Constants carry most of a heuristic's tuning, so they are perturbed most often; edits that
# remove or restructure code are rarer because they break programs more often.
DEFAULT_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {
        "perturb_constant": 3.0,
        "swap_compare": 1.0,
        "swap_arith": 1.0,
        "flip_bool": 1.0,
        "delete_stmt": 0.6,
        "duplicate_stmt": 0.5,
        "swap_stmts": 0.8,
        "tweak_sort": 0.8,
        "crossover": 1.5,
        GUARD_OPERATOR: 0.0,  # the adaptive search's stall sweep asks for guards itself (`guarded`)
    }
)
CHAIN_PROBABILITY = 0.2  # how often a child gets 2-3 chained operators instead of one
ESCALATED_CHAIN_PROBABILITY = 0.25  # added per escalation level: a stalled line gets mostly multi-edits
FOCUS_PROBABILITY = 0.6  # with focus lines, how often the first edit must touch them
FOCUS_DRAWS = 8  # edits drawn to find one on the focus lines before giving up on focus
SWEEP_OPERATOR = "sweep"  # a child made from listed single edits (the adaptive search's stall sweep)
MOMENTUM_PROBABILITY = 0.5  # with momentum steps, how often a child is the step pushed further
# Parsed programs kept between proposals; inspirations get their own cache so that a stream of
# one-off parents cannot evict the elites that keep serving as inspirations.
_PARENT_CACHE_SIZE = 16
_INSPIRATION_CACHE_SIZE = 64


@dataclass(frozen=True)
class Mutation:
    """A proposed child: its full code, the operator(s) used ("a+b" when chained), what changed."""

    code: str
    operator: str
    description: str


def _checked_weights(weights: Mapping[str, float]) -> dict[str, float]:
    unknown = sorted(set(weights) - set(OPERATORS))
    if unknown:
        raise ValueError(f"unknown offline operators {unknown}; known: {list(OPERATORS)}")
    checked = {name: float(weights.get(name, 0.0)) for name in OPERATORS}
    bad = [name for name, w in checked.items() if not math.isfinite(w) or w < 0]
    if bad:
        raise ValueError(f"operator weights must be finite and >= 0: {bad}")
    if not any(checked.values()):
        raise ValueError("at least one operator weight must be positive")
    return checked


class _LazyAnalyses(Sequence[Analysis]):
    """The inspirations, parsed only if an operator (crossover) looks at them; unparsable ones dropped."""

    def __init__(self, codes: Sequence[str], analyse: Callable[[str], Analysis | None]) -> None:
        self._codes = codes
        self._analyse = analyse
        self._items: list[Analysis] | None = None

    def _all(self) -> list[Analysis]:
        if self._items is None:
            parsed = (self._analyse(code) for code in self._codes)
            self._items = [item for item in parsed if item is not None]
        return self._items

    def __len__(self) -> int:
        return len(self._all())

    def __getitem__(self, index: int) -> Analysis:  # type: ignore[override]
        return self._all()[index]

    def __iter__(self) -> Iterator[Analysis]:
        return iter(self._all())


class OfflineMutator:
    """Proposes children by AST-level edits. `operator_weights` replaces the defaults: unnamed operators are off."""

    name = "offline"

    def __init__(self, max_attempts: int = 20, operator_weights: Mapping[str, float] | None = None) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
        self.max_attempts = max_attempts
        weights = DEFAULT_WEIGHTS if operator_weights is None else _checked_weights(operator_weights)
        self.operator_weights: Mapping[str, float] = MappingProxyType(dict(weights))
        self._active = [(name, w) for name, w in self.operator_weights.items() if w > 0]
        self._parents: OrderedDict[str, Analysis | None] = OrderedDict()
        self._inspirations: OrderedDict[str, Analysis | None] = OrderedDict()
        self._listing: tuple[str, list[tuple[str, Edit]]] | None = None  # the last listed parent's single edits

    def propose(
        self,
        parent_code: str,
        inspirations: Sequence[str],
        rng: random.Random,
        escalation: int = 0,
        focus: Sequence[int] = (),
        momentum: Sequence[Step] = (),
    ) -> Mutation | None:
        """A valid child of `parent_code`, or None if no operator yields one in max_attempts tries.

        Raises MarkerError if the parent's own EVOLVE-BLOCK markers are broken.
        """
        parent = self._analyse(parent_code, with_regions=True)
        if parent is None:
            return None  # AST edits need a parsable parent
        donors = _LazyAnalyses(inspirations, lambda code: self._analyse(code, with_regions=False))
        active = self._active if escalation <= 0 else self._escalated(escalation)
        spans = _line_spans(parent, focus)
        for _ in range(self.max_attempts):
            if momentum and rng.random() < MOMENTUM_PROBABILITY:
                pushed = self._pushed(parent, rng, momentum)
                if pushed is not None:
                    return pushed
            steps = self._steps(rng, escalation)
            current, names, descriptions = parent, [], []
            for step in range(steps):
                if step == 0 and spans and rng.random() < FOCUS_PROBABILITY:
                    applied = self._apply_focused(current, rng, donors, active, spans)
                else:
                    applied = self._apply_one(current, rng, donors, active)
                if applied is None:
                    break
                name, edit = applied
                child = _analyse_child(apply_splices(current.code, edit.splices))
                if child is None:
                    break
                current = child
                names.append(name)
                descriptions.append(edit.description)
            if not names:
                continue  # operators may fail by chance (a value that rounds back), so try again
            if _acceptable(parent, current):
                return Mutation(current.code, "+".join(names), "; ".join(descriptions))
        return None

    def listed(self, parent_code: str, indices: Sequence[int]) -> Mutation | None:
        """The parent with the given entries of its list of single edits (neighbours.py) applied together."""
        parent = self._analyse(parent_code, with_regions=True)
        if parent is None:
            return None
        if self._listing is None or self._listing[0] != parent_code:
            # A sweep lists one target's edits for dozens of proposals in a row: list them once.
            self._listing = (parent_code, single_edits(parent))
        edits = self._listing[1]
        if not indices or any(not 0 <= i < len(edits) for i in indices):
            return None
        chosen = [edits[i] for i in indices]
        try:
            code = apply_splices(parent.code, tuple(s for _, edit in chosen for s in edit.splices))
        except ValueError:  # the edits overlap
            return None
        child = _analyse_child(code)
        if child is None or not _acceptable(parent, child):
            return None
        return Mutation(child.code, SWEEP_OPERATOR, "; ".join(edit.description for _, edit in chosen))

    def guarded(self, parent_code: str, rng: random.Random) -> Mutation | None:
        """The parent with one guard inserted (guards.py), drawn until one makes a valid child."""
        parent = self._analyse(parent_code, with_regions=True)
        if parent is None:
            return None
        spots = guard_spots(parent)  # once: each draw below picks among them
        for _ in range(self.max_attempts):
            edit = draw_guard(spots, rng)
            if edit is None:
                return None  # nowhere to put one
            child = _analyse_child(apply_splices(parent.code, edit.splices))
            if child is not None and _acceptable(parent, child):
                return Mutation(child.code, GUARD_OPERATOR, edit.description)
        return None

    @staticmethod
    def _pushed(parent: Analysis, rng: random.Random, momentum: Sequence[Step]) -> Mutation | None:
        """The parent with one of its gain's numbers moved further the same way, if that is a valid child."""
        edit = extrapolate_constant(parent, rng, momentum)
        if edit is None:
            return None
        child = _analyse_child(apply_splices(parent.code, edit.splices))
        if child is None or not _acceptable(parent, child):
            return None
        return Mutation(child.code, PUSH_OPERATOR, edit.description)

    @staticmethod
    def _steps(rng: random.Random, escalation: int) -> int:
        """How many operators this child chains."""
        if escalation <= 0:
            return 1 if rng.random() >= CHAIN_PROBABILITY else rng.choice((2, 2, 3))
        chance = min(0.9, CHAIN_PROBABILITY + ESCALATED_CHAIN_PROBABILITY * escalation)
        return 1 if rng.random() >= chance else rng.randint(2, 3 + escalation)

    def _apply_focused(
        self,
        analysis: Analysis,
        rng: random.Random,
        donors: Sequence[Analysis],
        active: list[tuple[str, float]],
        spans: list[tuple[int, int]],
    ) -> tuple[str, Edit] | None:
        """An edit that touches one of `spans` (character ranges), else the last one drawn."""
        applied = None
        for _ in range(FOCUS_DRAWS):
            applied = self._apply_one(analysis, rng, donors, active)
            if applied is None:
                return None
            if any(s.start < end and start <= s.end for s in applied[1].splices for start, end in spans):
                return applied
        return applied

    def _escalated(self, escalation: int) -> list[tuple[str, float]]:
        return [(name, w * (1 + escalation) if name == "crossover" else w) for name, w in self._active]

    def _apply_one(
        self, analysis: Analysis, rng: random.Random, donors: Sequence[Analysis], active: list[tuple[str, float]]
    ) -> tuple[str, Edit] | None:
        """Apply one operator drawn by weight; an operator with nothing to act on yields to the rest."""
        remaining = list(active)
        while remaining:
            draw = rng.random() * sum(w for _, w in remaining)
            index = 0
            while index < len(remaining) - 1 and draw >= remaining[index][1]:
                draw -= remaining[index][1]
                index += 1
            name, _ = remaining.pop(index)
            edit = OPERATORS[name](analysis, rng, donors)
            if edit is not None and edit.splices:
                return name, edit
        return None

    def _analyse(self, code: str, *, with_regions: bool) -> Analysis | None:
        cache, size = (
            (self._parents, _PARENT_CACHE_SIZE) if with_regions else (self._inspirations, _INSPIRATION_CACHE_SIZE)
        )
        if code in cache:
            cache.move_to_end(code)
            return cache[code]
        analysis = Analysis.of(code, with_regions=with_regions)
        cache[code] = analysis
        if len(cache) > size:
            cache.popitem(last=False)
        return analysis


def _line_spans(analysis: Analysis, lines: Sequence[int]) -> list[tuple[int, int]]:
    """Character ranges of the given 1-based lines of the analysed program (unknown lines dropped)."""
    starts = analysis.src.starts  # one entry per line, then the end of the text
    return [(starts[line - 1], starts[line]) for line in sorted(set(lines)) if 1 <= line < len(starts)]


def _analyse_child(code: str) -> Analysis | None:
    try:
        return Analysis.of(code)
    except MarkerError:  # e.g. a copied string literal that contains a marker
        return None


def _acceptable(parent: Analysis, child: Analysis) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(child.tree, "<candidate>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    if child.hash == parent.hash:
        return False
    return check_edit_allowed(parent.code, child.code) is None


class OfflineSource(ProposalSource):
    """The built-in offline mutator behind the async proposal interface."""

    name = "offline"
    concurrency = 1  # proposals are instant: one at a time keeps a seeded run reproducible
    sweeps = True

    def __init__(self) -> None:
        self._mutator = OfflineMutator()

    async def propose(self, context: ProposalContext) -> Proposal:
        if context.guard:
            mutation = self._mutator.guarded(context.parent.code, context.rng)
            if mutation is None:
                return Proposal(None, self.name, error_kind="no_edit", error="no guard makes a valid child")
            return Proposal(mutation.code, self.name, description=f"{mutation.operator}: {mutation.description}")
        if context.sweep:
            mutation = self._mutator.listed(context.parent.code, context.sweep)
            if mutation is None:
                return Proposal(None, self.name, error_kind="no_edit", error="the listed edits make no valid child")
            return Proposal(mutation.code, self.name, description=f"{mutation.operator}: {mutation.description}")
        mutation = self._mutator.propose(
            context.parent.code,
            [p.code for p in context.inspirations],
            context.rng,
            context.escalation,
            context.focus_lines,
            context.momentum,
        )
        if mutation is None:
            return Proposal(None, self.name, error_kind="no_edit", error="no valid mutation found")
        return Proposal(mutation.code, self.name, description=f"{mutation.operator}: {mutation.description}")
