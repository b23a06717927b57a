"""The client pool against a local OpenAI-protocol server, through the real openai client:
retries and their budget, the hard deadline, the concurrency cap, and start-up checks that fail fast."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from adrs.mutate.llm.models import LLMError, parse_settings
from adrs.mutate.llm.pool import CallFailed, ClientPool
from tests.fake_openai import FakeOpenAI, Reply

MESSAGES = [{"role": "user", "content": "improve this"}]


def settings(url: str, **extra):
    table = {"models": [{"name": "fake-coder", "base_url": url, "max_tokens": 64}], "backoff_s": 0.01, **extra}
    return parse_settings(table, "test")


async def _complete(s, count: int = 1):
    pool = ClientPool(s, random.Random(0))
    try:
        return await asyncio.gather(*(pool.complete(s.models[0], MESSAGES) for _ in range(count)))
    finally:
        await pool.aclose()


def test_a_429_is_retried_after_its_retry_after_then_succeeds():
    with FakeOpenAI(script=[Reply(status=429, retry_after=0.4), Reply("fixed it", usage=(30, 5))]) as server:
        [completion] = asyncio.run(_complete(settings(server.url, max_retries=2)))
    assert completion.text == "fixed it"
    assert completion.attempts == 2
    assert (completion.prompt_tokens, completion.completion_tokens) == (30, 5)
    first, second = server.completions
    assert second.at - first.at >= 0.4  # Retry-After honoured, not just the 10 ms backoff
    assert first.body["max_tokens"] == 64  # non-OpenAI servers get max_tokens


def test_server_errors_are_retried_until_the_budget_is_spent():
    with FakeOpenAI(script=[Reply(status=500)] * 5 + [Reply("too late")]) as server:
        with pytest.raises(CallFailed) as failure:
            asyncio.run(_complete(settings(server.url, max_retries=2)))
        assert len(server.completions) == 3  # one try and two retries, no more
    assert failure.value.kind == "server_error"
    assert failure.value.attempts == 3
    assert "HTTP 500" in str(failure.value)


def test_a_response_that_never_comes_is_cut_at_the_deadline():
    with FakeOpenAI(script=[Reply(hang=True)] * 3) as server:
        started = time.monotonic()
        with pytest.raises(CallFailed) as failure:
            asyncio.run(_complete(settings(server.url, timeout_s=0.5, max_retries=1)))
        elapsed = time.monotonic() - started
    assert failure.value.kind == "timeout"
    assert failure.value.attempts == 2
    assert elapsed < 120  # two 0.5 s deadlines plus a short backoff, never the server's hour (however busy the machine)


def test_no_more_calls_are_in_flight_than_the_concurrency_limit():
    with FakeOpenAI(latency_s=0.2) as server:
        started = time.monotonic()
        results = asyncio.run(_complete(settings(server.url, concurrency=2), count=6))
        elapsed = time.monotonic() - started
    assert len(results) == 6
    assert server.max_in_flight == 2
    assert elapsed >= 0.6  # three waves of two


def test_start_up_check_names_the_key_variable_when_the_key_is_wrong(monkeypatch):
    monkeypatch.setenv("FAKE_KEY", "sk-wrong")
    with FakeOpenAI(api_key="sk-right") as server:
        table = {"models": [{"name": "fake-coder", "base_url": server.url, "api_key_env": "FAKE_KEY"}]}
        pool = ClientPool(parse_settings(table, "test"), random.Random(0))
        with pytest.raises(LLMError) as error:
            asyncio.run(pool.preflight(pool.settings.models))
        tried = len(server.requests)
    assert "FAKE_KEY" in str(error.value) and "refused" in str(error.value)
    assert tried == 1  # not retried: a wrong key fails at once


def test_start_up_check_names_an_unknown_model():
    with FakeOpenAI(models=("fake-coder",)) as server:
        table = {
            "models": [
                {"name": "fake-coder", "base_url": server.url},
                {"name": "no-such-model", "base_url": server.url},
            ]
        }
        pool = ClientPool(parse_settings(table, "test"), random.Random(0))
        with pytest.raises(LLMError) as error:
            asyncio.run(pool.preflight(pool.settings.models))
    message = str(error.value)
    assert "'no-such-model'" in message and "unknown model" in message
    assert "'fake-coder'" not in message  # the good model is not blamed


def test_an_unreachable_endpoint_fails_the_start_up_check():
    table = {"models": [{"name": "m", "base_url": "http://127.0.0.1:9/v1"}], "max_retries": 0}
    pool = ClientPool(parse_settings(table, "test"), random.Random(0))
    with pytest.raises(LLMError) as error:
        asyncio.run(pool.preflight(pool.settings.models))
    assert "is the server running?" in str(error.value)


def test_openai_without_a_key_is_refused_before_any_call(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    pool = ClientPool(parse_settings({"models": ["gpt-5-mini"]}, "test"), random.Random(0))
    with pytest.raises(LLMError) as error:
        asyncio.run(pool.preflight(pool.settings.models))
    assert "OPENAI_API_KEY is not set" in str(error.value)
