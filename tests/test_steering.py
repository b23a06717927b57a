"""Steering a run (`adrs run --steerable`): the archive's steering records, and what a real engine does
with them while it runs (the toy problem, real sandboxed evaluations, real SQLite, the local
OpenAI-protocol server): a hint reaches the next prompt, a pinned program is every parent, a banned
one never is, a pause stops new proposals until resumed, and a run not started --steerable reads
none of it. The browser side is tests/test_dashboard_browser.py; the HTTP side test_serve_steer.py."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
from html import escape as html_escape
from pathlib import Path

import pytest

from adrs import api
from adrs.archive.records import SteeringState
from adrs.archive.steering import SteeringError
from adrs.archive.store import Archive, NewProgram
from adrs.cli import build_parser
from adrs.evaluate.result import Evaluation
from adrs.mutate.llm.prompts import hints_text
from adrs.progress import Progress
from tests.fake_openai import FakeOpenAI, Reply
from tests.pg import PostgresUnavailable, start_postgres

PARENT = re.compile(r"## Current program\nProgram #(\d+)")


def _dump(path: Path) -> list[str]:
    connection = sqlite3.connect(path)
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


class Rewrites:
    """Replies that each rewrite the toy's initial program into a new, valid, distinct program."""

    def __init__(self, initial: str, on_request=None):
        self.initial = initial
        self.count = 0
        self.on_request = on_request  # called with the request's number (from 1) before it is answered
        self.lock = threading.Lock()

    def __call__(self, body: dict) -> Reply:
        with self.lock:
            self.count += 1
            number = self.count
        if self.on_request is not None:
            self.on_request(number)
        code = self.initial.replace("jobs[i][0] * 1.0)", f"(jobs[i][0] * 1.0, {number}))")
        return Reply(f"Idea: variant {number}\n```python\n{code}```\n")


def llm_settings(url: str, **extra) -> dict:
    table = {"models": [{"name": "fake-coder", "base_url": url, "max_tokens": 200}], "backoff_s": 0.01}
    table["concurrency"] = 1
    return {"llm": table, "workers": 1, "islands": 1, "seed": 0, "evaluate_holdout": False, **extra}


def _parents(prompts: list[str]) -> list[int]:
    return [int(PARENT.search(p).group(1)) for p in prompts]


# the archive's records --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def postgres():
    try:
        server = start_postgres()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request, tmp_path) -> str:
    """A fresh archive location: an SQLite file, or a database of a private PostgreSQL server (or a skip)."""
    if request.param == "sqlite":
        return str(tmp_path / "a.sqlite")
    return request.getfixturevalue("postgres").new_database()


def test_steering_actions_are_stored_with_their_time_and_refused_when_wrong(location):
    store = Archive.open(location)
    try:
        run = store.create_run("toy", "/toy", "f" * 16, 0, {"steerable": True})
        other = store.create_run("toy", "/toy", "f" * 16, 0, {})
        done = store.add_program(run.id, NewProgram("x = 1\n", "1" * 64, 0, "initial"))
        store.record_evaluations(done.id, [Evaluation("full", True, 2.0, {"score": 2.0})], complete=True)
        pending = store.add_program(run.id, NewProgram("x = 2\n", "2" * 64, 1, "offline", done.id))
        stranger = store.add_program(other.id, NewProgram("x = 3\n", "3" * 64, 0, "initial"))
        assert store.steering(run.id) == SteeringState()  # nothing asked yet: no row, nothing written

        hint = store.steer(run.id, "hint", text="  try a priority queue  ")
        assert hint.version == 1 and [h.text for h in hint.hints] == ["try a priority queue"]
        store.steer(run.id, "pin", program_id=done.id)
        state = store.steer(run.id, "ban", program_id=done.id)  # banning a pinned program unpins it
        assert state.pinned == () and state.banned == (done.id,)
        store.steer(run.id, "pause")
        state = store.steering(run.id)
        assert state.paused and state.version == 4
        for action, kwargs, message in [
            ("pin", {"program_id": pending.id}, "only an evaluated one"),
            ("pin", {"program_id": stranger.id}, f"no program with id {stranger.id} in run {run.id}"),
            ("ban", {"program_id": 999}, "no program with id 999"),
            ("hint", {"text": "   "}, "needs some text"),
            ("hint", {"text": "x" * 2001}, "at most 2000"),
            ("jump", {}, "unknown steering action"),
        ]:
            with pytest.raises(SteeringError, match=message):
                store.steer(run.id, action, **kwargs)
        assert store.steering(run.id).version == 4  # a refused action writes nothing
        store.steer(run.id, "resume")
        store.steer(run.id, "unban", program_id=done.id)
        state = store.steer(run.id, "unhint", hint_id=hint.hints[0].id)
        assert state == SteeringState(version=7)
        log = store.steering_log(run.id)
        assert [(e.action, e.detail) for e in log] == [
            ("hint", "try a priority queue"),
            ("pin", f"#{done.id}"),
            ("ban", f"#{done.id}"),
            ("pause", ""),
            ("resume", ""),
            ("unban", f"#{done.id}"),
            ("unhint", f"hint {hint.hints[0].id}"),
        ]
        assert log[0].at.tzinfo is not None and log[0].at <= log[-1].at
        assert store.steering(other.id) == SteeringState()  # per run
    finally:
        store.close()


