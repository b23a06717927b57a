"""Breakthrough calls: when an adaptive run stalls, one model call proposes a few new approaches.

Owns: the breakthrough prompt (template `breakthrough.txt`, replaceable by the problem's
prompts/breakthrough.txt like the other templates) built from the run's best program, its
feedback and the approaches tried before; reading the reply (a JSON array of {name, approach,
why}, fenced or not); and `ask_for_breakthrough`, which makes the call through the source's client
pool and cost meter and records it as an llm_calls row (side_calls.py) whose prompt opens with
"## Breakthrough request" (the `breakthrough` event names the row: adrs/search/paradigms.py).

Must not: decide when to call (adrs/search/adaptive.py does) or store the approaches.
"""

from __future__ import annotations

import json
import re
from string import Template
from typing import TYPE_CHECKING, Any

from adrs.mutate.base import BreakthroughReply, BreakthroughRequest
from adrs.mutate.llm.prompts import (
    DEFAULT_TEMPLATES,
    Prompt,
    evolvable_text,
    objectives_text,
    program_summary,
)
from adrs.mutate.llm.side_calls import recorded_call
from adrs.search.paradigms import Paradigm

if TYPE_CHECKING:
    from adrs.mutate.llm.source import LLMSource

TEMPLATE = "breakthrough.txt"
SYSTEM = (
    "You are a research lead in computer systems and algorithm design. You read a program that an "
    "automated search can no longer improve and name genuinely different ways to solve the problem.\n"
)
_ARRAY = re.compile(r"\[.*\]", re.DOTALL)


def breakthrough_prompt(source: LLMSource, request: BreakthroughRequest) -> Prompt:
    problem = source.problem
    override = problem.root / "prompts" / TEMPLATE
    template = (override if override.is_file() else DEFAULT_TEMPLATES / TEMPLATE).read_text()
    best = request.best
    evaluations = source.archive.evaluations(best.original_id)
    feedback = "\n".join(f"[stage {e.stage}] {e.feedback.strip()}" for e in evaluations if e.feedback.strip())
    tried = "\n".join(
        f"- {t.get('name')}: best score {t.get('best_before')} before, {t.get('best_after')} after"
        for t in request.tried
    )
    user = Template(template).safe_substitute(
        stalled_for=request.stalled_for,
        count=request.count,
        description=problem.description.strip() or "(no description)",
        objectives=objectives_text(problem),
        best_summary=program_summary(best, evaluations),
        best_code=evolvable_text(best.code).rstrip("\n"),
        feedback=feedback[:4000] or "(none)",
        tried=tried or "(none yet)",
    )
    return Prompt(SYSTEM, user.strip() + "\n")


def parse_paradigms(text: str, count: int) -> list[Paradigm]:
    """The approaches of a reply: the first JSON array of objects with a name and an approach."""
    found = _ARRAY.search(text)
    if found is None:
        return []
    try:
        items: Any = json.loads(found.group(0))
    except ValueError:
        return []
    paradigms = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and str(item.get("name", "")).strip() and str(item.get("approach", "")).strip():
            paradigm = Paradigm(
                str(item["name"]).strip()[:120],
                str(item["approach"]).strip()[:2000],
                str(item.get("why", "")).strip()[:500],
            )
            if paradigm.name not in {p.name for p in paradigms}:
                paradigms.append(paradigm)
    return paradigms[:count]


async def ask_for_breakthrough(source: LLMSource, request: BreakthroughRequest) -> BreakthroughReply:
    """One call to the run's first model; the approaches, or none when the call or its reply fails."""
    prompt = breakthrough_prompt(source, request)
    paradigms, call_id = await recorded_call(
        source,
        prompt,
        lambda text: parse_paradigms(text, request.count),
        "breakthrough",
        "no JSON array of approaches (name, approach, why) in the reply",
    )
    return BreakthroughReply(paradigms or [], call_id)
