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

adrs's adaptive search talks to it too (benchmarks/search_quality.py --llm-server), and the server
follows its directions the way the offline mutator would: a breakthrough request ("## Breakthrough
request") is answered with a JSON array of approaches from a fixed catalogue (each an operator
family: retune constants, rework decision rules, restructure statements, graft from other
programs; those the prompt lists as tried come last); a prompt that cites one ("approach "NAME"")
is mutated with that family's operators only, at escalation 2 (longer chains); and a prompt that
reports a stall ("... in N evaluations: make a larger, structural change") is mutated at
escalation min(3, N // 30); a prompt that names its parent's last gain as a constant's change
("Its last gain came from this change: ... constant 10 -> 13 on line 27") has about half of its
answers push that constant further the same way (the offline mutator's momentum). So a
breakthrough changes what the proposals are, as a new approach from a model would, and the
comparison exercises the whole LLM path. A selection strategy request ("## Selection strategy
request", `--evolve-selection`) gets one of three fixed select() functions in turn (UCB over
scores and children, recent gains, a rank tournament of the top quarter): none tuned to a problem.

OpenEvolve (full-rewrite mode) takes the first ```python block of the reply; ShinkaEvolve's
"full" patch type takes the fenced block inside <CODE>. When the mutator finds no edit, the reply
repeats the current program unchanged, and each engine applies its own rule (OpenEvolve drops an
identical rewrite; ShinkaEvolve resamples). So every engine gets the same kind of proposals and
only the engines differ. Each request is logged (JSON line: time spent, whether a program was
found and mutated) so the benchmark can report the proposal cost separately.

Two options make it stand in for a real model in adrs's own benchmarks (benchmarks/llm_throughput.py);
the peer benchmark uses neither:

- `--latency S`: every completion is answered S seconds after it arrived (concurrent requests wait
  side by side), as a hosted model's would be.
- `--repeat-rate R`: a model that repeats itself. For a program it has answered before, the
  server gives one of its earlier answers for that program again with probability
  R x max(0, 1 - temperature / 2) (the request's `temperature`, 1.0 when absent), so a higher
  temperature repeats less, as sampling does. It heeds adrs's "already tried" list (the prompt
  section after `prompts.DUPLICATES_HEADING`, one line per edit of the parent already in the
  archive, by its first changed line, `program.change_summary`): it does not repeat a listed
  answer, and redraws a fresh mutation whose change is listed (up to 8 draws), as a model that
  reads its instructions would. Without the list (adrs before it, or `llm.duplicates_shown = 0`)
  it has nothing to heed. Without `--repeat-rate` the list is ignored, so every engine of the peer
  benchmark gets the same proposals whatever its prompt says.

Must not: evaluate anything, or answer anything but chat completions, model listings and
embeddings (deterministic hash vectors, for engines that ask for them).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import random
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from adrs.mutate.llm.prompts import DUPLICATES_HEADING
from adrs.mutate.offline import OfflineMutator
from adrs.program import change_summary
from adrs.search.focus import Step

FENCE = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.DOTALL)
# The heading line itself: "# Current Program Information" (OpenEvolve's metrics section) is not it.
CURRENT = re.compile(
    r"^#+[ \t]*current program[ \t]*:?[ \t]*\n(.*?)```(?:python|py)?[ \t]*\n(.*?)```",
    re.DOTALL | re.IGNORECASE | re.MULTILINE,
)
PLACEHOLDER = re.compile(r"^\s*#[^\n]*(rewritten|new|your)[^\n]*program[^\n]*$", re.IGNORECASE)
BREAKTHROUGH = "## Breakthrough request"
CITED = re.compile(r'Breakthrough \d+, approach "([^"]+)"')
STALLED = re.compile(r"in (\d+) evaluations: make a larger")
GAIN = re.compile(
    r"Its last gain came from this change: [^\n]*?constant (-?[\d.eE+-]+) -> (-?[\d.eE+-]+) on line (\d+)"
)
WANTED = re.compile(r"JSON array of exactly (\d+) objects")
STRATEGY = "## Selection strategy request"
# The parent-selection functions a strategy request gets (adrs/search/written.py), in turn: what a
# model might write from the request's description of select(); none of them is tuned to a problem.
STRATEGIES = (
    # UCB over programs: the score scaled to the run's progress, plus a bonus for few children.
    "import math\n\n\ndef select(programs, context):\n"
    "    best, low = context['best_score'], context['initial_score'] or 0.0\n"
    "    span = max(best - low, 1e-9)\n"
    "    total = sum(p['children'] for p in programs) + 1\n"
    "    weights = {}\n"
    "    for p in programs:\n"
    "        value = (p['score'] - low) / span\n"
    "        bonus = 0.5 * math.sqrt(math.log(total + 1) / (1 + p['children']))\n"
    "        weights[p['id']] = math.exp(4 * (value + bonus))\n"
    "    return weights\n",
    # Follow recent gains: programs that beat their parent, the newer the more.
    "def select(programs, context):\n"
    "    weights = {}\n"
    "    for p in programs:\n"
    "        gain = p['parent_score'] is not None and p['score'] > p['parent_score']\n"
    "        weights[p['id']] = (5.0 if gain else 0.2) / (1 + p['age'] / 20) + (3.0 if p['island_best'] else 0.0)\n"
    "    return weights\n",
    # Rank-based tournament among the top quarter, each island equally.
    "import random\n\n\ndef select(programs, context):\n"
    "    rng = random.Random(context['seed'])\n"
    "    ranked = sorted(programs, key=lambda p: -p['score'])\n"
    "    top = ranked[: max(4, len(ranked) // 4)]\n"
    "    return {p['id']: 1.0 / (1 + i) + rng.random() * 0.1 for i, p in enumerate(top)}\n",
)
REDRAWS = 8  # fresh mutations drawn to avoid a change the prompt lists as already tried
# The approaches a breakthrough reply offers, each with the operators that carry it out.
APPROACHES = (
    {
        "name": "retune the constants",
        "approach": "Search the numeric parameters jointly, with larger steps, instead of one small tweak at a time.",
        "why": "The current constants may sit in a local optimum.",
        "operators": {"perturb_constant": 1.0},
    },
    {
        "name": "rework the decision rules",
        "approach": "Change the comparisons, arithmetic and sort keys that decide the order and placement.",
        "why": "A different rule can reach placements constants cannot.",
        "operators": {"swap_compare": 1.0, "swap_arith": 1.0, "flip_bool": 1.0, "tweak_sort": 1.0},
    },
    {
        "name": "restructure the statements",
        "approach": "Reorder, drop or repeat steps of the algorithm.",
        "why": "The order of the steps changes what the greedy sees.",
        "operators": {"delete_stmt": 1.0, "duplicate_stmt": 1.0, "swap_stmts": 1.0},
    },
    {
        "name": "graft from other programs",
        "approach": "Combine the current program with functions and blocks of the other good programs shown.",
        "why": "Good parts of different programs may add up.",
        "operators": {"crossover": 1.0},
    },
)


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
    return (
        f"<NAME>\n{name}\n</NAME>\n\n<DESCRIPTION>\n{description}\n</DESCRIPTION>\n\n"
        f"<CODE>\n```python\n{body}```\n</CODE>\n"
    )


def breakthrough_reply(text: str, turn: int) -> str:
    """Approaches for a breakthrough request: untried ones first, rotating with `turn`."""
    wanted = WANTED.search(text)
    count = int(wanted.group(1)) if wanted else 3
    tried_section = text.split("## Approaches tried before", 1)[-1] if "## Approaches tried before" in text else ""
    order = [APPROACHES[(turn + k) % len(APPROACHES)] for k in range(len(APPROACHES))]
    order.sort(key=lambda a: f"- {a['name']}:" in tried_section)  # stable: untried first
    return json.dumps([{k: a[k] for k in ("name", "approach", "why")} for a in order[:count]], indent=1)


def direction(text: str) -> tuple[dict[str, float] | None, int, str]:
    """The operator weights (None: all) and escalation a prompt's direction asks for, and a label."""
    cited = CITED.search(text)
    if cited:
        chosen = next((a for a in APPROACHES if a["name"] == cited.group(1)), None)
        if chosen is not None:
            return dict(chosen["operators"]), 2, f"approach {chosen['name']}"
    stalled = STALLED.search(text)
    if stalled:
        level = min(3, int(stalled.group(1)) // 30)
        return None, level, f"escalation {level}"
    return None, 0, ""


def momentum(text: str) -> tuple[Step, ...]:
    """The constant step a prompt names as its parent's last gain (none when it names none)."""
    found = GAIN.search(text)
    if not found:
        return ()
    try:
        before, after = (ast.literal_eval(found.group(k)) for k in (1, 2))
    except (ValueError, SyntaxError):
        return ()
    if type(before) not in (int, float) or type(after) not in (int, float):
        return ()
    return (Step(int(found.group(3)), before, after),)


def already_tried(text: str) -> str:
    """The prompt's "already tried" section (adrs lists duplicate answers there), or ""."""
    start = text.find(DUPLICATES_HEADING)
    if start < 0:
        return ""
    end = text.find("\n\n", start)
    return text[start : end if end >= 0 else len(text)]


class MutationService:
    """The mutator, a request counter for seeding, the answers given per program, and the request log."""

    def __init__(self, seed: int, log_path: Path | None, repeat_rate: float = 0.0):
        self.seed = seed
        self.log_path = log_path
        self.repeat_rate = repeat_rate
        self.answers: dict[str, list[str]] = {}  # current program -> codes answered for it, in order
        self.mutator = OfflineMutator()
        self.focused: dict[tuple[str, ...], OfflineMutator] = {}  # one mutator per approach's operators
        self.lock = threading.Lock()
        self.requests = 0
        self.breakthroughs = 0
        self.strategies = 0

    def complete(self, messages: list[dict[str, Any]], temperature: float | None = None) -> tuple[str, dict[str, Any]]:
        started = time.perf_counter()
        text = prompt_text(messages)
        if STRATEGY in text:
            with self.lock:
                index, turn = self.requests, self.strategies
                self.requests += 1
                self.strategies += 1
            record = {"index": index, "t": time.time(), "seconds": time.perf_counter() - started, "outcome": "strategy"}
            self._log(record)
            code = STRATEGIES[turn % len(STRATEGIES)]
            return f"A selection rule.\n```python\n{code}```\n", record
        if BREAKTHROUGH in text:
            with self.lock:
                index, turn = self.requests, self.breakthroughs
                self.requests += 1
                self.breakthroughs += 1
            record = {
                "index": index,
                "t": time.time(),
                "seconds": time.perf_counter() - started,
                "outcome": "breakthrough",
            }
            self._log(record)
            return breakthrough_reply(text, turn), record
        current, inspirations = current_and_inspirations(text)
        weights, escalation, label = direction(text)
        with self.lock:  # the mutator's parse caches are not thread-safe; proposals take milliseconds
            index = self.requests
            self.requests += 1
            rng = random.Random(f"{self.seed}:{index}")
            mutator = (
                self.mutator
                if weights is None
                else self.focused.setdefault(tuple(sorted(weights)), OfflineMutator(operator_weights=weights))
            )
            tried = already_tried(text) if self.repeat_rate > 0 else ""  # the peer benchmark: same proposals
            repeated = self._repeat(current, tried, rng, temperature) if current is not None else None
            mutation = None
            if current is not None and repeated is None:
                for _ in range(REDRAWS if tried else 1):
                    mutation = mutator.propose(current, inspirations, rng, escalation, momentum=momentum(text))
                    if mutation is None or not tried or change_summary(current, mutation.code) not in tried:
                        break
            if current is not None and (repeated or mutation):
                self.answers.setdefault(current, []).append(repeated or mutation.code)
        if current is None:
            text, outcome = "I could not find the current program in the prompt.", "no_program"
        elif repeated is not None:
            text, outcome = reply_text(repeated, "offline_mutation", "an earlier answer, repeated"), "repeated"
        elif mutation is None:
            text, outcome = reply_text(current, "unchanged", "The offline mutator found no valid edit."), "no_edit"
        else:
            text, outcome = (
                reply_text(mutation.code, "offline_mutation", f"{mutation.operator}: {mutation.description}"),
                "mutated",
            )
        record = {
            "index": index,
            "t": time.time(),
            "seconds": time.perf_counter() - started,
            "outcome": outcome,
            "inspirations": len(inspirations),
            "direction": label,
        }
        self._log(record)
        return text, record

    def _repeat(self, current: str, tried: str, rng: random.Random, temperature: float | None) -> str | None:
        """An earlier answer for `current` to give again (one the prompt does not list as tried), or None."""
        if self.repeat_rate <= 0:
            return None
        heat = 1.0 if temperature is None else temperature
        if rng.random() >= self.repeat_rate * max(0.0, 1.0 - heat / 2):
            return None
        earlier = [code for code in self.answers.get(current, []) if change_summary(current, code) not in tried]
        return rng.choice(earlier) if earlier else None

    def _log(self, record: dict[str, Any]) -> None:
        if self.log_path is not None:
            with self.lock, open(self.log_path, "a") as log:
                log.write(json.dumps(record) + "\n")


def embedding(text: str, size: int = 64) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    rng = random.Random(digest)
    vector = [rng.uniform(-1, 1) for _ in range(size)]
    norm = sum(v * v for v in vector) ** 0.5
    return [v / norm for v in vector]


def make_handler(service: MutationService, latency_s: float = 0.0) -> type[BaseHTTPRequestHandler]:
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
                self._send(
                    200, {"object": "list", "data": [{"id": "offline-mutator", "object": "model", "owned_by": "adrs"}]}
                )
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
                arrived = time.monotonic()
                temperature = request.get("temperature")
                text, record = service.complete(
                    list(request.get("messages", [])), float(temperature) if temperature is not None else None
                )
                time.sleep(max(0.0, arrived + latency_s - time.monotonic()))
                prompt_tokens = len(prompt_text(list(request.get("messages", [])))) // 4
                completion_tokens = len(text) // 4
                self._send(
                    200,
                    {
                        "id": f"chatcmpl-{record['index']}",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": str(request.get("model", "offline-mutator")),
                        "choices": [
                            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                        ],
                        "usage": {
                            "prompt_tokens": prompt_tokens,
                            "completion_tokens": completion_tokens,
                            "total_tokens": prompt_tokens + completion_tokens,
                        },
                    },
                )
            elif self.path.rstrip("/").endswith("/embeddings"):
                inputs = request.get("input", [])
                inputs = [inputs] if isinstance(inputs, str) else list(inputs)
                data = [
                    {"object": "embedding", "index": i, "embedding": embedding(str(t))} for i, t in enumerate(inputs)
                ]
                self._send(
                    200,
                    {
                        "object": "list",
                        "data": data,
                        "model": str(request.get("model", "")),
                        "usage": {"prompt_tokens": 0, "total_tokens": 0},
                    },
                )
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0: any free port (written to --port-file)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log", type=Path, default=None, help="JSON lines, one per request")
    parser.add_argument("--port-file", type=Path, default=None)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds from request to answer")
    parser.add_argument("--repeat-rate", type=float, default=0.0, help="repeat probability at temperature 0")
    args = parser.parse_args()
    service = MutationService(args.seed, args.log, args.repeat_rate)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(service, args.latency))
    server.daemon_threads = True
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
