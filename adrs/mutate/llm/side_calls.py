"""One recorded model call outside the proposals: a stalled adaptive run's breakthrough and strategy requests.

Owns `recorded_call`: the call to the run's first model through the source's client pool and cost
meter (the cost reserved before, settled after), the reply read by the caller's parser, and the
llm_calls row that records prompt, reply, tokens, cost and latency, with an error when the call
failed or the reply held nothing usable (breakthrough.py, strategy_call.py).

Must not: decide when to call, or store what the reply held.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from adrs.mutate.llm.pool import CallFailed
from adrs.mutate.llm.prompts import Prompt

if TYPE_CHECKING:
    from adrs.mutate.llm.source import LLMSource

T = TypeVar("T")


async def recorded_call(
    source: LLMSource, prompt: Prompt, parse: Callable[[str], T | None], what: str, unusable: str
) -> tuple[T | None, int | None]:
    """What `parse` made of the first model's reply (None: the call failed, or nothing usable) and
    the call's llm_calls row (None: the cost cap left no room for it, so no call was made).
    `what` names the call in a row's error ("breakthrough: the call failed: ..."); `unusable` is the
    error of a reply `parse` found nothing in."""
    model = source.settings.models[0]
    reservation = source.meter.reserve(model.cost(prompt.tokens, model.max_tokens))
    if reservation is None:
        return None, None
    try:
        completion = await source.pool.complete(model, prompt.messages)
    except CallFailed as failure:
        source.meter.settle(reservation, 0.0)
        call_id = source.archive.add_llm_call(
            source.run_id,
            model=model.label,
            prompt=prompt.as_text(),
            response="",
            latency_s=failure.latency_s,
            error=f"{what}: the call failed: {failure}",
        )
        return None, call_id
    cost = model.cost(completion.prompt_tokens, completion.completion_tokens)
    source.meter.settle(reservation, cost)
    parsed = parse(completion.text)
    call_id = source.archive.add_llm_call(
        source.run_id,
        model=model.label,
        prompt=prompt.as_text(),
        response=completion.text,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        cost_usd=cost,
        latency_s=completion.latency_s,
        error="" if parsed else f"{what}: {unusable}",
    )
    return parsed, call_id
