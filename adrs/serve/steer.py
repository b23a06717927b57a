"""`adrs serve --steer`: the steering routes of the live page, behind a token.

Owns: the server's token (random at each start, printed with the page's address as `?token=`, and
compared in constant time), the answer of `GET /api/steering` (a run's steering and whether this
server may change it; served read-only without --steer too), and `POST /api/steer`: one steering
action (a hint, pin/unpin, ban/unban, pause/resume) on a run started with `--steerable`. The
archive is opened for writing only at the first accepted action, so a server started with --steer
that nobody uses writes nothing; the server's own read-only connection answers everything else.

Refusals, each before anything is written: no or wrong token 403; a body that is not a JSON
object 400; a run that does not exist 404; a run not started --steerable 409; an action the
archive refuses (unknown action, empty hint, program not of the run) 400.

Must not: decide what an engine does with the steering (adrs/steering.py), or render the page
(steer.js draws the panel, page.html includes it).
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
from http import HTTPStatus
from pathlib import Path
from typing import Any

from adrs.archive.records import SteeringState
from adrs.archive.steering import SteeringError
from adrs.archive.store import Archive, ArchiveError

TOKEN_HEADER = "X-Adrs-Token"  # the page sends the token here: a cross-site form cannot set a header
MAX_BODY = 64 * 1024


class SteerRefused(Exception):
    """A steering request answered with `status` and one line."""

    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


def state_json(state: SteeringState) -> dict[str, Any]:
    return {
        "version": state.version,
        "paused": state.paused,
        "pinned": list(state.pinned),
        "banned": list(state.banned),
        "hints": [{"id": h.id, "text": h.text, "at": h.at.isoformat()} for h in state.hints],
    }


def steering_view(store: Archive, run_id: int | None, enabled: bool) -> dict[str, Any]:
    """GET /api/steering: the run's steering, whether it is steerable and whether this server steers."""
    run = store.run(run_id)
    return {
        "run": run.id,
        "steerable": bool(run.config.get("steerable", False)),
        "enabled": enabled,
        "state": state_json(store.steering(run.id)),
    }


class Steering:
    """The steering side of one server."""

    def __init__(self, location: str | Path):
        self.token = secrets.token_urlsafe(24)
        self._location = location
        self._writer: Archive | None = None
        self._lock = threading.Lock()  # one writer opened, actions stored one at a time

    def authorised(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    def act(self, reader: Archive, token: str | None, raw: bytes) -> dict[str, Any]:
        """Store the action in `raw` (a JSON object) and answer the run's steering after it."""
        if not self.authorised(token):
            raise SteerRefused(
                HTTPStatus.FORBIDDEN, "a valid token is needed to steer (the address adrs serve printed)"
            )
        try:
            body = json.loads(raw or b"null")
        except ValueError as exc:
            raise SteerRefused(HTTPStatus.BAD_REQUEST, f"the body is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise SteerRefused(HTTPStatus.BAD_REQUEST, "the body must be a JSON object with an `action`")
        try:
            run = reader.run(_number(body, "run"))
        except ArchiveError as exc:
            raise SteerRefused(HTTPStatus.NOT_FOUND, str(exc)) from None
        if not run.config.get("steerable", False):
            raise SteerRefused(
                HTTPStatus.CONFLICT, f"run {run.id} was not started --steerable (adrs resume --steerable turns it on)"
            )
        with self._lock:
            if self._writer is None:
                self._writer = Archive.open(self._location, create=False)
            try:
                state = self._writer.steer(
                    run.id,
                    str(body.get("action", "")),
                    text=str(body.get("text", "")),
                    program_id=_number(body, "program_id"),
                    hint_id=_number(body, "hint_id"),
                )
            except SteeringError as exc:
                raise SteerRefused(HTTPStatus.BAD_REQUEST, str(exc)) from None
        return {"run": run.id, "steerable": True, "enabled": True, "state": state_json(state)}

    def close(self) -> None:
        with self._lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None


def _number(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().isdigit():
        raise SteerRefused(HTTPStatus.BAD_REQUEST, f"`{name}` must be a whole number, got {value!r}")
    return int(value)
