"""A local OpenAI-protocol endpoint whose "model" is adrs's offline mutator.

    .venv/bin/python benchmarks/peers/mutation_server.py --port 8765 --seed 0 --log work/server.jsonl

Every engine in the peer benchmark sends its usual chat-completion request here. The server finds
the current program in the prompt (the fenced block after the "Current Program" heading, which is
how OpenEvolve 0.4.0 and ShinkaEvolve 0.0.7 both show it), treats the other fenced Python blocks
of the prompt as inspirations (for the mutator's crossover), mutates with
`adrs.mutate.offline.OfflineMutator`, and answers with a full rewrite in the shape both engines parse:

    <NAME>offline_mutation</NAME>
    <DESCRIPTION>operator and what it changed</DESCRIPTION>
    <CODE>
    ```python
    ...the whole program...
    ```
    </CODE>

OpenEvolve (full-rewrite mode) takes the first ```python block of the reply; ShinkaEvolve's
"full" patch type takes the fenced block inside <CODE>. When the mutator finds no edit, the reply
repeats the current program unchanged, and each engine applies its own rule (OpenEvolve drops an
identical rewrite; ShinkaEvolve resamples). So every engine gets the same kind of proposals and
only the engines differ. Each request is logged (JSON line: time spent, whether a program was
found and mutated) so the benchmark can report the proposal cost separately.

Must not: evaluate anything, or answer anything but chat completions, model listings and
embeddings (deterministic hash vectors, for engines that ask for them).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from adrs.mutate.offline import OfflineMutator

FENCE = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.DOTALL)
# The heading line itself: "# Current Program Information" (OpenEvolve's metrics section) is not it.
CURRENT = re.compile(
    r"^#+[ \t]*current program[ \t]*:?[ \t]*\n(.*?)```(?:python|py)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE | re.MULTILINE
)
PLACEHOLDER = re.compile(r"^\s*#[^\n]*(rewritten|new|your)[^\n]*program[^\n]*$", re.IGNORECASE)


def prompt_text(messages: list[dict[str, Any]]) -> str:
    parts = []
    for message in messages:
        content = message.get("content", "")
        if isinstance(content, list):  # content parts: keep the text ones
            content = "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        parts.append(str(content))
    return "\n\n".join(parts)


def current_and_inspirations(text: str) -> tuple[str | None, list[str]]:
    """The program to mutate (after a "Current Program" heading) and the other code blocks."""
    blocks = [b for b in FENCE.findall(text) if b.strip() and not PLACEHOLDER.match(b.strip())]
    found = CURRENT.search(text)
    current = found.group(2) if found else (blocks[-1] if blocks else None)
    others = [b for b in blocks if b != current]
    return current, others


def reply_text(code: str, name: str, description: str) -> str:
    body = code if code.endswith("\n") else code + "\n"
    return f"<NAME>\n{name}\n</NAME>\n\n<DESCRIPTION>\n{description}\n</DESCRIPTION>\n\n<CODE>\n```python\n{body}```\n</CODE>\n"


class MutationService:
    """The mutator, a request counter for seeding, and the request log."""

    def __init__(self, seed: int, log_path: Path | None):
        self.seed = seed
        self.log_path = log_path
        self.mutator = OfflineMutator()
        self.lock = threading.Lock()
        self.requests = 0

    def complete(self, messages: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
        started = time.perf_counter()
        current, inspirations = current_and_inspirations(prompt_text(messages))
        with self.lock:  # the mutator's parse caches are not thread-safe; proposals take milliseconds
            index = self.requests
            self.requests += 1
            rng = random.Random(f"{self.seed}:{index}")
            mutation = self.mutator.propose(current, inspirations, rng) if current is not None else None
        if current is None:
            text, outcome = "I could not find the current program in the prompt.", "no_program"
        elif mutation is None:
            text, outcome = reply_text(current, "unchanged", "The offline mutator found no valid edit."), "no_edit"
        else:
            text, outcome = reply_text(mutation.code, "offline_mutation", f"{mutation.operator}: {mutation.description}"), "mutated"
        record = {
            "index": index,
            "t": time.time(),
            "seconds": time.perf_counter() - started,
            "outcome": outcome,
            "inspirations": len(inspirations),
        }
        if self.log_path is not None:
            with self.lock, open(self.log_path, "a") as log:
                log.write(json.dumps(record) + "\n")
        return text, record


def embedding(text: str, size: int = 64) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    rng = random.Random(digest)
    vector = [rng.uniform(-1, 1) for _ in range(size)]
    norm = sum(v * v for v in vector) ** 0.5
    return [v / norm for v in vector]


def make_handler(service: MutationService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: Any) -> None:  # the JSON log is the record; keep stderr quiet
            return

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path.rstrip("/").endswith("/models"):
                self._send(200, {"object": "list", "data": [{"id": "offline-mutator", "object": "model", "owned_by": "adrs"}]})
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length", "0"))
            try:
                request = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                self._send(400, {"error": {"message": "body is not JSON"}})
                return
            if self.path.rstrip("/").endswith("/chat/completions"):
                text, record = service.complete(list(request.get("messages", [])))
                prompt_tokens = len(prompt_text(list(request.get("messages", [])))) // 4
                completion_tokens = len(text) // 4
                self._send(200, {
                    "id": f"chatcmpl-{record['index']}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": str(request.get("model", "offline-mutator")),
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                              "total_tokens": prompt_tokens + completion_tokens},
                })
            elif self.path.rstrip("/").endswith("/embeddings"):
                inputs = request.get("input", [])
                inputs = [inputs] if isinstance(inputs, str) else list(inputs)
                data = [{"object": "embedding", "index": i, "embedding": embedding(str(t))} for i, t in enumerate(inputs)]
                self._send(200, {"object": "list", "data": data, "model": str(request.get("model", "")),
                                 "usage": {"prompt_tokens": 0, "total_tokens": 0}})
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0: any free port (written to --port-file)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log", type=Path, default=None, help="JSON lines, one per request")
    parser.add_argument("--port-file", type=Path, default=None)
    args = parser.parse_args()
    service = MutationService(args.seed, args.log)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(service))
    if args.port_file is not None:
        args.port_file.write_text(str(server.server_address[1]))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
