"""LLM mutation inside real runs (toy problem, real sandboxed evaluations, a local OpenAI-protocol server):
scripted good, malformed, rewritten and out-of-bounds replies, each failure recorded and fed back;
a hanging endpoint; a cost cap reached mid-run; LLM and offline proposals mixed in one run."""

from __future__ import annotations

import itertools
import re
import time

from rich.console import Console

from adrs import api
from adrs.archive.store import Archive
from adrs.inspect_run import render_llm_call, render_program
from tests.fake_openai import FakeOpenAI, Reply

INITIAL_KEY = "jobs[i][0] * 1.0"
SMITH_KEY = "jobs[i][0] / jobs[i][1]"


def diff(search: str, replace: str, idea: str = "Idea: a change") -> Reply:
    return Reply(f"{idea}\n<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n")


def run_settings(url: str, **llm) -> dict:
    table = {"models": [{"name": "fake-coder", "base_url": url, "max_tokens": 200}], "backoff_s": 0.01, **llm}
    return {"llm": table, "workers": 2, "islands": 1, "seed": 0, "evaluate_holdout": False}


def test_scripted_replies_become_children_or_recorded_failures_fed_back_to_the_next_prompt(toy_problem, tmp_path):
    initial = (toy_problem / "initial.py").read_text()
    rewrite = initial.replace(f"key=lambda i: {INITIAL_KEY})", "key=lambda i: (jobs[i][0] / jobs[i][1], i))")
    script = [
        Reply("<<<<<<< SEARCH\n    return sorted(\n=======\n"),  # malformed: never closed
        diff('"""Job ordering policy: evolved by adrs between the EVOLVE-BLOCK markers."""', '"""Mine now."""'),
        diff(
            f"    return sorted(range(len(jobs)), key=lambda i: {INITIAL_KEY})",
            "    return sorted(range(len(jobs)) key=len)",
        ),
        diff(
            f"    return sorted(range(len(jobs)), key=lambda i: {INITIAL_KEY})",
            f"    return sorted(range(len(jobs)), key=lambda i: {INITIAL_KEY})  # same",
        ),
        diff(INITIAL_KEY, SMITH_KEY, "Idea: Smith's rule"),  # indentation-free, partial-line SEARCH
        Reply(f"Idea: tie-break by index\n```python\n{rewrite}```\n"),
    ]
    archive_path = tmp_path / "run.sqlite"
    with FakeOpenAI(script=script) as server:
        summary = api.evolve(toy_problem, archive=archive_path, budget=3, **run_settings(server.url, concurrency=1))
        prompts = [r.prompt for r in server.completions]
    assert summary.stop_reason == "budget spent"
    archive = Archive.open(archive_path)
    programs = archive.programs(summary.run_id)
    children = [p for p in programs if p.mutator != "initial"]
    assert [p.mutator for p in children] == ["llm:fake-coder", "llm:fake-coder"]
    assert children[0].description == "Idea: Smith's rule" and children[0].score == 100.0
    assert children[1].description == "Idea: tie-break by index" and children[1].status == "evaluated"
    rows = archive.llm_calls(summary.run_id)
    assert rows[0].error.startswith("preflight")
    kinds = [r.error.split(":")[0] if r.error else None for r in rows[1:]]
    assert kinds == ["no_edit", "marker_violation", "syntax", "duplicate", None, None]
    assert [r.program_id for r in rows[-2:]] == [c.id for c in children]
    assert all(r.prompt_tokens > 0 and r.latency_s > 0 and r.response for r in rows[1:])
    # each refusal reaches the next prompt for the same parent, with its reason
    assert "could not be used (no_edit)" in prompts[1] and "not closed" in prompts[1]
    assert "could not be used (marker_violation)" in prompts[2]
    assert "could not be used (syntax)" in prompts[3]
    assert "could not be used (duplicate)" in prompts[4]
    assert prompts[4].count("not applied") == 4  # the lineage's history lists all four
    failed = archive.events(summary.run_id, "proposal_failed")
    assert [payload["kind"] for _k, payload, _t in failed] == ["no_edit", "marker_violation", "syntax", "duplicate"]
    # adrs show: the parent lists what failed, the child its prompt, reply and parsed edits
    console = Console(record=True, width=200)
    render_program(console, api.show_program(archive_path, programs[0].id))
    shown = console.export_text()
    assert "Proposals from this program that yielded no program (4)" in shown and "marker_violation" in shown
    console = Console(record=True, width=200)
    render_program(console, api.show_program(archive_path, children[0].id))
    shown = console.export_text()
    assert "Raw response" in shown and "SEARCH/REPLACE block 1" in shown and SMITH_KEY in shown
    console = Console(record=True, width=200)
    render_llm_call(console, api.show_call(archive_path, rows[2].id))
    assert "why it yielded no program: marker_violation" in console.export_text()
    assert archive.llm_calls_of_program(children[1].id)[0].response.startswith("Idea: tie-break")
    archive.close()


