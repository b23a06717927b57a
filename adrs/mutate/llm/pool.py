"""The client pool: chat completions against OpenAI-compatible endpoints, bounded in every way.

Owns: one `openai.AsyncOpenAI` client per (endpoint, key variable), a semaphore that caps calls in
flight, a hard per-attempt deadline enforced by asyncio (`wait_for`, so a stalled endpoint or a
half-open connection cannot hold a run whatever the HTTP stack does), bounded retries with
exponential backoff and jitter for 429, 5xx, timeouts and dropped connections (Retry-After
honoured, capped), the start-up check: one tiny call per model, so a wrong key or an unknown
model fails in seconds with a message naming the model, the URL and the key variable, and the
probe of an endpoint that is away (one tiny call, no retries; outage.py schedules them).

The client's own retries are off (max_retries=0): one retry policy, visible here.

Must not: build prompts, price calls, touch the archive, or choose models.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

import openai

from adrs.mutate.llm.models import LLMError, LLMSettings, ModelSpec

MAX_BACKOFF_S = 30.0  # no single wait between retries is longer, whatever Retry-After says
PREFLIGHT_PROMPT = "adrs preflight: reply with the single word OK."
PROBE_TIMEOUT_S = 30.0  # deadline of one probe of an endpoint that is away (the call deadline, if shorter)


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float  # wall time of the whole call, retries and backoff included
    attempts: int
    usage_reported: bool  # False: the endpoint sent no usage, tokens are estimated from characters
    finish_reason: str = ""


class CallFailed(Exception):
    """A call that produced no completion: `kind` is timeout, rate_limited, server_error,
    connection, auth, not_found or bad_request; `retryable` kinds were retried until the budget ran out."""

    def __init__(self, kind: str, message: str, attempts: int, latency_s: float):
        super().__init__(f"{kind} after {attempts} attempt{'s' if attempts != 1 else ''}: {message}")
        self.kind = kind
        self.message = message
        self.attempts = attempts
        self.latency_s = latency_s

    @property
    def retryable(self) -> bool:
        return self.kind in _RETRYABLE


_RETRYABLE = {"timeout", "rate_limited", "server_error", "connection"}


def estimate_tokens(text: str) -> int:
    """A rough token count (code runs about 3-4 characters a token); used only when usage is missing."""
    return max(1, round(len(text) / 3.5))


def _classify(error: BaseException, timeout_s: float) -> tuple[str, str, float | None]:
    """(kind, message, Retry-After seconds or None) for an exception raised by one attempt."""
    if isinstance(error, TimeoutError | openai.APITimeoutError):
        return "timeout", f"no response within the {timeout_s:g} s deadline", None
    if isinstance(error, openai.APIConnectionError):
        return "connection", f"cannot reach the endpoint ({error.__cause__ or error})", None
    if isinstance(error, openai.APIStatusError):
        status = error.status_code
        message = _server_message(error)
        if status == 429:
            return "rate_limited", f"HTTP 429: {message}", _retry_after(error)
        if status >= 500:
            return "server_error", f"HTTP {status}: {message}", _retry_after(error)
        if status in (401, 403):
            return "auth", f"HTTP {status}: {message}", None
        if status == 404:
            return "not_found", f"HTTP 404: {message}", None
        return "bad_request", f"HTTP {status}: {message}", None
    return "bad_request", f"{type(error).__name__}: {error}", None


def _server_message(error: openai.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:500]
    return str(error.message)[:500]


def _retry_after(error: openai.APIStatusError) -> float | None:
    value = error.response.headers.get("retry-after") if error.response is not None else None
    try:
        return None if value is None else max(0.0, float(value))
    except ValueError:
        return None


class ClientPool:
    """Shared by all proposals of a run; create and use it inside one event loop."""

    def __init__(self, settings: LLMSettings, rng: random.Random):
        self.settings = settings
        self._rng = rng  # jitter only; seeded by the run so even waits are reproducible
        self._semaphore = asyncio.Semaphore(settings.concurrency)
        self._clients: dict[tuple[str, str], openai.AsyncOpenAI] = {}

    def _client(self, model: ModelSpec) -> openai.AsyncOpenAI:
        key = (model.url, model.api_key_env)
        if key not in self._clients:
            # The HTTP timeout is a backstop only; the asyncio deadline below is the one that binds.
            self._clients[key] = openai.AsyncOpenAI(
                api_key=model.api_key(), base_url=model.url, max_retries=0, timeout=self.settings.timeout_s + 5.0
            )
        return self._clients[key]

    async def complete(
        self,
        model: ModelSpec,
        messages: list[dict[str, str]],
        max_tokens: int | None = None,
        *,
        retries: int | None = None,
        timeout_s: float | None = None,
        temperature: float | None = None,
    ) -> Completion:
        """One chat completion, retried as the settings allow (or `retries` times); raises CallFailed.
        `temperature` overrides the model's own for this call."""
        started = time.monotonic()
        client = self._client(model)
        request = self._request(model, messages, max_tokens or model.max_tokens)
        if temperature is not None:
            request["temperature"] = temperature
        retries = self.settings.max_retries if retries is None else retries
        deadline = timeout_s or self.settings.timeout_s
        attempt = 0
        while True:
            attempt += 1
            try:
                async with self._semaphore, asyncio.timeout(deadline):  # not wait_for: see runner.py
                    response = await client.chat.completions.create(**request)
            except (openai.OpenAIError, TimeoutError) as error:
                kind, message, retry_after = _classify(error, deadline)
                if kind not in _RETRYABLE or attempt > retries:
                    raise CallFailed(kind, message, attempt, time.monotonic() - started) from error
                await asyncio.sleep(self._backoff(attempt, retry_after))
                continue
            return _completion(response, messages, attempt, time.monotonic() - started)

    def _request(self, model: ModelSpec, messages: list[dict[str, str]], max_tokens: int) -> dict:
        request: dict = {"model": model.name, "messages": messages}
        # OpenAI's reasoning models reject max_tokens; other servers may not know max_completion_tokens.
        request["max_completion_tokens" if model.is_openai else "max_tokens"] = max_tokens
        if model.temperature is not None:
            request["temperature"] = model.temperature
        return request

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        delay = self.settings.backoff_s * 2 ** (attempt - 1) * (0.5 + self._rng.random())
        if retry_after is not None:
            delay = max(delay, retry_after)
        return min(delay, MAX_BACKOFF_S)

    async def probe(self, model: ModelSpec) -> Completion:
        """One tiny call, no retries, a short deadline: is the endpoint back? Raises CallFailed."""
        messages = [{"role": "user", "content": PREFLIGHT_PROMPT}]
        deadline = min(PROBE_TIMEOUT_S, self.settings.timeout_s)
        return await self.complete(model, messages, max_tokens=16, retries=0, timeout_s=deadline)

    async def preflight(self, models: tuple[ModelSpec, ...]) -> list[tuple[ModelSpec, Completion]]:
        """One tiny call per model, concurrently; raises LLMError naming every model that cannot be used."""

        async def check(model: ModelSpec) -> tuple[ModelSpec, Completion | str]:
            try:
                model.api_key()
                messages = [{"role": "user", "content": PREFLIGHT_PROMPT}]
                return model, await self.complete(model, messages, max_tokens=16)
            except LLMError as error:
                return model, str(error)
            except CallFailed as error:
                return model, _explain(model, error)

        results = await asyncio.gather(*(check(m) for m in models))
        problems = [text for _, text in results if isinstance(text, str)]
        if problems:
            raise LLMError("the LLM endpoint check failed:\n  " + "\n  ".join(problems))
        return [(m, c) for m, c in results if isinstance(c, Completion)]

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()


def _explain(model: ModelSpec, error: CallFailed) -> str:
    where = f"model {model.name!r} at {model.url}"
    if error.kind == "auth":
        return f"{where}: the key was refused ({error.message}); check {model.api_key_env}"
    if error.kind == "not_found":
        return (
            f"{where}: unknown model or wrong URL ({error.message}); check the name the server lists at "
            f"{model.url}/models"
        )
    if error.kind == "connection":
        return f"{where}: {error.message}; is the server running?"
    return f"{where}: {error}"


def _completion(response, messages: list[dict[str, str]], attempts: int, latency_s: float) -> Completion:
    choice = response.choices[0] if response.choices else None
    text = (choice.message.content if choice is not None and choice.message is not None else None) or ""
    usage = response.usage
    if usage is not None and usage.prompt_tokens is not None:
        prompt_tokens, completion_tokens, reported = usage.prompt_tokens, usage.completion_tokens or 0, True
    else:
        prompt_tokens = sum(estimate_tokens(m["content"]) for m in messages)
        completion_tokens, reported = estimate_tokens(text), False
    finish = (choice.finish_reason if choice is not None else "") or ""
    return Completion(text, int(prompt_tokens), int(completion_tokens), latency_s, attempts, reported, finish)
