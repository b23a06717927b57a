"""The adaptive search controller (`--selection adaptive`): where the next proposal goes, and how.

Owns, for one run: the islands (population.py: their improvement signals and exploration
intensities, which are active, spawned while the run improves rarely, retired when one has long
stopped, the stall counters that make the offline mutator's edits larger), the island bandit
(bandit.py), what exploitation has already spent (ledger.py: pushes of a gain without a gain,
hill-like children of the run's best), the stall sweep of an offline run's neighbourhood
(sweep.py), and the breakthrough approaches of an LLM run (paradigms.py). All of it is a function of
the results in the order the proposer's view received them (in a deterministic run: proposal
order) and of the proposal's seeded rng, and it is stored in the archive (state key
`adaptive_search`, the island keeper's state with it) after every change, so `adrs resume`
continues exactly where the run stopped. That state is the run's own engine's: an engine that
joined the run (`adrs run --join`) starts from it and keeps its own in memory (`persist=False`),
else the engines' saves would overwrite each other and a resume would continue whichever was last.

The engine calls, from its proposer only:
  `maintain(view, copies, also)`  after the island keeper: take in new results and copies, spawn, retire;
  `choose(view, rng)`             the island, parent, inspirations, intensity, edit size and prompt guidance;
  `choose_given(view, rng, parent)`  the same around a parent a written strategy drew (written.py);
  `settled(choice, program)`      the proposal was stored as `program` (or yielded none: None);
  `wants_breakthrough()` / `breakthrough_done(...)` around the source's breakthrough call.

Must not: evaluate, call models, or write anything but its state and its events (island_spawned,
island_retired, breakthrough, paradigm_cited).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from adrs.archive.elites import Elites
from adrs.archive.records import ProgramRecord
from adrs.archive.select import Selection, SelectionConfig, inspirations
from adrs.archive.store import Archive
from adrs.islands import IslandKeeper
from adrs.search.bandit import IslandBandit
from adrs.search.config import AdaptiveConfig
from adrs.search.focus import Step, focus_of, gain_of, momentum_of
from adrs.search.ledger import ExploitLedger, is_push
from adrs.search.paradigms import BREAKTHROUGH_EVENT, CITED_EVENT, Paradigm, ParadigmBook, guidance_text
from adrs.search.parents import EXPLOIT, EXPLORE, choose_parent
from adrs.search.population import IslandPopulation
from adrs.search.signal import complete_score
from adrs.search.sweep import StallSweep

STATE_KEY = "adaptive_search"
PARADIGM = "paradigm"
HILL = "hill"  # a single, unfocused edit of the run's best, as hill climbing makes (ledger.py)
WRITTEN = "written"  # the parent a model-written selection strategy drew (written.py)
SWEEP = "sweep"  # listed single edits of a stalled run's best or a neutral neighbour of it (sweep.py)
GUARD = "guard"  # a guard inserted into the sweep's target (adrs/mutate/offline/guards.py)
_INSPIRATIONS = SelectionConfig()  # how many top and diverse inspirations a prompt shows

MODE_GUIDANCE = {
    EXPLORE: "This parent was drawn to explore: prefer a different idea over a small tweak of it.",
    EXPLOIT: "This is the island's best program: refine it.",
    HILL: "This is the run's best program: make one small, targeted change to it.",
    WRITTEN: "The search's current selection strategy chose this parent: improve it.",
}


@dataclass(frozen=True)
class Choice:
    """What the next proposal is built from."""

    island: int
    selection: Selection
    mode: str  # explore | exploit | balanced | paradigm | hill
    intensity: float
    escalation: int  # 0: ordinary edits; k: the offline mutator chains up to k more operators
    guidance: str  # for an LLM prompt: the mode, the stall, the approach to follow
    paradigm: tuple[int, str] | None = None  # (breakthrough number, approach name) cited
    focus_lines: tuple[int, ...] = ()  # exploiting a parent whose own creation was a gain: where it was made
    momentum: tuple[Step, ...] = ()  # ... and the numbers that gain changed (to push further the same way)
    sweep: tuple[int, ...] = ()  # the stall sweep's entries of the parent's list of single edits (sweep.py)
    guard: bool = False  # the stall sweep's other entry: insert a guard into the parent


class AdaptiveSearch:
    def __init__(
        self,
        archive: Archive,
        run_id: int,
        config: AdaptiveConfig,
        islands: int,
        keeper: IslandKeeper,
        sweeps: bool = False,  # the source applies listed edits (the offline mutator): sweep when stalled
        persist: bool = True,  # False in an engine that joined the run: the stored state is not its own
    ):
        self.archive = archive
        self.persist = persist
        self.run_id = run_id
        self.config = config
        self.keeper = keeper
        self.bandit = IslandBandit(config.ucb_c, config.decay, config.min_pulls)
        self.population = IslandPopulation.start(archive, run_id, config, keeper, islands)
        self.book = ParadigmBook(config.paradigm_uses)
        self.ledger = ExploitLedger()
        self.sweeps = sweeps and config.sweep_share > 0
        self.sweep = StallSweep(config.sweep_pairs, control=config.sweep_control)
        self.initial: float | None = None  # the initial program's score: where progress is measured from
        self.best: float | None = None  # the run's best complete score in the view
        self.evaluations = 0  # children taken in (failures included)
        self.since_best = 0  # of which since the run's best last improved
        self.consumed_below = 0  # every result with a smaller proposal index has been taken in
        self.consumed: set[int] = set()  # results at or above consumed_below taken in
        self._cursor = 0  # position in the view's arrivals already looked at (this process only)
        self._in_flight: Counter[int] = Counter()
        state = archive.get_state(run_id, STATE_KEY)
        if state is not None:
            self._load(state)

    # taking in results ------------------------------------------------------------------------
    def maintain(self, view: Elites, copies: list[ProgramRecord], also: Elites | None = None) -> None:
        """Take in the keeper's copies and the view's new results, then spawn or retire islands."""
        changed = bool(copies)
        for copy in copies:
            self.population.received(copy)
        for program in view.arrivals[self._cursor :]:
            if not self._is_consumed(program.proposal_index):
                self._take(program, view)
                self._mark_consumed(program.proposal_index)
                changed = True
        self._cursor = len(view.arrivals)
        changed |= self.population.share_best(view, also)
        changed |= self.population.retire(self.evaluations)
        changed |= self.population.spawn(view, also, self.evaluations)
        if changed:
            self.save()

    def _progress(self) -> float:
        if self.best is None or self.initial is None:
            return 0.0
        return self.best - self.initial

    def _take(self, program: ProgramRecord, view: Elites) -> None:
        score = complete_score(program)
        if program.parent_id is None:  # the initial program (or a baseline): the reference, not a child
            if program.mutator == "initial" and score is not None:
                self.initial = score
            self.population.signal(program.island).receive(score)
            self._note_best(score, child=False, island=program.island)
            return
        if self.sweeps:
            self.sweep.took(program, view)
        parent = view.programs.get(program.parent_id)
        if parent is not None and is_push(program):
            self.ledger.took_push(parent, complete_score(parent), score)
        signal = self.population.signal(program.island)
        progress = self._progress()
        before = signal.best
        delta = signal.record(score, progress, self.config.decay)
        if delta > 0 and before is not None and score is not None:
            unit = self.config.reward_unit * progress
            reward = 1.0 if unit <= 0 else min(1.0, (score - before) / unit)
        else:
            reward = 1.0 if delta > 0 else 0.0
        self.bandit.reward(program.island, reward)
        self.population.child_taken(delta > 0)
        self.evaluations += 1
        self._note_best(score, child=True, island=program.island)

    def _note_best(self, score: float | None, child: bool, island: int) -> None:
        if score is not None and (self.best is None or score > self.best):
            self.best = score
            self.population.best_island = island
            self.since_best = 0
        elif child:
            self.since_best += 1

    # Results are recognised by proposal index (unique among a run's own programs, copies aside),
    # stored as "every index below N" plus the few taken in out of order.
    def _is_consumed(self, index: int) -> bool:
        return index < self.consumed_below or index in self.consumed

    def _mark_consumed(self, index: int) -> None:
        self.consumed.add(index)
        while self.consumed_below in self.consumed:
            self.consumed.discard(self.consumed_below)
            self.consumed_below += 1

    # the islands (population.py) ----------------------------------------------------------------
    @property
    def active(self) -> list[int]:
        return self.population.active

    def intensity(self, island: int) -> float:
        return self.population.intensity(island)

    def escalation(self, island: int) -> int:
        return self.population.escalation(island)

    # choosing ---------------------------------------------------------------------------------
    def choose(self, view: Elites, rng: random.Random) -> Choice | None:
        """The next proposal's island (bandit), parent (by the island's intensity) and guidance."""
        island = self.bandit.choose(self.active, self._in_flight)
        intensity = self.intensity(island)
        cited = self.book.next()
        best = view.best()
        entries: tuple[int, ...] = ()  # the stall sweep's, when this proposal is one of its entries
        guard = False
        if cited is not None and best is not None:
            index, paradigm = cited
            self.book.cite(index)
            parent, mode = best, PARADIGM
            guidance = guidance_text(paradigm, self.book.number)
            chosen_paradigm: tuple[int, str] | None = (self.book.number, paradigm.name)
            escalation = 0
        elif (swept := self._sweep_entry(view, best, rng)) is not None:
            parent, entries = swept
            guard = not entries
            mode, escalation, guidance, chosen_paradigm = GUARD if guard else SWEEP, 0, "", None
        else:
            picked = self._hill_parent(view, island, best, rng)
            if picked is None:
                picked = choose_parent(view, island, intensity, self.config.exploit_share, rng)
            if picked is None:
                if best is None:
                    return None
                picked = (best, EXPLOIT)  # a spawned island whose seeds are not in this view yet
            parent, mode = picked
            escalation = 0
            if mode != HILL and rng.random() < self.config.escalated_share:
                escalation = self.escalation(island)
            guidance = self._guidance(mode, island, escalation, parent, view)
            chosen_paradigm = None
        focus = focus_of(parent, view) if mode == EXPLOIT else ()
        momentum = self._momentum(parent, view) if mode in (EXPLOIT, HILL) else ()
        selection = Selection(parent, inspirations(view, parent, island, rng, _INSPIRATIONS), f"adaptive:{mode}")
        self._in_flight[island] += 1
        return Choice(
            island, selection, mode, intensity, escalation, guidance, chosen_paradigm, focus, momentum, entries, guard
        )

    def choose_given(self, view: Elites, rng: random.Random, parent: ProgramRecord) -> Choice:
        """The choice for a parent drawn elsewhere (a written selection strategy): its island, the
        inspirations and the guidance; counted in flight and settled like any other."""
        island = parent.island if parent.island in self.active else self.bandit.choose(self.active, self._in_flight)
        selection = Selection(parent, inspirations(view, parent, island, rng, _INSPIRATIONS), f"adaptive:{WRITTEN}")
        self._in_flight[island] += 1
        return Choice(island, selection, WRITTEN, self.intensity(island), 0, MODE_GUIDANCE[WRITTEN])

    def _sweep_entry(
        self, view: Elites, best: ProgramRecord | None, rng: random.Random
    ) -> tuple[ProgramRecord, tuple[int, ...]] | None:
        """The stall sweep's next entry for `sweep_share` of the proposals once the run's best has
        stalled: for `guard_share` of them its target and no entries (insert a guard), where a guard
        can go into it; else its next listed edits."""
        if not self.sweeps or best is None or self.since_best < self.config.sweep_after:
            return None
        if rng.random() >= self.config.sweep_share:
            return None
        if self.config.guard_share:
            # Drawn only where a guard has a place: a run without one draws exactly as with no guards.
            target = self.sweep.guard_target(view, best)
            if target is not None and rng.random() < self.config.guard_share:
                return target, ()
        return self.sweep.next(view, best, rng)

    def _hill_parent(
        self, view: Elites, island: int, best: ProgramRecord | None, rng: random.Random
    ) -> tuple[ProgramRecord, str] | None:
        """The island's copy of the run's best for `hill_share` of the proposals, while its neighbourhood is open.

        Every island gets them, whatever its intensity or stall: the best's single edits are what
        hill climbing lives on, and a run that spends them on exploring or larger edits can miss
        the one edit that lifts the score."""
        if best is None or not best.complete:
            return None
        share = self._hill_share(best)
        if share is None or rng.random() >= share:  # no draw once the neighbourhood closed, as in v3
            return None
        members = view.ranked(island)
        parent = members[0] if members and members[0].original_id == best.original_id else best
        return parent, HILL

    def _hill_share(self, best: ProgramRecord) -> float | None:
        """`hill_share` until `neighbourhood` hill-like children of the best were proposed; then None
        (closed), or with `neighbourhood_decay` hill_share x neighbourhood / k at the k-th child."""
        size, samples = self.config.neighbourhood, self.ledger.hill_samples(best)
        if samples < size:
            return self.config.hill_share
        if size == 0 or not self.config.neighbourhood_decay:
            return None
        return self.config.hill_share * size / (samples + 1)

    def _momentum(self, parent: ProgramRecord, view: Elites) -> tuple[Step, ...]:
        """The numbers of the parent's gain to push further, none once pushing them has stopped paying."""
        if self.ledger.momentum_spent(parent, self.config.momentum_patience):
            return ()
        return momentum_of(parent, view)

    def _guidance(self, mode: str, island: int, escalation: int, parent: ProgramRecord, view: Elites) -> str:
        parts = [MODE_GUIDANCE[mode]] if mode in MODE_GUIDANCE else []
        gain = gain_of(parent, view) if mode in (EXPLOIT, HILL) else None
        if gain is not None and self.ledger.momentum_spent(parent, self.config.momentum_patience):
            gain = None
        if gain is not None and gain.description:
            parts.append(
                f"Its last gain came from this change: {gain.description[:300]}. "
                "Pushing further along it may pay again."
            )
        if escalation:
            stalled = self.population.signal(island).since_improvement
            parts.append(
                f"Small edits have not improved this line of programs in {stalled} evaluations: "
                "make a larger, structural change."
            )
        return " ".join(parts)

    def settled(self, choice: Choice, program: ProgramRecord | None) -> None:
        """The proposal built from `choice` was stored as `program`, or yielded none (None)."""
        if self._in_flight[choice.island] > 0:
            self._in_flight[choice.island] -= 1
        if choice.sweep:
            self.sweep.proposed_entry(choice.sweep, program is not None)
        if program is None:
            if choice.sweep or choice.guard:  # the sweep's state moved (an entry tried, a new target)
                self.save()
            return
        self.bandit.pulled(choice.island)
        if choice.mode == HILL:
            self.ledger.hill_child(choice.selection.parent)
        if choice.paradigm is not None:
            number, name = choice.paradigm
            self.archive.add_event(
                self.run_id,
                CITED_EVENT,
                {
                    "number": number,
                    "paradigm": name,
                    "proposal_index": program.proposal_index,
                    "program_id": program.id,
                },
            )
        self.save()

    # breakthroughs ----------------------------------------------------------------------------
    def wants_breakthrough(self) -> bool:
        """The run has stalled, no approach is left to try, and the last call is a window ago."""
        config = self.config
        return (
            config.breakthroughs > 0
            and self.best is not None
            and self.since_best >= config.stall_window
            and not self.book.available()
            and (self.book.called_at is None or self.evaluations - self.book.called_at >= config.stall_window)
        )

    def breakthrough_done(self, paradigms: list[Paradigm], view: Elites, llm_call_id: int | None) -> None:
        """Record a breakthrough call's approaches (none: the call failed; the next try waits a window)."""
        best = view.best()
        if paradigms:
            self.book.replace(paradigms, self.best, self.evaluations, self.best)
            self.archive.add_event(
                self.run_id,
                BREAKTHROUGH_EVENT,
                {
                    "number": self.book.number,
                    "at_evaluation": self.evaluations,
                    "best_id": best.original_id if best else None,
                    "best_score": self.best,
                    "paradigms": [p.to_dict() for p in paradigms],
                    "llm_call_id": llm_call_id,
                },
            )
        else:
            self.book.called_at = self.evaluations
        self.save()

    # state ------------------------------------------------------------------------------------
    def save(self) -> None:
        if self.persist:
            self.archive.put_state(self.run_id, STATE_KEY, self.to_state())

    def to_state(self) -> dict:
        return {
            **self.population.to_state(),
            "bandit": self.bandit.to_state(),
            "book": self.book.to_state(),
            "initial": self.initial,
            "best": self.best,
            "evaluations": self.evaluations,
            "since_best": self.since_best,
            "consumed_below": self.consumed_below,
            "consumed": sorted(self.consumed),
            "keeper": self.keeper.to_state(),
            "ledger": self.ledger.to_state(),
            "sweep": self.sweep.to_state(),
        }

    def _load(self, state: dict) -> None:
        self.population.load_state(state)
        self.bandit.load_state(state["bandit"])
        self.book = ParadigmBook.from_state(state["book"], self.config.paradigm_uses)
        self.initial, self.best = state["initial"], state["best"]
        self.evaluations, self.since_best = int(state["evaluations"]), int(state["since_best"])
        self.consumed_below, self.consumed = int(state["consumed_below"]), {int(i) for i in state["consumed"]}
        self.keeper.load_state(state["keeper"])
        self.ledger = ExploitLedger.from_state(state.get("ledger"))
        self.sweep = StallSweep.from_state(state.get("sweep"), self.config.sweep_pairs, self.config.sweep_control)

    def summary(self) -> dict[int, dict[str, float]]:
        """Per active island: intensity, recent reward per evaluation, children, evaluations since a better best."""
        rewards = self.bandit.scores(self.active)
        return {
            i: {
                "intensity": self.intensity(i),
                "reward": rewards[i],
                "pulls": self.bandit.arm(i).pulls,
                "stalled": self.population.signal(i).since_improvement,
            }
            for i in self.active
        }
