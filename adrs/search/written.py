"""A selection strategy written by the model (`--evolve-selection`; EvoX's idea, our own code).

Owns, for one adaptive LLM run: when a stalled run asks its model for a parent-selection function
(once per `stall_window` evaluations while the run's best does not improve and none is in use),
whether the strategy that comes back is adopted (its first run in the sandbox answers valid
weights) or refused, its weights (refreshed by a sandboxed run every `strategy_epoch` proposals
made with them), the seeded draw of each parent from them, and its rollback: on a failed run, or
once the run's best has not improved in `strategy_trial` evaluations under it. What the model
wrote is shown every later request, with how it ended, so the next strategy builds on the last.

A strategy is a Python file defining `select(programs, context) -> {program id: weight}`; it is
run by adrs/search/written_run.py in the run's sandbox, as a candidate is, never in this process.
The state (the strategy in use, its weights, how many proposals used them, the strategies before
it) is stored under the run-state key `written_strategy` after every change, so `adrs resume`
continues it exactly (by the run's own engine: one that joined the run keeps its own in memory);
each adoption, refusal and rollback is a `selection_strategy` event (the report and `adrs status`
read them), the call itself an llm_calls row.

Must not: call a model itself (the source does: `ProposalSource.write_strategy`), run a strategy
in this process, or choose anything but the parent while a strategy is in use.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from adrs.archive.elites import Elites
from adrs.archive.records import ProgramRecord
from adrs.mutate.base import StrategyReply, StrategyRequest
from adrs.search.written_run import StrategyHost, StrategyRun, strategy_payload

if TYPE_CHECKING:
    from adrs.archive.store import Archive
    from adrs.mutate.base import ProposalSource
    from adrs.search.adaptive import AdaptiveSearch

STATE_KEY = "written_strategy"
EVENT = "selection_strategy"
ADOPTED, REFUSED, ROLLED_BACK = "adopted", "refused", "rolled_back"
HISTORY_KEPT = 4  # earlier strategies kept (by _remember) and shown to the next request, with their code


@dataclass
class Strategy:
    """A strategy in use: its code, when it was adopted, its current weights and their use."""

    number: int
    code: str
    adopted_at: int  # the search's evaluations when it was adopted
    adopted_best: float | None  # the run's best then
    last_gain_at: int  # ... when the run's best last improved under it (adoption counts)
    best: float | None  # the run's best when it was last looked at
    weights: dict[int, float]
    uses: int = 0  # proposals drawn from these weights
    epochs: int = 1  # sandboxed runs that gave weights

    def to_state(self) -> dict[str, Any]:
        state = asdict(self)
        state["weights"] = {str(k): v for k, v in self.weights.items()}
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Strategy:
        values = dict(state)
        values["weights"] = {int(k): float(v) for k, v in state["weights"].items()}
        return cls(**values)


@dataclass
class WrittenSelection:
    archive: Archive
    run_id: int
    host: StrategyHost  # runs a strategy where the run's candidates run (written_run.py)
    seed: int
    number: int = 0  # strategies written so far
    called_at: int | None = None  # the search's evaluations at the last call
    active: Strategy | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    persist: bool = True  # False in an engine that joined the run: the stored state is not its own

    @classmethod
    def open(
        cls, archive: Archive, run_id: int, host: StrategyHost, seed: int, persist: bool = True
    ) -> WrittenSelection:
        made = cls(archive, run_id, host, seed, persist=persist)
        state = archive.get_state(run_id, STATE_KEY)
        if state is not None:
            made.number, made.called_at = int(state["number"]), state["called_at"]
            made.active = Strategy.from_state(state["active"]) if state["active"] else None
            made.history = list(state["history"])
        return made

    def save(self) -> None:
        if not self.persist:
            return
        self.archive.put_state(
            self.run_id,
            STATE_KEY,
            {
                "number": self.number,
                "called_at": self.called_at,
                "active": self.active.to_state() if self.active else None,
                "history": self.history,
            },
        )

    # upkeep, before each proposal -------------------------------------------------------------
    async def upkeep(self, search: AdaptiveSearch, view: Elites, source: ProposalSource) -> None:
        """Follow the strategy in use (a gain, a stall, a refresh of its weights), or ask for one."""
        config = search.config
        if self.active is not None:
            active = self.active
            if search.best is not None and (active.best is None or search.best > active.best):
                if active.best is not None:
                    active.last_gain_at = search.evaluations
                active.best = search.best
                self.save()
            if search.evaluations - active.last_gain_at >= config.strategy_trial:
                self._end(search, f"no better program in {config.strategy_trial} evaluations under it")
            elif active.uses >= config.strategy_epoch:
                run = await self.host.run(active.code, self._payload(search, view), config.strategy_timeout_s)
                if run.weights is None:
                    self._end(search, f"its run {active.epochs + 1} failed: {run.error}")
                else:
                    active.weights, active.uses, active.epochs = run.weights, 0, active.epochs + 1
                    self.save()
            if self.active is not None:
                return
        best = view.best()
        if best is None or not self._wants(search):
            return
        self.called_at = search.evaluations
        payload = self._payload(search, view)
        request = StrategyRequest(best, search.since_best, _example(payload), list(self.history))
        reply = await source.write_strategy(request)
        if reply is None or reply.code is None:
            self.save()
            return
        self.number += 1
        run = await self.host.run(reply.code, payload, config.strategy_timeout_s)
        self._adopt_or_refuse(search, reply, run)

    def _wants(self, search: AdaptiveSearch) -> bool:
        window = search.config.stall_window
        return (
            search.best is not None
            and search.since_best >= window
            and (self.called_at is None or search.evaluations - self.called_at >= window)
        )

    def _payload(self, search: AdaptiveSearch, view: Elites) -> dict[str, Any]:
        epoch = self.active.epochs if self.active is not None else 0
        context = {
            "evaluations": search.evaluations,
            "since_best": search.since_best,
            "best_score": search.best,
            "initial_score": search.initial,
            "islands": list(search.active),
            "seed": int(random.Random(f"{self.seed}:strategy:{self.number}:{epoch}").getrandbits(31)),
        }
        return strategy_payload(view, list(search.active), context)

    def _adopt_or_refuse(self, search: AdaptiveSearch, reply: StrategyReply, run: StrategyRun) -> None:
        assert reply.code is not None
        if run.weights is None:
            self._remember(search, self.number, reply.code, REFUSED, run.error, None, search.best)
            self._event(search, self.number, REFUSED, run.error, reply.llm_call_id, code=reply.code)
        else:
            at = search.evaluations
            self.active = Strategy(self.number, reply.code, at, search.best, at, search.best, run.weights)
            reason = f"{len(run.weights)} weights in {run.wall_s:.2f} s"
            self._event(search, self.number, ADOPTED, reason, reply.llm_call_id, code=reply.code)
        self.save()

    def _end(self, search: AdaptiveSearch, reason: str) -> None:
        """Roll the strategy in use back: the adaptive search chooses the parents again."""
        active = self.active
        assert active is not None
        if active.adopted_best is not None and search.best is not None:
            reason += f" (the run's best {active.adopted_best:.6g} -> {search.best:.6g} while it was in use)"
        self._remember(search, active.number, active.code, ROLLED_BACK, reason, active.adopted_at, active.adopted_best)
        self._event(search, active.number, ROLLED_BACK, reason, None)
        self.active = None
        self.save()

    def _remember(
        self,
        search: AdaptiveSearch,
        number: int,
        code: str,
        outcome: str,
        reason: str,
        adopted_at: int | None,
        best_before: float | None,
    ) -> None:
        """What the next request shows of this strategy: how it ended, and its code."""
        entry = {
            "number": number,
            "outcome": outcome,
            "reason": reason,
            "adopted_at": adopted_at,
            "ended_at": search.evaluations,
            "best_before": best_before,
            "best_after": search.best,
            "code": code,
        }
        self.history = (self.history + [entry])[-HISTORY_KEPT:]

    def _event(
        self, search: AdaptiveSearch, number: int, outcome: str, reason: str, call_id: int | None, code: str = ""
    ) -> None:
        data: dict[str, Any] = {
            "number": number,
            "outcome": outcome,
            "reason": reason,
            "at_evaluation": search.evaluations,
            "best_score": search.best,
            "llm_call_id": call_id,
        }
        if code:
            data["code"] = code
        self.archive.add_event(self.run_id, EVENT, data)

    # the parent -------------------------------------------------------------------------------
    def parent(self, view: Elites, rng: random.Random) -> ProgramRecord | None:
        """A parent drawn from the strategy's weights (programs still in the view), or None: none in use."""
        if self.active is None:
            return None
        weights = self.active.weights
        ids = [pid for pid in sorted(weights) if weights[pid] > 0 and pid in view.programs]
        if not ids:
            return None
        chosen = rng.choices(ids, weights=[weights[pid] for pid in ids])[0]
        self.active.uses += 1
        self.save()
        return view.programs[chosen]


def _example(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as a request shows it: the context and the first few programs."""
    return {
        "programs": payload["programs"][:3],
        "context": payload["context"],
        "programs_given": len(payload["programs"]),
    }


def strategy_events(archive: Archive, run_id: int) -> list[dict[str, Any]]:
    """The run's `selection_strategy` events, oldest first (the report and `adrs status` show them)."""
    return [payload for _, payload, _ in archive.events(run_id, EVENT)]
