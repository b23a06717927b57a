"""A selection strategy written by the model (`--evolve-selection`, adrs/search/written.py).

Through the real `openai` client against the local OpenAI-protocol server: a stalled adaptive run
asks for a strategy, runs it in the sandbox (never in the engine), draws its parents from the
weights it answers, rolls it back when the run does not improve under it, refuses strategies that
fail or answer something other than weights of the programs they were given, and shows the model
each earlier strategy with how it ended. Resume continues a strategy in use exactly.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import subprocess
import sys
from html import escape
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console

import adrs
from adrs.archive.select import SelectionConfig
from adrs.archive.store import Archive
from adrs.evaluate.runner import EvalSettings
from adrs.inspect_run import render_status
from adrs.mutate.base import Proposal, ProposalContext, ProposalSource, StrategyReply, StrategyRequest
from adrs.mutate.llm.strategy_call import parse_strategy
from adrs.problem import load_problem
from adrs.report import run_sections
from adrs.search.config import AdaptiveConfig
from adrs.search.written import ADOPTED, REFUSED, ROLLED_BACK, STATE_KEY, WrittenSelection, strategy_events
from adrs.search.written_run import StrategyHost, read_weights

sys.path.insert(0, str(Path(__file__).parent))
from fake_openai import FakeOpenAI, Reply  # noqa: E402
from test_adaptive import PARADIGMS, Landscape  # noqa: E402

REQUEST_MARK = "## Selection strategy request"
GUIDANCE = "The search's current selection strategy chose this parent"
# Strategy 1: every parent is the worst program it is given (a rule no built-in strategy follows:
# in this stalled run the best, which the adaptive search builds on, is the initial program).
ONLY_WORST = (
    "def select(programs, context):\n"
    "    worst = min(programs, key=lambda p: (p['score'], -p['id']))\n"
    "    return {p['id']: (1.0 if p is worst else 0.0) for p in programs}\n"
)
# Strategy 2: reads the problem's folder, which the sandbox hides from candidates (and strategies).
PEEKS = "import os\n\n\ndef select(programs, context):\n    os.listdir(PROBLEM)\n    return {}\n"
# Strategy 3: weights a program it was not given.
UNKNOWN_ID = "def select(programs, context):\n    return {123456: 1.0}\n"


def strategy_endpoint(initial: str, problem: Path):
    """Strategy requests get the three strategies above in turn; every proposal a distinct, worse program."""
    numbers = itertools.count(2)
    strategies = iter([ONLY_WORST, PEEKS.replace("PROBLEM", repr(str(problem))), UNKNOWN_ID])

    def reply(request: dict) -> Reply:
        prompt = "\n".join(str(m.get("content", "")) for m in request.get("messages", []))
        if "## Breakthrough request" in prompt:
            return Reply(json.dumps(PARADIGMS))
        if REQUEST_MARK in prompt:
            code = next(strategies, UNKNOWN_ID)
            return Reply(f"Choose parents by a fixed rule.\n```python\n{code}```\n")
        worse = initial.replace("key=lambda i: jobs[i][0] * 1.0", f"key=lambda i: -jobs[i][0] * {next(numbers)}.0")
        return Reply(f"Longest first.\n```python\n{worse}```\n")

    return reply


def test_a_stalled_run_adopts_a_written_strategy_draws_from_it_and_rolls_it_back(toy_problem, tmp_path):
    initial = (toy_problem / "initial.py").read_text()
    config = AdaptiveConfig(
        stall_window=4,
        breakthroughs=2,
        paradigm_uses=1,
        strategy_epoch=2,
        strategy_trial=10,
        spawn_below=0.0,
        written_strategy=True,
    )
    path = tmp_path / "written.sqlite"
    with FakeOpenAI(responder=strategy_endpoint(initial, toy_problem)) as server:
        llm = {"models": [{"name": "fake-coder", "base_url": server.url}], "edit_format": "rewrite", "concurrency": 1}
        summary = adrs.evolve(
            toy_problem,
            archive=path,
            budget=34,
            seed=0,
            workers=1,
            evaluate_holdout=False,
            selection=SelectionConfig(strategy="adaptive"),
            mutator="llm",
            llm=llm,
            adaptive=config,
            max_duplicate_streak=50,
            deterministic=True,  # proposal k sees exactly the results of proposals before it
            lag=0,
        )
        prompts = [r.prompt for r in server.completions]
    asked = [p for p in prompts if REQUEST_MARK in p]
    assert len(asked) >= 3, "a stalled run must ask again once a strategy was rolled back or refused"
    # A breakthrough's approaches are still cited while a strategy is in use (before its parents).
    in_use = prompts[prompts.index(asked[0]) + 1 : prompts.index(asked[1])]
    assert any('approach "weighted shortest first"' in p for p in in_use)
    archive = Archive.open(path)
    events = strategy_events(archive, summary.run_id)
    assert [e["outcome"] for e in events[:4]] == [ADOPTED, ROLLED_BACK, REFUSED, REFUSED]
    assert events[1]["reason"].startswith("no better program in 10 evaluations under it (the run's best ")
    # The sandbox hid the problem folder from the strategy, as from any candidate.
    assert "FileNotFoundError" in events[2]["reason"] or "PermissionError" in events[2]["reason"]
    assert "which it was not given" in events[3]["reason"]
    assert archive.llm_call(events[0]["llm_call_id"]).prompt.count(REQUEST_MARK) == 1
    # While strategy 1 was in use, every parent was one it weighted: the worst, never the initial program.
    stored = {p.id: p for p in archive.programs(summary.run_id)}
    programs = sorted((p for p in stored.values() if p.migrated_from is None), key=lambda p: p.proposal_index)
    parent_of = [None if p.parent_id is None else stored[p.parent_id].original_id for p in programs]
    initial_id = programs[0].id
    # Proposal k made program k + 1 (no duplicates).
    proposals = [p for p in prompts if REQUEST_MARK not in p and "## Breakthrough request" not in p]
    drawn = [k + 1 for k, p in enumerate(proposals) if GUIDANCE in p]
    assert len(drawn) >= 4
    assert all(stored[parent_of[i]].score < programs[0].score for i in drawn)  # a worse child, never the initial
    assert sum(parent_of[i] == initial_id for i in range(1, len(programs)) if i not in drawn) >= 4
    # The next request shows the model what came of the strategy before, with its code.
    assert "Strategy 1: rolled_back" in asked[1] and "p is worst" in asked[1]
    assert "Strategy 2: refused" in asked[2]
    assert archive.get_state(summary.run_id, STATE_KEY)["number"] >= 3
    # `adrs status` and the report say what was written and how each ended.
    console = Console(record=True, width=200)
    render_status(console, adrs.run_status(path))
    shown = console.export_text()
    assert "written selection strategies:" in shown
    assert "strategy 1 rolled_back at evaluation" in shown and "strategy 2 refused" in shown
    page = run_sections.strategies([SimpleNamespace(label="run 1", strategies=events)])
    assert page.count("<tr>") >= 5 and "no better program in 10 evaluations under it" in page
    assert escape("min(programs, key=lambda p: (p['score'], -p['id']))") in page


class WritingSource(ProposalSource):
    """A source whose only job here is to write one strategy (the proposals are not used)."""

    def __init__(self, code: str):
        self.code = code

    async def propose(self, context: ProposalContext) -> Proposal:
        return Proposal(None, "none", error_kind="no_edit")

    async def write_strategy(self, request: StrategyRequest) -> StrategyReply:
        return StrategyReply(self.code, None)


def test_resume_continues_a_strategy_in_use_exactly(toy_problem, tmp_path):
    config = AdaptiveConfig(stall_window=2, strategy_epoch=3, strategy_trial=50, spawn_below=0.0)
    land = Landscape(tmp_path, toy_problem, config=config)
    for i in range(4):
        land.result(land.initial, i % 3, 40.0 + i)  # worse than the initial program: a stall
    host = StrategyHost(load_problem(toy_problem), EvalSettings())
    code = (
        "import random\n\ndef select(programs, context):\n"
        "    rng = random.Random(context['seed'])\n"
        "    return {p['id']: rng.random() for p in programs}\n"
    )
    source = WritingSource(code)

    def draws(written: WrittenSelection, n: int, start: int) -> list[int]:
        out = []
        for k in range(start, start + n):
            asyncio.run(written.upkeep(land.search, land.view, source))
            out.append(written.parent(land.view, random.Random(k)).id)
        return out

    whole = WrittenSelection.open(land.archive, land.run_id, host, seed=3)
    first = draws(whole, 4, 0)
    assert whole.active is not None and whole.active.epochs == 2, "weights are refreshed every strategy_epoch draws"
    assert len(set(first)) > 1, "parents are drawn in proportion to the weights, not the single best"
    reopened = WrittenSelection.open(land.archive, land.run_id, host, seed=3)  # what `adrs resume` builds
    assert reopened.active == whole.active and reopened.number == whole.number == 1
    # Both go on from the same stored state: the same refreshes (at the same draws) and the same parents.
    assert draws(reopened, 5, 4) == draws(whole, 5, 4)
    assert whole.active.epochs == reopened.active.epochs == 3


def test_weights_are_validated_and_replies_parsed():
    given = {1, 2, 3}
    assert read_weights({"1": 0.5, "3": 2}, given) == {1: 0.5, 3: 2.0}
    for bad, message in [
        ([1, 2], "not weights by program id"),
        ({"9": 1.0}, "which it was not given"),
        ({"1": float("nan")}, "finite numbers >= 0"),
        ({"1": -1.0}, "finite numbers >= 0"),
        ({"1": True}, "finite numbers >= 0"),
        ({"1": 0.0}, "no program a positive weight"),
        ({"01x": 1.0}, "which it was not given"),
    ]:
        with pytest.raises(ValueError, match=message):
            read_weights(bad, given)
    assert parse_strategy("Idea.\n```python\ndef select(programs, context):\n    return {}\n```") is not None
    assert parse_strategy("```python\ndef other():\n    pass\n```") is None
    assert parse_strategy("def select(p, c):\n    return {}") == "def select(p, c):\n    return {}\n"


def test_evolve_selection_is_refused_without_adaptive_search_or_a_model(tmp_path):
    archive = tmp_path / "none.sqlite"
    for extra, needle in [(["--selection", "mixed"], "needs --selection adaptive"), ([], "pass --llm")]:
        done = subprocess.run(
            [sys.executable, "-m", "adrs.cli", "run", "problems/prism", "--evolve-selection", "--archive", str(archive),
             "--budget", "2", "--quiet", *extra],
            capture_output=True, text=True, cwd=Path(__file__).parents[1],
        )  # fmt: skip
        assert done.returncode != 0
        assert needle in done.stderr + done.stdout
        assert len((done.stderr + done.stdout).strip().splitlines()) == 1
    assert not archive.exists()
