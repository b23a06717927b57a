"""A run's events and its state rows: the log engines append to and the values they keep by key.

Owns, behind methods of `Archive` (this is one of its parts): adding an event (a kind and a JSON
payload, timed by the database row) and reading a run's events in the order they were added, of
one kind or all; reading and writing one state value of a run by key (a JSON object, replaced
whole). reads.py reads the state values of a key prefix for live views; steering.py writes its
own events and state row in one transaction.

Must not: decide what an event or a state value means; it reads and writes rows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from adrs.archive.base import ArchiveBase
from adrs.archive.schema import Event, State


class EventsMixin(ArchiveBase):
    """Events and state: small rows of a run, through the ORM (none is on an evaluation's path)."""

    def add_event(self, run_id: int, kind: str, payload: dict | None = None) -> None:
        with self._session() as s, s.begin():
            s.add(Event(run_id=run_id, kind=kind, payload=payload or {}))

    def events(self, run_id: int, kind: str | None = None) -> list[tuple[str, dict, datetime]]:
        with self._session() as s:
            stmt = select(Event).where(Event.run_id == run_id)
            if kind is not None:
                stmt = stmt.where(Event.kind == kind)
            return [(e.kind, e.payload, e.created_at) for e in s.scalars(stmt.order_by(Event.id))]

    def get_state(self, run_id: int, key: str) -> dict | None:
        with self._session() as s:
            row = s.get(State, (run_id, key))
            return None if row is None else dict(row.value)

    def put_state(self, run_id: int, key: str, value: dict) -> None:
        with self._session() as s, s.begin():
            row = s.get(State, (run_id, key))
            if row is None:
                s.add(State(run_id=run_id, key=key, value=value))
            else:
                row.value = value
