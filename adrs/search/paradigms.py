"""Breakthrough approaches ("paradigms"): what a stalled LLM run is told to try next (AdaEvolve's level 3).

Owns: `Paradigm` (one high-level approach), `ParadigmBook` (the approaches in use, how often each
was cited, and the earlier ones with what came of them, all stored in the adaptive state), the
text a prompt cites, and `Breakthrough`, the record the report and `adrs show` read back from the
run's events:

- `breakthrough` event: {"number", "at_evaluation", "best_id", "best_score", "paradigms": [...],
  "llm_call_id"} when a call returned approaches (its prompt and reply are an llm_calls row);
- `paradigm_cited` event: {"number", "paradigm", "proposal_index", "program_id"} for each stored
  child whose prompt cited one.

Must not: call models (adrs/mutate/llm/breakthrough.py does) or write to the archive.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adrs.archive.store import Archive

BREAKTHROUGH_EVENT = "breakthrough"
CITED_EVENT = "paradigm_cited"


@dataclass(frozen=True)
class Paradigm:
    name: str  # a few words
    approach: str  # what to change, concretely enough to act on
    why: str = ""  # why it could beat the current best

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Paradigm:
        return cls(str(data.get("name", "")), str(data.get("approach", "")), str(data.get("why", "")))


def guidance_text(paradigm: Paradigm, number: int) -> str:
    """What a prompt says about the approach it should follow (breakthrough `number`)."""
    text = f'Breakthrough {number}, approach "{paradigm.name}": {paradigm.approach}'
    if paradigm.why:
        text += f"\nWhy it may help: {paradigm.why}"
    return text + (
        "\nThe run has stopped improving with small edits. Implement this approach in the current program "
        "(a substantial change is expected), keeping the interface and correctness."
    )


@dataclass
class ParadigmBook:
    uses_each: int
    number: int = 0  # breakthroughs so far; the active approaches are those of the latest
    active: list[Paradigm] = field(default_factory=list)
    uses: list[int] = field(default_factory=list)
    turn: int = 0  # round robin over the active approaches
    best_at_call: float | None = None
    called_at: int | None = None  # the run's evaluation count at the latest call
    tried: list[dict[str, Any]] = field(default_factory=list)  # earlier approaches: name, best before, best during

    def available(self) -> bool:
        return any(u < self.uses_each for u in self.uses)

    def next(self) -> tuple[int, Paradigm] | None:
        """The approach the next proposal cites (round robin over those with uses left), or None."""
        count = len(self.active)
        for step in range(count):
            index = (self.turn + step) % count
            if self.uses[index] < self.uses_each:
                return index, self.active[index]
        return None

    def cite(self, index: int) -> None:
        self.uses[index] += 1
        self.turn = (index + 1) % max(1, len(self.active))

    def replace(self, paradigms: list[Paradigm], best: float | None, evaluations: int, best_now: float | None) -> None:
        """A breakthrough call returned `paradigms`; the current ones are filed under `tried`."""
        for paradigm in self.active:
            self.tried.append({"name": paradigm.name, "best_before": self.best_at_call, "best_after": best_now})
        self.number += 1
        self.active = list(paradigms)
        self.uses = [0] * len(paradigms)
        self.turn = 0
        self.best_at_call = best
        self.called_at = evaluations

    def to_state(self) -> dict[str, Any]:
        state = asdict(self)
        state["active"] = [p.to_dict() for p in self.active]
        return state

    @classmethod
    def from_state(cls, data: dict[str, Any], uses_each: int) -> ParadigmBook:
        values = {k: v for k, v in data.items() if k != "uses_each"}
        values["active"] = [Paradigm.from_dict(p) for p in values.get("active", [])]
        return cls(uses_each=uses_each, **values)


@dataclass(frozen=True)
class Breakthrough:
    """One breakthrough call of a run, as the report and `adrs show` render it."""

    number: int
    at_evaluation: int
    best_id: int | None
    best_score: float | None
    paradigms: list[Paradigm]
    llm_call_id: int | None
    cited_by: dict[str, list[int]]  # approach name -> programs whose prompt cited it


def breakthroughs(archive: Archive, run_id: int) -> list[Breakthrough]:
    """The run's breakthrough calls with the programs that followed each approach."""
    cited: dict[tuple[int, str], list[int]] = {}
    for _, payload, _ in archive.events(run_id, CITED_EVENT):
        if payload.get("program_id") is not None:
            cited.setdefault((int(payload["number"]), str(payload["paradigm"])), []).append(int(payload["program_id"]))
    found = []
    for _, payload, _ in archive.events(run_id, BREAKTHROUGH_EVENT):
        number = int(payload.get("number", 0))
        paradigms = [Paradigm.from_dict(p) for p in payload.get("paradigms", [])]
        found.append(
            Breakthrough(
                number,
                int(payload.get("at_evaluation", 0)),
                payload.get("best_id"),
                payload.get("best_score"),
                paradigms,
                payload.get("llm_call_id"),
                {p.name: cited.get((number, p.name), []) for p in paradigms},
            )
        )
    return found


def cited_by_program(archive: Archive, run_id: int, program_id: int) -> tuple[int, Paradigm] | None:
    """The breakthrough number and approach a program's prompt cited, if any (for `adrs show`)."""
    for _, payload, _ in archive.events(run_id, CITED_EVENT):
        if payload.get("program_id") == program_id:
            number, name = int(payload["number"]), str(payload["paradigm"])
            for found in breakthroughs(archive, run_id):
                if found.number == number:
                    match = next((p for p in found.paradigms if p.name == name), None)
                    return (number, match) if match is not None else None
    return None