def test_two_writers_at_once_lose_no_action(location):
    store = Archive.open(location)
    run = store.create_run("toy", "/toy", "f" * 16, 0, {"steerable": True})
    store.close()

    def write(name: str) -> None:
        writer = Archive.open(location, create=False)
        try:
            for number in range(15):
                writer.steer(run.id, "hint", text=f"{name} {number}")
        finally:
            writer.close()

    threads = [threading.Thread(target=write, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    store = Archive.open(location, create=False)
    try:
        state = store.steering(run.id)
    finally:
        store.close()
    assert state.version == 30 and len(state.hints) == 30  # each change applied to the other's
    assert sorted(h.text for h in state.hints) == sorted(f"{n} {i}" for n in "ab" for i in range(15))


def test_reading_steering_never_writes_and_an_archive_never_steered_reads_as_nothing_asked(tmp_path):
    path = tmp_path / "a.sqlite"
    store = Archive.open(path)
    run = store.create_run("toy", "/toy", "f" * 16, 0, {})
    store.close()
    before, main_file = _dump(path), path.read_bytes()
    reader = Archive.open(path, create=False, read_only=True)
    try:
        assert reader.steering(run.id) == SteeringState() and reader.steering_log(run.id) == []
    finally:
        reader.close()
    assert _dump(path) == before and path.read_bytes() == main_file


# the engine -----------------------------------------------------------------------------------------
def test_a_hint_written_while_the_run_goes_is_in_the_next_prompt(toy_problem, tmp_path):
    archive = tmp_path / "run.sqlite"
    hint = "Consider the weights: Smith's rule orders by processing time over weight."

    def write_hint(number: int) -> None:
        if number == 2:  # while proposal 2 is being answered: proposal 3's prompt is the next one
            writer = Archive.open(archive, create=False)
            try:
                writer.steer(writer.run().id, "hint", text=hint)
            finally:
                writer.close()

    replies = Rewrites((toy_problem / "initial.py").read_text(), write_hint)
    with FakeOpenAI(responder=replies) as server:
        summary = api.evolve(toy_problem, archive=archive, budget=5, steerable=True, **llm_settings(server.url))
        prompts = [r.prompt for r in server.completions if "adrs preflight" not in r.prompt]
    assert summary.stop_reason == "budget spent" and len(prompts) >= 4
    assert all(hint not in p for p in prompts[:2])
    assert all(hints_text((hint,)) in p for p in prompts[2:]), prompts[2]
    store = Archive.open(archive, create=False, read_only=True)
    try:
        assert store.llm_calls(summary.run_id)[3].prompt.count(hint) == 1  # the stored prompt is the one sent
    finally:
        store.close()


def test_pinned_is_every_parent_and_banned_never_one_and_resume_keeps_steerable(toy_problem, tmp_path):
    archive = tmp_path / "run.sqlite"
    replies = Rewrites((toy_problem / "initial.py").read_text())
    with FakeOpenAI(responder=replies) as server:
        first = api.evolve(toy_problem, archive=archive, budget=4, steerable=True, **llm_settings(server.url))
        store = Archive.open(archive, create=False)
        try:
            evaluated = [p for p in store.programs(first.run_id) if p.status == "evaluated"]
            assert len(evaluated) >= 3
            pinned = evaluated[1]
            store.steer(first.run_id, "pin", program_id=pinned.id)
        finally:
            store.close()
        sent = len(server.completions)
        api.resume(archive, budget=3)  # no --steerable: the stored setting holds
        pinned_prompts = [r.prompt for r in server.completions[sent:]]

        store = Archive.open(archive, create=False)
        try:
            assert store.run(first.run_id).config["steerable"] is True
            store.steer(first.run_id, "unpin", program_id=pinned.id)
            banned = [p.id for p in store.programs(first.run_id) if p.status == "evaluated"][:-1]
            for program in banned:  # every program but the newest
                store.steer(first.run_id, "ban", program_id=program)
            newest = max(p.id for p in store.programs(first.run_id) if p.status == "evaluated")
        finally:
            store.close()
        sent = len(server.completions)
        api.resume(archive, budget=3)
        banned_prompts = [r.prompt for r in server.completions[sent:]]
    assert pinned_prompts and set(_parents(pinned_prompts)) == {pinned.id}
    store = Archive.open(archive, create=False, read_only=True)
    try:
        children = [p for p in store.programs(first.run_id) if p.id > newest]
    finally:
        store.close()
    assert banned_prompts and not set(_parents(banned_prompts)) & set(banned)
    assert children and all(c.parent_id not in banned for c in children)
    assert all(not set(c.inspiration_ids) & set(banned) for c in children)


def test_a_pause_stops_new_proposals_until_resumed_and_the_one_under_way_is_evaluated(toy_problem, tmp_path):
    archive = tmp_path / "run.sqlite"
    marks: dict[str, float] = {}

    def steer(action: str) -> None:
        writer = Archive.open(archive, create=False)
        try:
            writer.steer(writer.run().id, action)
            marks[action] = time.monotonic()  # the fake endpoint stamps requests on this clock
        finally:
            writer.close()

    def pause_at_two(number: int) -> None:
        if number == 2:  # proposal 2 is under way when the pause lands
            steer("pause")
            threading.Timer(4.0, steer, args=("resume",)).start()

    shown: list[bool] = []

    def on_progress(progress: Progress) -> None:
        if not shown or shown[-1] != progress.steering_paused:
            shown.append(progress.steering_paused)

    replies = Rewrites((toy_problem / "initial.py").read_text(), pause_at_two)
    with FakeOpenAI(responder=replies) as server:
        summary = api.evolve(
            toy_problem, archive=archive, budget=5, steerable=True, on_progress=on_progress, **llm_settings(server.url)
        )
        arrivals = [r.at for r in server.completions if "adrs preflight" not in r.prompt]
    assert summary.stop_reason == "budget spent" and summary.evaluated == 5
    assert "resume" in marks, "the timer never resumed the run"
    during = [t for t in arrivals if marks["pause"] < t < marks["resume"]]
    assert during == [], f"{len(during)} requests reached the endpoint while the run was paused"
    assert len([t for t in arrivals if t > marks["resume"]]) >= 2  # resuming brought proposals back
    assert shown[:3] == [False, True, False]  # the live view said paused, then running again
    store = Archive.open(archive, create=False, read_only=True)
    try:
        programs = store.programs(summary.run_id)
    finally:
        store.close()
    # the child of the proposal under way when the pause landed was stored and evaluated, not lost
    assert any(p.description == "Idea: variant 2" and p.status == "evaluated" for p in programs)
    assert all(p.status != "pending" for p in programs)


def test_a_run_not_started_steerable_ignores_the_steering_row(toy_problem, tmp_path):
    archive = tmp_path / "run.sqlite"

    def pause(number: int) -> None:
        if number == 1:
            writer = Archive.open(archive, create=False)
            try:
                writer.steer(writer.run().id, "pause")  # the archive takes it; this engine never reads it
            finally:
                writer.close()

    replies = Rewrites((toy_problem / "initial.py").read_text(), pause)
    with FakeOpenAI(responder=replies) as server:
        summary = api.evolve(toy_problem, archive=archive, budget=4, **llm_settings(server.url))
    assert summary.stop_reason == "budget spent" and summary.evaluated == 4


def test_a_steerable_run_nobody_steers_proposes_exactly_what_an_unsteerable_one_does(toy_problem, tmp_path):
    codes = []
    for steerable in (False, True):
        archive = tmp_path / f"run-{steerable}.sqlite"
        summary = api.evolve(
            toy_problem, archive=archive, budget=10, workers=2, seed=3, deterministic=True, steerable=steerable,
            mutator="offline", evaluate_holdout=False,
        )  # fmt: skip
        store = Archive.open(archive, create=False, read_only=True)
        try:
            codes.append([(p.code_hash, p.parent_id) for p in store.programs(summary.run_id)])
        finally:
            store.close()
    assert len(codes[0]) >= 10 and codes[0] == codes[1]


# what the read-only commands show -----------------------------------------------------------------
def test_status_and_the_report_show_the_hints_with_their_time(toy_problem, tmp_path):
    archive = tmp_path / "run.sqlite"
    summary = api.evolve(toy_problem, archive=archive, budget=3, workers=1, steerable=True, mutator="offline")
    hint = "<b>keep</b> ties stable & prefer short jobs"
    store = Archive.open(archive, create=False)
    try:
        written = store.steer(summary.run_id, "hint", text=hint).hints[0].at
        store.steer(summary.run_id, "ban", program_id=summary.best.id)
    finally:
        store.close()
    before = _dump(archive)
    env = {**os.environ, "COLUMNS": "300"}
    status = subprocess.run(
        [sys.executable, "-m", "adrs.cli", "status", str(archive)], capture_output=True, text=True, timeout=300, env=env
    )
    assert status.returncode == 0, status.stderr
    assert f"steering: not paused; banned #{summary.best.id}; 1 hint(s)" in status.stdout
    assert f"hint ({written:%Y-%m-%d %H:%M:%S} UTC): {hint}" in status.stdout
    page = tmp_path / "report.html"
    report = subprocess.run(
        [sys.executable, "-m", "adrs.cli", "report", str(archive), "-o", str(page)],
        capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    assert report.returncode == 0, report.stdout + report.stderr
    html = page.read_text()
    assert 'id="steering"' in html and html_escape(hint) in html and hint not in html
    assert f"{written:%Y-%m-%d %H:%M:%S} UTC" in html and f"#{summary.best.id}" in html
    assert _dump(archive) == before  # both only read


def test_an_unsteered_run_shows_no_steering(toy_problem, tmp_path):
    archive = tmp_path / "run.sqlite"
    api.evolve(toy_problem, archive=archive, budget=2, workers=1, mutator="offline")
    status = api.run_status(archive)
    assert status.steering == SteeringState() and not status.run.config["steerable"]
    # adrs resume --steerable turns it on, and it is stored: later resumes keep it
    assert build_parser().parse_args(["resume", str(archive), "--steerable"]).steerable is True
    assert build_parser().parse_args(["resume", str(archive)]).steerable is None  # unset: the stored value
    api.resume(archive, budget=1, steerable=True)
    assert api.run_status(archive).run.config["steerable"] is True


def test_the_terminal_view_says_paused_by_the_dashboard_in_its_table_and_in_log_lines():
    from collections import Counter
    from io import StringIO

    from rich.console import Console

    from adrs.ui import LiveView

    lines = StringIO()
    view = LiveView(Console(file=lines, width=300, force_terminal=False), "toy", budget=10)
    progress = Progress(budget=10, evaluated=3, failures=Counter())
    view.update(progress)
    progress.steering_paused = True
    view.update(progress)  # a pause beginning prints at once, not only every few seconds
    assert lines.getvalue().count("paused by the dashboard") == 1
    assert "paused by the dashboard" in _table_text(view, progress)
    progress.steering_paused = False
    assert "paused by the dashboard" not in _table_text(view, progress)


def _table_text(view, progress: Progress) -> str:
    from io import StringIO

    from rich.console import Console

    out = StringIO()
    Console(file=out, width=200, color_system=None).print(view.table(progress))
    return out.getvalue()
