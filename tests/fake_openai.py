"""A local OpenAI-protocol server for tests and benchmarks: scripted chat completions on 127.0.0.1.

Speaks enough of the protocol for the real `openai` client: POST /v1/chat/completions (with usage)
and GET /v1/models. Replies come from a script (a list of `Reply`, used in order), else from a
`responder(request) -> Reply` function, else "OK". A reply can be plain text, an HTTP error status
(429 with Retry-After, 500, ...), a delay, or a hang (the response never comes; the handler is
released when the server stops). Bearer keys are checked when `api_key` is set; unknown models get
a 404 like OpenAI's. The preflight call of adrs is answered "OK" without using the script.

Every request body is kept in `requests` (with the time it arrived) so tests can read the prompts.
`stop()` also cuts the connections clients hold open, as a server that dies would; a new server
started on the same port (`start(port)`) plays the endpoint coming back.

    with FakeOpenAI(script=[Reply("..."), Reply(status=429)]) as server:
        ... base_url=server.url ...

Runs as a script too, for trying the CLI by hand:
    python tests/fake_openai.py --port 8765 --latency 2
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFLIGHT_MARK = "adrs preflight"


@dataclass
class Reply:
    content: str = "OK"
    status: int = 200
    delay_s: float = 0.0
    hang: bool = False
    retry_after: float | None = None
    usage: tuple[int, int] | None = None  # (prompt, completion) tokens; default: characters / 4
    finish_reason: str = "stop"


@dataclass
class Received:
    body: dict[str, Any]
    at: float
    path: str = ""

    @property
    def prompt(self) -> str:
        return "\n".join(str(m.get("content", "")) for m in self.body.get("messages", []))


@dataclass
class FakeOpenAI:
    script: list[Reply] = field(default_factory=list)
    responder: Callable[[dict[str, Any]], Reply] | None = None
    models: tuple[str, ...] = ("fake-coder",)
    api_key: str | None = None
    latency_s: float = 0.0  # added to every completion (a simulated endpoint's latency)
    requests: list[Received] = field(default_factory=list)
    in_flight: int = 0  # completions being answered now
    max_in_flight: int = 0  # the most answered at once

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()

    # lifecycle
    def start(self, port: int = 0) -> FakeOpenAI:
        handler = _handler_for(self)
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for connection in connections:  # keep-alive connections die with the server
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start the server first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def completions(self) -> list[Received]:
        """Chat-completion requests other than adrs's start-up check."""
        return [r for r in self.requests if r.path.endswith("/chat/completions") and PREFLIGHT_MARK not in r.prompt]

    # behaviour
    def next_reply(self, body: dict[str, Any]) -> Reply:
        prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
        with self._lock:
            if PREFLIGHT_MARK in prompt:
                return Reply("OK", usage=(12, 1))
            if self.script:
                return self.script.pop(0)
        if self.responder is not None:
            return self.responder(body)
        return Reply("OK")

    def wait_released(self, seconds: float) -> None:
        self._stopping.wait(seconds)


def _handler_for(server: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def setup(self) -> None:
            super().setup()
            with server._lock:
                server._connections.add(self.connection)

        def finish(self) -> None:
            with server._lock:
                server._connections.discard(self.connection)
            try:
                super().finish()
            except OSError:  # the connection was cut by stop()
                pass

        def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (its deadline passed)

        def _authorised(self) -> bool:
            if server.api_key is None:
                return True
            if self.headers.get("Authorization") == f"Bearer {server.api_key}":
                return True
            error = {
                "message": "Incorrect API key provided.",
                "type": "invalid_request_error",
                "code": "invalid_api_key",
            }
            self._send(401, {"error": error})
            return False

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            server.requests.append(Received({}, time.monotonic(), self.path))
            if not self._authorised():
                return
            if self.path.rstrip("/").endswith("/models"):
                data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in server.models]
                self._send(200, {"object": "list", "data": data})
            else:
                self._send(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                self._send(400, {"error": {"message": "invalid JSON body", "type": "invalid_request_error"}})
                return
            server.requests.append(Received(body, time.monotonic(), self.path))
            if not self._authorised():
                return
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})
                return
            model = body.get("model")
            if model not in server.models:
                message = f"The model `{model}` does not exist or you do not have access to it."
                self._send(
                    404, {"error": {"message": message, "type": "invalid_request_error", "code": "model_not_found"}}
                )
                return
            with server._lock:
                server.in_flight += 1
                server.max_in_flight = max(server.max_in_flight, server.in_flight)
            try:
                self._complete(model, body)
            finally:
                with server._lock:
                    server.in_flight -= 1

        def _complete(self, model: str, body: dict[str, Any]) -> None:
            reply = server.next_reply(body)
            if reply.hang:
                server.wait_released(3600)
                return
            delay = reply.delay_s + server.latency_s
            if delay:
                time.sleep(delay)
            if reply.status != 200:
                headers = {} if reply.retry_after is None else {"Retry-After": f"{reply.retry_after:g}"}
                kind = "rate_limit_exceeded" if reply.status == 429 else "server_error"
                self._send(reply.status, {"error": {"message": f"scripted {reply.status}", "type": kind}}, headers)
                return
            prompt_chars = sum(len(str(m.get("content", ""))) for m in body.get("messages", []))
            prompt_tokens, completion_tokens = reply.usage or (
                max(1, prompt_chars // 4),
                max(1, len(reply.content) // 4),
            )
            self._send(
                200,
                {
                    "id": f"chatcmpl-{len(server.requests)}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": reply.content},
                            "finish_reason": reply.finish_reason,
                        }
                    ],
                    "usage": {
                        "prompt_tokens": prompt_tokens,
                        "completion_tokens": completion_tokens,
                        "total_tokens": prompt_tokens + completion_tokens,
                    },
                },
            )

    return Handler


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(
        description="a local OpenAI-protocol server that answers 'OK' (or echoes nothing useful)"
    )
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--model", action="append", default=None)
    args = parser.parse_args()
    server = FakeOpenAI(models=tuple(args.model or ["fake-coder"]), latency_s=args.latency).start(args.port)
    print(f"serving {server.models} at {server.url}; Ctrl-C stops", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
