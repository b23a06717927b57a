"""The adaptive search controller (`--selection adaptive`): where the next proposal goes, and how.

Owns, for one run: the per-island improvement signals (signal.py) and exploration intensities,
the island bandit (bandit.py), what exploitation has already spent (ledger.py: pushes of a gain
without a gain, hill-like children of the run's best), the stall sweep of an offline run's
neighbourhood (sweep.py), which islands are active (spawned while the run improves rarely,
retired when one has long stopped), the stall counters that make the offline mutator's edits
larger, and the breakthrough approaches of an LLM run (paradigms.py). All of it is a function of
the results in the order the proposer's view received them (in a deterministic run: proposal
order) and of the proposal's seeded rng, and it is stored in the archive (state key
`adaptive_search`, the island keeper's state with it) after every change, so `adrs resume`
continues exactly where the run stopped.

The engine calls, from its proposer only:
  `maintain(view, copies, also)`  after the island keeper: take in new results and copies, spawn, retire;
  `choose(view, rng)`             the island, parent, inspirations, intensity, edit size and prompt guidance;
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
from adrs.archive.records import ProgramRecord, ProgramStatus
from adrs.archive.select import Selection, SelectionConfig, inspirations
from adrs.archive.store import Archive
from adrs.islands import IslandKeeper
from adrs.search.bandit import IslandBandit
from adrs.search.config import AdaptiveConfig
from adrs.search.focus import Step, focus_of, gain_of, momentum_of
from adrs.search.ledger import ExploitLedger, is_push
from adrs.search.paradigms import BREAKTHROUGH_EVENT, CITED_EVENT, Paradigm, ParadigmBook, guidance_text
from adrs.search.parents import EXPLOIT, EXPLORE, choose_parent
from adrs.search.signal import IslandSignal
from adrs.search.sweep import StallSweep

STATE_KEY = "adaptive_search"
PARADIGM = "paradigm"
HILL = "hill"  # a single, unfocused edit of the run's best, as hill climbing makes (ledger.py)
SWEEP = "sweep"  # listed single edits of a stalled run's best or a neutral neighbour of it (sweep.py)
_INSPIRATIONS = SelectionConfig()  # how many top and diverse inspirations a prompt shows

MODE_GUIDANCE = {
    EXPLORE: "This parent was drawn to explore: prefer a different idea over a small tweak of it.",
    EXPLOIT: "This is the island's best program: refine it.",
    HILL: "This is the run's best program: make one small, targeted change to it.",
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


def _score(program: ProgramRecord) -> float | None:
    """The score the signals compare: complete programs only (a stage-stopped one is no gain)."""
    if program.status != ProgramStatus.EVALUATED or not program.complete:
        return None
    return program.score


class AdaptiveSearch:
    def __init__(
        self,
        archive: Archive,
        run_id: int,
        config: AdaptiveConfig,
        islands: int,
        keeper: IslandKeeper,
        sweeps: bool = False,  # the source applies listed edits (the offline mutator): sweep when stalled
    ):
        self.archive = archive
        self.run_id = run_id
        self.config = config
        self.keeper = keeper
        self.bandit = IslandBandit(config.ucb_c, config.decay, config.min_pulls)
        self.signals: dict[int, IslandSignal] = {i: IslandSignal() for i in range(islands)}
        self.active: list[int] = list(range(islands))
        self.book = ParadigmBook(config.paradigm_uses)
        self.ledger = ExploitLedger()
        self.sweeps = sweeps and config.sweep_share > 0
        self.sweep = StallSweep(config.sweep_pairs)
        self.initial: float | None = None  # the initial program's score: where progress is measured from
        self.best: float | None = None  # the run's best complete score in the view
        # The island whose own child found the run's best (copies of it go to every island, so
        # holding the best says nothing; finding it does): never retired.
        self.best_island: int | None = None
        self.evaluations = 0  # children taken in (failures included)
        self.since_best = 0  # of which since the run's best last improved
        self.recent: list[int] = []  # 1 per child that improved its island's best, the last spawn_window
        self.last_spawn = 0
        self.shared_best: int | None = None  # the run's best program last copied to every active island
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
            self._received(copy)
        for program in view.arrivals[self._cursor :]:
            if not self._is_consumed(program.proposal_index):
                self._take(program, view)
                self._mark_consumed(program.proposal_index)
                changed = True
        self._cursor = len(view.arrivals)
        changed |= self._share_best(view, also)
        changed |= self._retire()
        changed |= self._spawn(view, also)
        if changed:
            self.save()

    def _share_best(self, view: Elites, also: Elites | None) -> bool:
        """Copy a new best of the run to every active island: each island's exploiting then works on it.

        Ring migration alone leaves the other islands polishing older bests for up to an interval;
        what stays island-specific is everything else an island explores from."""
        best = view.best()
        if best is None or not best.complete:
            return False
        original = best.original_id
        if original == self.shared_best:
            return False
        self.shared_best = original
        for island in self.active:
            copy = self.keeper.copy_into(view, best, island, also)
            if copy is not None:
                self._received(copy)
        return True

    def _progress(self) -> float:
        if self.best is None or self.initial is None:
            return 0.0
        return self.best - self.initial

    def _received(self, copy: ProgramRecord) -> None:
        signal = self.signals.setdefault(copy.island, IslandSignal())
        signal.receive(_score(copy))

    def _take(self, program: ProgramRecord, view: Elites) -> None:
        score = _score(program)
        if program.parent_id is None:  # the initial program (or a baseline): the reference, not a child
            if program.mutator == "initial" and score is not None:
                self.initial = score
            self.signals.setdefault(program.island, IslandSignal()).receive(score)
            self._note_best(score, child=False, island=program.island)
            return
        if self.sweeps:
            self.sweep.took(program, view)
        parent = view.programs.get(program.parent_id)
        if parent is not None and is_push(program):
            self.ledger.took_push(parent, _score(parent), score)
        signal = self.signals.setdefault(program.island, IslandSignal())
        progress = self._progress()
        before = signal.best
        delta = signal.record(score, progress, self.config.decay)
        if delta > 0 and before is not None and score is not None:
            unit = self.config.reward_unit * progress
            reward = 1.0 if unit <= 0 else min(1.0, (score - before) / unit)
        else:
            reward = 1.0 if delta > 0 else 0.0
        self.bandit.reward(program.island, reward)
        self.recent = (self.recent + [1 if delta > 0 else 0])[-self.config.spawn_window :]
        self.evaluations += 1
        self._note_best(score, child=True, island=program.island)

    def _note_best(self, score: float | None, child: bool, island: int) -> None:
        if score is not None and (self.best is None or score > self.best):
            self.best = score
            self.best_island = island
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

    # islands come and go ----------------------------------------------------------------------
    def _spawn(self, view: Elites, also: Elites | None) -> bool:
        """A new island while island bests improve rarely: seeded with the best and a different elite."""
        config = self.config
        if (
            len(self.active) >= config.max_islands
            or len(self.recent) < config.spawn_window
            or self.evaluations - self.last_spawn < config.spawn_cooldown
            or sum(self.recent) / len(self.recent) >= config.spawn_below
        ):
            return False
        best = view.best()
        if best is None:
            return False
        island = max(self.signals) + 1
        self.signals[island] = IslandSignal()
        self.active.append(island)
        self.last_spawn = self.evaluations
        seeds = [best, *self._stepping_stone(view, best)]
        for seed in seeds:
            copy = self.keeper.copy_into(view, seed, island, also)
            if copy is not None:
                self._received(copy)
        self.archive.add_event(
            self.run_id,
            "island_spawned",
            {
                "island": island,
                "at_evaluation": self.evaluations,
                "seeds": [s.original_id for s in seeds],
                "improvement_rate": sum(self.recent) / len(self.recent),
            },
        )
        return True

    @staticmethod
    def _stepping_stone(view: Elites, best: ProgramRecord) -> list[ProgramRecord]:
        """The best elite of another MAP-Elites cell than the best's: a different start for the new island."""
        cell = view.cell_of(best)
        others = [p for p in view.all_elites() if view.cell_of(p) != cell and p.complete and p.score is not None]
        if not others:
            return []
        return [max(others, key=lambda p: (p.score, -p.id))]

    def _retire(self) -> bool:
        """Retire an island whose best has not improved in retire_after of its evaluations.

        Never the island that found the run's best, nor below min_islands active islands."""
        for island in list(self.active):
            if len(self.active) <= self.config.min_islands:
                return False
            signal = self.signals[island]
            if signal.since_improvement >= self.config.retire_after and island != self.best_island:
                self.active.remove(island)
                self.archive.add_event(
                    self.run_id,
                    "island_retired",
                    {
                        "island": island,
                        "at_evaluation": self.evaluations,
                        "best": signal.best,
                        "evaluations": signal.evaluations,
                        "improvements": signal.improvements,
                    },
                )
                return True
        return False

    # choosing ---------------------------------------------------------------------------------
    def intensity(self, island: int) -> float:
        c = self.config
        signal = self.signals.setdefault(island, IslandSignal())
        return signal.intensity(c.intensity_min, c.intensity_max, c.signal_scale)

    def escalation(self, island: int) -> int:
        stalled = self.signals.setdefault(island, IslandSignal()).since_improvement
        return min(self.config.max_escalation, stalled // self.config.stall_window)

    def choose(self, view: Elites, rng: random.Random) -> Choice | None:
        """The next proposal's island (bandit), parent (by the island's intensity) and guidance."""
        island = self.bandit.choose(self.active, self._in_flight)
        intensity = self.intensity(island)
        cited = self.book.next()
        best = view.best()
        entries: tuple[int, ...] = ()  # the stall sweep's, when this proposal is one of its entries
        if cited is not None and best is not None:
            index, paradigm = cited
            self.book.cite(index)
            parent, mode = best, PARADIGM
            guidance = guidance_text(paradigm, self.book.number)
            chosen_paradigm: tuple[int, str] | None = (self.book.number, paradigm.name)
            escalation = 0
        elif (swept := self._sweep_entry(view, best, rng)) is not None:
            parent, entries = swept
            mode, escalation, guidance, chosen_paradigm = SWEEP, 0, "", None
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
            island, selection, mode, intensity, escalation, guidance, chosen_paradigm, focus, momentum, entries
        )

    def _sweep_entry(
        self, view: Elites, best: ProgramRecord | None, rng: random.Random
    ) -> tuple[ProgramRecord, tuple[int, ...]] | None:
        """The stall sweep's next entry for `sweep_share` of the proposals once the run's best has stalled."""
        if not self.sweeps or best is None or self.since_best < self.config.sweep_after:
            return None
        if rng.random() >= self.config.sweep_share:
            return None
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
            stalled = self.signals[island].since_improvement
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
            if choice.sweep:
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
        self.archive.put_state(
            self.run_id,
            STATE_KEY,
            {
                "signals": {str(i): s.to_state() for i, s in sorted(self.signals.items())},
                "bandit": self.bandit.to_state(),
                "active": list(self.active),
                "book": self.book.to_state(),
                "initial": self.initial,
                "best": self.best,
                "best_island": self.best_island,
                "evaluations": self.evaluations,
                "since_best": self.since_best,
                "recent": list(self.recent),
                "last_spawn": self.last_spawn,
                "shared_best": self.shared_best,
                "consumed_below": self.consumed_below,
                "consumed": sorted(self.consumed),
                "keeper": self.keeper.to_state(),
                "ledger": self.ledger.to_state(),
                "sweep": self.sweep.to_state(),
            },
        )

    def _load(self, state: dict) -> None:
        self.signals = {int(i): IslandSignal.from_state(s) for i, s in state["signals"].items()}
        self.bandit.load_state(state["bandit"])
        self.active = [int(i) for i in state["active"]]
        self.book = ParadigmBook.from_state(state["book"], self.config.paradigm_uses)
        self.initial, self.best, self.best_island = state["initial"], state["best"], state.get("best_island")
        self.evaluations, self.since_best = int(state["evaluations"]), int(state["since_best"])
        self.recent, self.last_spawn = [int(v) for v in state["recent"]], int(state["last_spawn"])
        self.shared_best = state["shared_best"]
        self.consumed_below, self.consumed = int(state["consumed_below"]), {int(i) for i in state["consumed"]}
        self.keeper.load_state(state["keeper"])
        self.ledger = ExploitLedger.from_state(state.get("ledger"))
        self.sweep = StallSweep.from_state(state.get("sweep"), self.config.sweep_pairs)

    def summary(self) -> dict[int, dict[str, float]]:
        """Per active island: intensity, recent reward per evaluation, children, evaluations since a better best."""
        rewards = self.bandit.scores(self.active)
        return {
            i: {
                "intensity": self.intensity(i),
                "reward": rewards[i],
                "pulls": self.bandit.arm(i).pulls,
                "stalled": self.signals[i].since_improvement,
            }
            for i in self.active
        }
