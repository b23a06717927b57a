"""Strategy calls: a stalled adaptive run asks its model for a parent-selection function (EvoX's idea).

Owns: the request's prompt (template `strategy.txt`, replaceable by the problem's
prompts/strategy.txt like the other templates) built from the problem, the run's best program's
summary, what `select()` would be given now and the strategies written before (their code and how
each ended); reading the reply (the first fenced Python block that defines `select`, else a reply
that is nothing but such code); and `ask_for_strategy`, which makes the call through the source's
client pool and cost meter and records it as an llm_calls row (side_calls.py) whose prompt opens with
"## Selection strategy request" (the `selection_strategy` event names the row:
adrs/search/written.py).

Must not: decide when to call, run the code it gets back (adrs/search/written_run.py runs it in
the sandbox), or store the strategy.
"""

from __future__ import annotations

import json
import re
from string import Template
from typing import TYPE_CHECKING

from adrs.mutate.base import StrategyReply, StrategyRequest
from adrs.mutate.llm.prompts import DEFAULT_TEMPLATES, Prompt, objectives_text, program_summary
from adrs.mutate.llm.side_calls import recorded_call

if TYPE_CHECKING:
    from adrs.mutate.llm.source import LLMSource

TEMPLATE = "strategy.txt"
MAX_CODE = 20_000  # characters of a strategy kept; a longer reply is refused
SYSTEM = (
    "You are an expert in evolutionary search and algorithm design. You write the parent-selection "
    "rule of a search that has stopped improving, so that it finds better programs again.\n"
)
_FENCED = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.DOTALL)
_DEFINES_SELECT = re.compile(r"^def select\(", re.MULTILINE)


def strategy_prompt(source: LLMSource, request: StrategyRequest) -> Prompt:
    problem = source.problem
    override = problem.root / "prompts" / TEMPLATE
    template = (override if override.is_file() else DEFAULT_TEMPLATES / TEMPLATE).read_text()
    example = dict(request.example)
    given = example.pop("programs_given", len(example.get("programs", [])))
    user = Template(template).safe_substitute(
        stalled_for=request.stalled_for,
        description=problem.description.strip() or "(no description)",
        objectives=objectives_text(problem),
        best_summary=program_summary(request.best, source.archive.evaluations(request.best.original_id)),
        programs_given=given,
        example=json.dumps(example, indent=1)[:4000],
        history=_history_text(request.history),
    )
    return Prompt(SYSTEM, user.strip() + "\n")


def _history_text(history: list[dict]) -> str:
    if not history:
        return "(none yet: the search chose parents by its own adaptive rule)"
    parts = []
    for entry in history:
        parts.append(
            f"### Strategy {entry.get('number')}: {entry.get('outcome')} ({entry.get('reason')}); best score "
            f"{entry.get('best_before')} before, {entry.get('best_after')} after\n```python\n"
            f"{str(entry.get('code', '')).strip()[:3000]}\n```"
        )
    return "\n\n".join(parts)


def parse_strategy(text: str) -> str | None:
    """The strategy's code: the first fenced block that defines select(), else the whole reply if it does."""
    for block in _FENCED.findall(text):
        if _DEFINES_SELECT.search(block):
            return block if len(block) <= MAX_CODE else None
    stripped = text.strip()
    if _DEFINES_SELECT.search(stripped) and "```" not in stripped and len(stripped) <= MAX_CODE:
        return stripped + "\n"
    return None


async def ask_for_strategy(source: LLMSource, request: StrategyRequest) -> StrategyReply:
    """One call to the run's first model; the strategy's code, or None when the call or its reply fails."""
    prompt = strategy_prompt(source, request)
    code, call_id = await recorded_call(
        source, prompt, parse_strategy, "selection strategy", "no Python block defining select() in the reply"
    )
    return StrategyReply(code, call_id)
