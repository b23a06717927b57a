"""`adrs serve`: a live view of an archive over HTTP (standard library only), read-only unless --steer.

Owns: the HTTP server (a thread per request, bound to loopback unless told otherwise), its routes,
and answering them from one open archive:

    GET /                               the page (page.html: no build step, no network, polls the endpoints)
    GET /api/runs                       every served archive's runs, newest first
    GET /api/run[?archive=K&id=N]       one run's live state (default: the first archive's latest run)
    GET /api/search[?archive=K&id=N]    its Pareto front, MAP-Elites grids and the lineage of its best
    GET /api/program/N[?archive=K]      one program: code, diffs, per-stage evaluations
    GET /api/steering[?id=N]            a run of the first archive: its steering (hints, pins, bans,
                                        pause) and whether this server steers
    GET /steer.js                       the page's steering panel (steer.js)
    POST /api/steer                     one steering action: only with --steer, with the token (steer.py)

Several archives can be served at once (`adrs serve A --compare B`): `archive=K` picks the K-th
(0: the first). A `since=V` on /api/search answers only `{"version": V, "unchanged": true}` while
the run's version (in /api/run's answer) is still V, so the page fetches the heavier view only
after an evaluation landed. Steering is for the first archive's runs only.

Any other method or route is refused (405): without --steer serving never writes to the archive.
Bad ids and missing runs or programs answer 404 with one line naming them.

Must not: write to the archive (steer.py's `Steering` does, with --steer), or shape the JSON itself
(views.py and steer.py do).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from adrs.archive.store import Archive, ArchiveError
from adrs.serve import DEFAULT_PORT, LOOPBACK
from adrs.serve.search import search_view
from adrs.serve.state import LiveRuns
from adrs.serve.steer import MAX_BODY, TOKEN_HEADER, Steering, SteerRefused, steering_view
from adrs.serve.views import program_view, run_view, runs_view

_PROGRAM_PATH = re.compile(r"/api/program/(\d+)")


class NotFound(LookupError):
    """A route, run or program that does not exist: answered 404."""


def _page() -> bytes:
    return files("adrs.serve").joinpath("page.html").read_bytes()


def _steer_script() -> bytes:
    return files("adrs.serve").joinpath("steer.js").read_bytes()


class ArchiveServer(ThreadingHTTPServer):
    """An HTTP server answering from one or more open archives (the first is `store`)."""

    daemon_threads = True  # a slow client never holds up shutdown

    def __init__(self, stores: Archive | list[Archive], address: tuple[str, int], steering: Steering | None = None):
        self.stores = stores if isinstance(stores, list) else [stores]
        self.store = self.stores[0]
        self.live = LiveRuns()  # what the polls read so far: each reads only what changed since
        self.steering = steering  # None: read-only (no --steer); steers the first archive's runs
        super().__init__(address, _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    @property
    def page_url(self) -> str:
        """The page's address to print: with --steer it carries the token (`?token=`), Jupyter-style."""
        return self.url if self.steering is None else f"{self.url}?token={self.steering.token}"

    def answer(self, path: str, query: dict[str, list[str]]) -> dict[str, Any]:
        """The JSON of an /api/ route."""
        if path == "/api/runs":
            return runs_view(self.stores)
        index = _number(query, "archive")
        if index is not None and index >= len(self.stores):
            raise NotFound(f"no archive {index}: {len(self.stores)} served")
        index = index or 0
        store = self.stores[index]
        if path == "/api/run":
            with self.live.reading(store, index, _number(query, "id")) as state:
                return run_view(store, state, archive_index=index)
        if path == "/api/search":
            with self.live.reading(store, index, _number(query, "id")) as state:
                since = query.get("since", [""])[0]
                if since and since == state.version:
                    return {"version": since, "unchanged": True}
                return search_view(state)
        if path == "/api/steering":
            return steering_view(self.store, _number(query, "id"), self.steering is not None)
        match = _PROGRAM_PATH.fullmatch(path)
        if match:
            return program_view(store, int(match.group(1)))
        raise NotFound(f"no route {path}")


def _number(query: dict[str, list[str]], name: str) -> int | None:
    """The query's `name` as a whole number, None when absent; NotFound when it is not one."""
    raw = query.get(name, [""])[0]
    if raw and not raw.isdigit():
        raise NotFound(f"{'run id' if name == 'id' else name} {raw!r} is not a number")
    return int(raw) if raw else None


class _Handler(BaseHTTPRequestHandler):
    server: ArchiveServer

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        parts = urlsplit(self.path)
        if parts.path in ("/", "/index.html"):
            self._send(HTTPStatus.OK, _page(), "text/html; charset=utf-8")
            return
        if parts.path == "/steer.js":
            self._send(HTTPStatus.OK, _steer_script(), "text/javascript; charset=utf-8")
            return
        try:
            body = self.server.answer(parts.path, parse_qs(parts.query))
            status = HTTPStatus.OK
        except (NotFound, ArchiveError) as exc:
            body, status = {"error": str(exc)}, HTTPStatus.NOT_FOUND
        self._send(status, json.dumps(body).encode(), "application/json")

    def _refuse(self) -> None:
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, b'{"error": "adrs serve is read-only"}', "application/json")

    def do_POST(self) -> None:  # noqa: N802 (the name http.server calls)
        steering = self.server.steering
        if steering is None or urlsplit(self.path).path != "/api/steer":
            self._refuse()
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            if length > MAX_BODY:
                raise SteerRefused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the body is over {MAX_BODY} bytes")
            body, status = steering.act(self.server.store, self.headers.get(TOKEN_HEADER), self.rfile.read(length)), 200
        except SteerRefused as exc:
            body, status = {"error": str(exc)}, exc.status
        self._send(HTTPStatus(status), json.dumps(body).encode(), "application/json")

    do_PUT = do_DELETE = do_PATCH = _refuse  # noqa: N815

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")  # the page polls: never a stale answer
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's name)
        pass  # one line per poll would drown the terminal


def open_server(
    archive: str | Path,
    host: str = LOOPBACK,
    port: int = DEFAULT_PORT,
    compare: list[str | Path] | None = None,
    *,
    steer: bool = False,
) -> ArchiveServer:
    """A server on `archive` (a path or SQLAlchemy URL), and on each archive of `compare` to show beside
    it, listening but not yet serving (port 0: any free port).

    `steer`: accept steering actions on `archive`'s runs started --steerable, with the token
    `page_url` carries. ArchiveError when an archive does not exist or holds no run; OSError when
    the port is taken."""
    stores: list[Archive] = []
    try:
        for location in [archive, *(compare or [])]:
            store = Archive.open(location, create=False, read_only=True)  # it only reads: nothing is written
            stores.append(store)
            store.run()  # an archive without a run has nothing to show: say so now, not in the browser
        return ArchiveServer(stores, (host, port), Steering(archive) if steer else None)
    except BaseException:
        for store in stores:
            store.close()
        raise


def serve_archive(server: ArchiveServer, on_ready: Callable[[str], None] = lambda _url: None) -> None:
    """Answer requests until interrupted, then close the archive."""
    on_ready(server.page_url)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        for store in server.stores:
            store.close()
        if server.steering is not None:
            server.steering.close()
