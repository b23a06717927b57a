"""A run's steering, kept in the database: what a person asks of a steerable run from `adrs serve`.

Owns, behind methods of `Archive` (this is one of its parts): the steering actions (a hint for the
next prompts, pinning or banning a program as a parent, pausing and resuming proposals), each
written as a `steer` event (the log, with its time) and applied to the run's `steering` state row
in the same transaction, so that every engine of the run, on any machine, reads the whole state
with one primary-key lookup (`steering_state`, in records.py, turns that row into the record, for
the sqlite3 reader of `adrs status` too). No table is added: `events` and `state` exist in every
archive, and a run without a `steering` row reads as "nothing asked" (a read-only reader never
writes one).

Two writers (two browser tabs, two servers) cannot lose each other's change: in SQLite the event
insert takes the database's write lock before the state row is read; in PostgreSQL the row is read
FOR UPDATE.

Must not: decide what an engine does with the steering (adrs/steering.py), or whether a run may
be steered (adrs/serve/steer.py checks the run was started `--steerable`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from adrs.archive.base import ArchiveBase
from adrs.archive.errors import ArchiveError
from adrs.archive.records import SteeringEntry, SteeringState, steering_state, utc_moment
from adrs.archive.schema import Event, Program, State

STEER_EVENT = "steer"
STEERING_KEY = "steering"
ACTIONS = ("hint", "unhint", "pin", "unpin", "ban", "unban", "pause", "resume")
PROGRAM_ACTIONS = ("pin", "unpin", "ban", "unban")
HINT_MAX_CHARS = 2000  # a longer hint is refused, not cut: the person sees what the model will see


class SteeringError(ArchiveError):
    """A steering action that cannot be stored (unknown action, empty hint, program not of the run)."""


def _applied(value: dict[str, Any], payload: dict[str, Any], event_id: int, at: datetime) -> dict[str, Any]:
    """The state row after one action (pinning a program unbans it, and the reverse)."""
    pinned = [int(i) for i in value.get("pinned", [])]
    banned = [int(i) for i in value.get("banned", [])]
    hints = list(value.get("hints", []))
    paused = bool(value.get("paused", False))
    action, program = payload["action"], payload.get("program_id")
    if action == "hint":
        hints.append({"id": event_id, "text": payload["text"], "at": at.isoformat()})
    elif action == "unhint":
        hints = [h for h in hints if h["id"] != payload.get("hint_id")]
    elif action in ("pin", "ban"):
        mine, other = (pinned, banned) if action == "pin" else (banned, pinned)
        if program not in mine:
            mine.append(program)
        if program in other:
            other.remove(program)
    elif action in ("unpin", "unban"):
        mine = pinned if action == "unpin" else banned
        if program in mine:
            mine.remove(program)
    else:
        paused = action == "pause"
    version = int(value.get("version", 0)) + 1
    return {"version": version, "paused": paused, "pinned": pinned, "banned": banned, "hints": hints}


def _payload(action: str, text: str, program_id: int | None, hint_id: int | None) -> dict[str, Any]:
    if action not in ACTIONS:
        raise SteeringError(f"unknown steering action {action!r}; one of {', '.join(ACTIONS)}")
    if action == "hint":
        text = text.strip()
        if not text:
            raise SteeringError("a hint needs some text")
        if len(text) > HINT_MAX_CHARS:
            raise SteeringError(f"a hint is at most {HINT_MAX_CHARS} characters (this one has {len(text)})")
        return {"action": action, "text": text}
    if action == "unhint":
        if hint_id is None:
            raise SteeringError("unhint needs the id of the hint")
        return {"action": action, "hint_id": int(hint_id)}
    if action in PROGRAM_ACTIONS:
        if program_id is None:
            raise SteeringError(f"{action} needs a program id")
        return {"action": action, "program_id": int(program_id)}
    return {"action": action}


class SteeringMixin(ArchiveBase):
    """Steering of a run."""

    def steer(
        self, run_id: int, action: str, *, text: str = "", program_id: int | None = None, hint_id: int | None = None
    ) -> SteeringState:
        """Store one steering action (logged as a `steer` event) and return the state it leads to.

        SteeringError for an unknown action, an empty or too long hint, or a program to pin or ban
        that is not an evaluated program of the run."""
        payload = _payload(action, text, program_id, hint_id)
        for attempt in range(2):
            try:
                with self._session() as s, s.begin():
                    if action in ("pin", "ban"):
                        program = s.get(Program, payload["program_id"])
                        if program is None or program.run_id != run_id:
                            raise SteeringError(f"no program with id {payload['program_id']} in run {run_id}")
                        if action == "pin" and program.status != "evaluated":
                            raise SteeringError(
                                f"program {program.id} is {program.status}: only an evaluated one can be pinned"
                            )
                    event = Event(run_id=run_id, kind=STEER_EVENT, payload=payload, created_at=datetime.now(UTC))
                    s.add(event)
                    s.flush()  # SQLite: the write lock is ours from here, so the read below is current
                    row = s.get(State, (run_id, STEERING_KEY), with_for_update=True)  # PostgreSQL: the row lock
                    value = _applied(dict(row.value) if row is not None else {}, payload, event.id, event.created_at)
                    if row is None:
                        s.add(State(run_id=run_id, key=STEERING_KEY, value=value))
                    else:
                        row.value = value
                    return steering_state(value)
            except IntegrityError:
                if attempt:  # the first two writers of a run raced to create the row: the loser retries once
                    raise
        raise AssertionError("unreachable")

    def steering(self, run_id: int) -> SteeringState:
        """The run's steering now: one primary-key read (engines of a steerable run call it per proposal)."""
        with self._session() as s:
            row = s.get(State, (run_id, STEERING_KEY))
            return steering_state(None if row is None else dict(row.value))

    def steering_log(self, run_id: int) -> list[SteeringEntry]:
        """Every steering action of the run, oldest first."""
        stmt = select(Event).where(Event.run_id == run_id, Event.kind == STEER_EVENT).order_by(Event.id)
        entries = []
        with self._session() as s:
            for row in s.scalars(stmt):
                payload = row.payload
                if payload.get("action") == "hint":
                    detail = str(payload.get("text", ""))
                elif payload.get("program_id") is not None:
                    detail = f"#{payload['program_id']}"
                elif payload.get("hint_id") is not None:
                    detail = f"hint {payload['hint_id']}"
                else:
                    detail = ""
                entries.append(SteeringEntry(utc_moment(row.created_at), str(payload.get("action", "")), detail))
        return entries
