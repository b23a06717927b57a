"""Duplicate answers fed back: after an LLM answer duplicates an archived program, the next prompt
from the same parent lists it as already tried (by its first changed line), in a bounded section.
Real runs of the toy problem through a local OpenAI-protocol server."""

from __future__ import annotations

import itertools
import re

from adrs import api
from adrs.archive.store import Archive
from adrs.mutate.llm.prompts import DUPLICATES_HEADING
from tests.fake_openai import FakeOpenAI, Reply

CURRENT = re.compile(r"## Current program\nProgram #(\d+).*?```python\n(.*?)```", re.DOTALL)
CONSTANT = re.compile(r"jobs\[i\]\[0\] \* (\d+)\.0")


def constant_cycler():
    """Answers `* k.0` for k = 2..7 in turn, from whatever constant the current program has: after six
    children every answer reproduces a program already in the archive (or the parent itself)."""
    counter = itertools.count()

    def respond(body) -> Reply:
        prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
        current = CURRENT.search(prompt)
        assert current is not None, "the prompt shows the current program"
        constant = CONSTANT.search(current.group(2))
        assert constant is not None
        old = f"jobs[i][0] * {constant.group(1)}.0"
        new = f"jobs[i][0] * {2 + next(counter) % 6}.0"
        return Reply(f"Idea: scale by {new[-3:]}\n<<<<<<< SEARCH\n{old}\n=======\n{new}\n>>>>>>> REPLACE\n")

    return respond


def section(prompt: str) -> list[str]:
    """The entries of the "already tried" section of a prompt ([] when it has none)."""
    start = prompt.find(DUPLICATES_HEADING)
    if start < 0:
        return []
    lines = prompt[start:].split("\n\n", 1)[0].splitlines()
    return lines[1:]


def test_the_next_prompt_after_a_duplicate_names_it_and_the_list_is_bounded(toy_problem, tmp_path):
    archive_path = tmp_path / "a.sqlite"
    with FakeOpenAI(responder=constant_cycler()) as server:
        llm = {
            "models": [{"name": "fake-coder", "base_url": server.url, "max_tokens": 200}],
            "concurrency": 1,
            "preflight": False,
            "duplicates_shown": 2,
        }
        summary = api.evolve(
            toy_problem,
            archive=archive_path,
            budget=9,  # the initial program, six children, then only duplicates: the streak stops the run
            max_duplicate_streak=12,
            llm=llm,
            workers=1,
            islands=1,
            seed=0,
            evaluate_holdout=False,
        )
        prompts = [received.prompt for received in server.completions]
    assert "in a row were duplicates" in summary.stop_reason
    archive = Archive.open(archive_path)
    calls = archive.llm_calls(summary.run_id)
    changes = [payload.get("change", "") for _kind, payload, _at in archive.events(summary.run_id, "proposal_failed")]
    archive.close()
    assert len(calls) == len(prompts)
    parents = [int(CURRENT.search(p).group(1)) for p in prompts]
    duplicates = [i for i, call in enumerate(calls) if call.failure_kind == "duplicate"]
    assert len(duplicates) >= 10 and len(changes) == len(duplicates)
    assert all(c.startswith("line ") and "->" in c or c.startswith("nothing") for c in changes)
    named = 0
    for change, i in zip(changes, duplicates, strict=True):
        later = [j for j in range(i + 1, len(prompts)) if parents[j] == parents[i]]
        if later:  # the next prompt from the same parent names this duplicate
            assert any(change in entry for entry in section(prompts[later[0]])), (change, section(prompts[later[0]]))
            named += 1
    assert named >= 5
    # bounded: never more than duplicates_shown entries, each one short line; the cap is reached
    sizes = [len(section(p)) for p in prompts]
    assert max(sizes) == 2
    assert all(len(entry) <= 240 for p in prompts for entry in section(p))
    # the first prompt from a parent with no duplicate yet has no such section
    assert sizes[0] == 0


def test_duplicates_shown_zero_turns_the_list_off(toy_problem, tmp_path):
    with FakeOpenAI(responder=constant_cycler()) as server:
        llm = {
            "models": [{"name": "fake-coder", "base_url": server.url, "max_tokens": 200}],
            "concurrency": 1,
            "preflight": False,
            "duplicates_shown": 0,
        }
        api.evolve(
            toy_problem,
            archive=tmp_path / "a.sqlite",
            budget=9,
            max_duplicate_streak=8,
            llm=llm,
            workers=1,
            islands=1,
            seed=0,
            evaluate_holdout=False,
        )
        prompts = [received.prompt for received in server.completions]
    assert len(prompts) > 8 and not any(DUPLICATES_HEADING in p for p in prompts)
