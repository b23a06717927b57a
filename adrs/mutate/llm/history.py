"""What each lineage has already tried, and how it ended, for the next prompt.

Owns: a per-parent list of attempts (the model's one-line idea and its outcome: a score and its
change over the parent, a failed evaluation, or a reply that could not be applied and why). It is
rebuilt from the archive when a run starts or resumes (children from the programs table, refused
proposals from `proposal_failed` events, which `adrs show` lists too) and kept current by the LLM
source as proposals end.

Must not: write to the archive, or decide what goes into a prompt beyond listing attempts.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from adrs.archive.records import ProgramRecord, ProgramStatus
from adrs.edits import DUPLICATE
from adrs.program import change_summary

if TYPE_CHECKING:  # `adrs show` reads refused proposals from a sqlite3 reader, without SQLAlchemy
    from adrs.archive.store import Archive

FAILED_EVENT = "proposal_failed"
_KEPT_PER_PARENT = 20


@dataclass
class Attempt:
    parent_id: int
    mutator: str
    summary: str
    program_id: int | None = None  # None: the proposal produced no program
    parent_score: float | None = None
    outcome: str = "pending evaluation"
    failure_kind: str | None = None  # edit failure kind, when the reply could not be used
    detailed: bool = False  # a failed evaluation's error line has been added to the outcome
    change: str = ""  # the edit's first changed line (program.change_summary): a child's, or a duplicate's

    @property
    def pending(self) -> bool:
        return self.program_id is not None and self.outcome == "pending evaluation"


def describe_program(program: ProgramRecord, parent_score: float | None) -> str:
    if program.status == ProgramStatus.PENDING:
        return "pending evaluation"
    if program.status == ProgramStatus.FAILED:
        return f"failed at stage {program.stage_reached} ({program.error_kind or 'error'})"
    score = program.score if program.score is not None else float("nan")
    delta = "" if parent_score is None else f" ({score - parent_score:+.4g} vs its parent)"
    stopped = "" if program.complete else f", stopped after stage {program.stage_reached} (below its threshold)"
    return f"score {score:.6g}{delta}{stopped}"


def refused_proposals(archive: Archive, run_id: int, parent_id: int) -> list[dict]:
    """Payloads of `proposal_failed` events for proposals made from `parent_id`, oldest first."""
    events = archive.events(run_id, FAILED_EVENT)
    return [payload for _kind, payload, _at in events if payload.get("parent_id") == parent_id]


def _error_line(archive: Archive, program_id: int) -> str:
    """The last line of a failed evaluation's error (usually the exception), for the prompt."""
    failed = [e for e in archive.evaluations(program_id) if not e.ok]
    lines = [line.strip() for line in failed[-1].error.splitlines() if line.strip()] if failed else []
    return f": {lines[-1][:300]}" if lines else ""


def _aware(moment: datetime) -> datetime:
    # SQLite hands timestamps back without a zone; they were written in UTC
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class LineageHistory:
    def __init__(self) -> None:
        self._by_parent: dict[int, deque[Attempt]] = defaultdict(lambda: deque(maxlen=_KEPT_PER_PARENT))

    def load(self, archive: Archive, run_id: int) -> None:
        programs = archive.programs(run_id)
        scores = {p.id: p.score for p in programs}
        codes = {p.id: p.code for p in programs}
        merged: list[tuple[datetime, Attempt]] = []  # children and refused proposals, in time order
        for program in programs:
            if program.parent_id is None or program.mutator in ("migration", "initial"):
                continue
            attempt = Attempt(
                program.parent_id, program.mutator, program.description, program.id, scores.get(program.parent_id)
            )
            attempt.outcome = describe_program(program, attempt.parent_score)
            attempt.change = change_summary(codes.get(program.parent_id, ""), program.code)
            merged.append((_aware(program.created_at), attempt))
        for _kind, payload, created in archive.events(run_id, FAILED_EVENT):
            parent_id = payload.get("parent_id")
            if isinstance(parent_id, int):
                attempt = self._failure(
                    parent_id,
                    payload.get("mutator", ""),
                    payload.get("summary", ""),
                    payload.get("kind", ""),
                    payload.get("error", ""),
                    str(payload.get("change", "")),
                )
                merged.append((_aware(created), attempt))
        for _key, attempt in sorted(merged, key=lambda item: item[0]):
            self._by_parent[attempt.parent_id].append(attempt)

    @staticmethod
    def _failure(parent_id: int, mutator: str, summary: str, kind: str, error: str, change: str = "") -> Attempt:
        outcome = f"not applied ({kind}): {error}"
        return Attempt(parent_id, mutator, summary, outcome=outcome, failure_kind=kind, change=change)

    def add_failure(self, parent_id: int, mutator: str, summary: str, kind: str, error: str, change: str = "") -> None:
        self._by_parent[parent_id].append(self._failure(parent_id, mutator, summary, kind, error, change))

    def add_child(self, parent: ProgramRecord, program: ProgramRecord) -> None:
        attempt = Attempt(parent.id, program.mutator, program.description, program.id, parent.score)
        attempt.outcome = describe_program(program, parent.score)
        attempt.change = change_summary(parent.code, program.code)
        self._by_parent[parent.id].append(attempt)

    def recent(self, archive: Archive, parent: ProgramRecord, limit: int) -> list[Attempt]:
        """The newest attempts on `parent`, then on its own parent (its siblings), newest first."""
        chosen: list[Attempt] = []
        for key in (parent.id, parent.parent_id):
            if key is None:
                continue
            for attempt in reversed(self._by_parent.get(key, ())):
                if len(chosen) >= limit:
                    break
                if attempt.pending:
                    self._refresh(archive, attempt)
                if attempt.program_id is not None and attempt.outcome.startswith("failed") and not attempt.detailed:
                    attempt.outcome += _error_line(archive, attempt.program_id)
                    attempt.detailed = True
                if attempt.program_id != parent.id:
                    chosen.append(attempt)
        return chosen

    def duplicate_streak(self, parent_id: int) -> int:
        """How many of the latest proposals from `parent_id`, in a row, duplicated a known program."""
        streak = 0
        for attempt in reversed(self._by_parent.get(parent_id, ())):
            if attempt.failure_kind != DUPLICATE:
                break
            streak += 1
        return streak

    def already_tried(self, parent_id: int, limit: int) -> list[Attempt]:
        """The newest `limit` edits of `parent_id` already in the archive, one per change, newest first: its
        children and the answers that duplicated a known program. Repeating one costs a call and adds nothing."""
        chosen: list[Attempt] = []
        seen: set[str] = set()
        for attempt in reversed(self._by_parent.get(parent_id, ())):
            if len(chosen) >= limit:
                break
            tried = attempt.program_id is not None or attempt.failure_kind == DUPLICATE
            if tried and attempt.change and attempt.change not in seen:
                seen.add(attempt.change)
                chosen.append(attempt)
        return chosen

    def last_failure(self, parent_id: int) -> Attempt | None:
        attempts = self._by_parent.get(parent_id)
        if attempts and attempts[-1].failure_kind:
            return attempts[-1]
        return None

    @staticmethod
    def _refresh(archive: Archive, attempt: Attempt) -> None:
        assert attempt.program_id is not None
        attempt.outcome = describe_program(archive.program(attempt.program_id), attempt.parent_score)