def test_a_hanging_endpoint_cannot_hold_the_run(toy_problem, tmp_path):
    with FakeOpenAI(script=[Reply(hang=True)] * 20) as server:
        started = time.monotonic()
        settings = run_settings(server.url, timeout_s=0.4, max_retries=0, stop_after_call_failures=3, concurrency=2)
        summary = api.evolve(toy_problem, archive=tmp_path / "a.sqlite", budget=10, **settings)
        elapsed = time.monotonic() - started
    # the third timeout stops new proposals; the one already in flight ends the same way
    assert re.search(r"failed [34] calls in a row", summary.stop_reason) and "timeout" in summary.stop_reason
    assert summary.evaluated == 1  # the initial program
    assert elapsed < 120  # never the endpoint's hour, however busy the machine


def test_the_wall_clock_budget_stops_a_run_whose_calls_hang(toy_problem, tmp_path):
    with FakeOpenAI(script=[Reply(hang=True)] * 20) as server:
        started = time.monotonic()
        settings = run_settings(server.url, timeout_s=600, concurrency=2)
        # 15 s: time for the initial program's evaluation (seconds on a busy machine) before the calls start
        summary = api.evolve(toy_problem, archive=tmp_path / "a.sqlite", budget=10, max_time_s=15, **settings)
        elapsed = time.monotonic() - started
        sent = len(server.completions)
    assert "wall-clock" in summary.stop_reason
    assert elapsed < 120  # never the endpoint's hour, however busy the machine
    archive = Archive.open(tmp_path / "a.sqlite")
    cancelled = [r for r in archive.llm_calls(summary.run_id) if r.error.startswith("cancelled")]
    assert sent == 2 and len(cancelled) == 2  # the two calls in flight are recorded as cut off
    archive.close()


def _variants():
    counter = itertools.count(1)

    def respond(body):
        n = next(counter)
        return diff("    return sorted(", f"    _variant = {n}\n    return sorted(", f"Idea: variant {n}")

    return respond


def test_the_cost_cap_stops_new_proposals_and_lets_evaluations_finish(toy_problem, tmp_path):
    with FakeOpenAI(responder=_variants()) as server:
        settings = run_settings(server.url, concurrency=2)
        settings["llm"]["models"][0].update(price_in=10.0, price_out=10.0)  # $ per million tokens
        summary = api.evolve(toy_problem, archive=tmp_path / "a.sqlite", budget=30, max_cost=0.04, **settings)
    assert "cost cap $0.04 reached" in summary.stop_reason
    archive = Archive.open(tmp_path / "a.sqlite")
    rows = archive.llm_calls(summary.run_id)
    spent = sum(r.cost_usd for r in rows)
    assert 0.02 < spent <= 0.04  # stopped near the cap, never over it
    programs = archive.programs(summary.run_id)
    assert 3 <= len(programs) < 30
    assert all(p.status != "pending" for p in programs)  # every paid-for child was evaluated
    assert summary.evaluated == len(programs)
    archive.close()


def test_llm_and_offline_proposals_mix_in_one_run_each_labelled(toy_problem, tmp_path):
    with FakeOpenAI(responder=_variants()) as server:
        settings = run_settings(server.url, concurrency=2)
        summary = api.evolve(toy_problem, archive=tmp_path / "a.sqlite", budget=9, offline_share=0.5, **settings)
    archive = Archive.open(tmp_path / "a.sqlite")
    mutators = {p.mutator for p in archive.programs(summary.run_id)}
    assert {"initial", "offline", "llm:fake-coder"} <= mutators
    llm_children = [p for p in archive.programs(summary.run_id) if p.mutator.startswith("llm:")]
    assert all(archive.llm_calls_of_program(p.id) for p in llm_children)  # each linked to its call
    archive.close()


def test_repeated_duplicates_raise_the_next_calls_temperature(toy_problem, tmp_path):
    line = f"    return sorted(range(len(jobs)), key=lambda i: {INITIAL_KEY})"
    same = diff(line, line + "  # the same program")  # a duplicate of its parent, every time
    with FakeOpenAI(responder=lambda body: same) as server:
        settings = run_settings(server.url, concurrency=1, preflight=False, repeat_temperature_step=0.25)
        settings["llm"]["models"][0]["temperature"] = 0.5
        summary = api.evolve(toy_problem, archive=tmp_path / "a.sqlite", budget=5, max_duplicate_streak=7, **settings)
        temperatures = [received.body.get("temperature") for received in server.completions]
    assert "duplicate" in summary.stop_reason
    # one parent (the initial program): each duplicate in a row adds a step, up to the protocol's 2.0
    assert temperatures == [0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0]
