"""End to end through the command line: `adrs run problems/prism --llm NAME@URL` against a local
OpenAI-protocol server, then `adrs status` and `adrs show`; and a wrong key failing at start-up."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

from adrs.archive.store import Archive
from tests.fake_openai import FakeOpenAI, Reply

ROOT = Path(__file__).resolve().parents[1]
PLACEMENT_LINE = "    placement = {gpu_id: [] for gpu_id in range(gpu_num)}"


def adrs(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "COLUMNS": "200", **(env or {})}
    command = [sys.executable, "-m", "adrs.cli", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240, env=environment)


def _prism_edits():
    counter = itertools.count(1)

    def respond(body) -> Reply:
        n = next(counter)
        edit = f"<<<<<<< SEARCH\n{PLACEMENT_LINE}\n=======\n{PLACEMENT_LINE}\n    _variant = {n}\n>>>>>>> REPLACE\n"
        return Reply(f"Idea: variant {n}\n{edit}", usage=(1000, 50))

    return respond


def test_prism_runs_with_the_server_as_its_llm_and_the_calls_are_inspectable(tmp_path):
    archive = tmp_path / "prism.sqlite"
    with FakeOpenAI(responder=_prism_edits(), models=("fake-coder",)) as server:
        config = tmp_path / "llm.toml"
        config.write_text(
            f'[llm]\nconcurrency = 2\n[[llm.models]]\nname = "fake-coder"\nbase_url = "{server.url}"\n'
            "price_in = 1.0\nprice_out = 2.0\n"
        )
        run = adrs(
            "run",
            "problems/prism",
            "--llm-config",
            str(config),
            "--budget",
            "3",
            "--workers",
            "2",
            "--quiet",
            "--archive",
            str(archive),
        )
        assert run.returncode == 0, run.stdout + run.stderr
        assert "with LLM fake-coder" in run.stdout
        assert len(server.completions) >= 2
    store = Archive.open(archive)
    run_record = store.run()
    children = [p for p in store.programs(run_record.id) if p.mutator == "llm:fake-coder"]
    store.close()
    assert len(children) == 2 and all(p.status == "evaluated" for p in children)
    status = adrs("status", str(archive))
    assert "LLM usage" in status.stdout and "fake-coder" in status.stdout
    assert "0.0022" in status.stdout  # 2 calls x (1000 x $1 + 50 x $2) per million, plus the start-up check
    shown = adrs("show", str(archive), str(children[0].id))
    assert shown.returncode == 0, shown.stderr
    for part in ("LLM call", "### system", "Raw response", "Parsed edits", "_variant ="):
        assert part in shown.stdout


def test_a_wrong_key_fails_at_start_up_with_the_variable_named(toy_problem, tmp_path):
    with FakeOpenAI(api_key="sk-right") as server:
        started = time.monotonic()
        run = adrs(
            "run",
            str(toy_problem),
            "--llm",
            f"fake-coder@{server.url}",
            "--quiet",
            "--archive",
            str(tmp_path / "a.sqlite"),
            env={"OPENAI_API_KEY": "sk-wrong"},
        )
        elapsed = time.monotonic() - started
        evaluated = len(server.completions)
    assert run.returncode == 1
    assert "OPENAI_API_KEY" in run.stdout and "refused" in run.stdout
    assert evaluated == 0 and elapsed < 120  # no retries for ever, however busy the machine
    store = Archive.open(tmp_path / "a.sqlite")
    assert store.run().status == "failed"
    assert store.events(store.run().id, "llm_unavailable")
    store.close()


def test_an_unset_key_fails_before_an_archive_or_a_run_is_made(toy_problem, tmp_path):
    """No call can be made without the key, so nothing is started: no archive file for `run`, and
    the stored run of `resume` keeps its status and gets no event."""
    no_key = {key: value for key, value in os.environ.items() if key != "OPENAI_API_KEY"}
    archive = tmp_path / "a.sqlite"
    started = adrs("run", str(toy_problem), "--llm", "gpt-5-mini", "--archive", str(archive), env=no_key)
    assert started.returncode == 1
    said = " ".join(started.stdout.split())
    assert "model gpt-5-mini: OPENAI_API_KEY is not set" in said and "Traceback" not in started.stderr
    assert not archive.exists() and not Path(f"{archive}-files").exists()
    first = adrs("run", str(toy_problem), "--budget", "3", "--quiet", "--archive", str(archive))
    assert first.returncode == 0, first.stdout + first.stderr
    store = Archive.open(archive)
    before = (store.run().status, len(store.events(store.run().id)))
    store.close()
    resumed = adrs("resume", str(archive), "--llm", "gpt-5-mini", "--budget", "3", env=no_key)
    assert resumed.returncode == 1 and "OPENAI_API_KEY is not set" in " ".join(resumed.stdout.split())
    store = Archive.open(archive)
    assert before[0] == "stopped" and (store.run().status, len(store.events(store.run().id))) == before
    store.close()


def _toy_edits():
    counter = itertools.count(1)
    line = "    return sorted(range(len(jobs)), key=lambda i: jobs[i][0] * 1.0)"

    def respond(body) -> Reply:
        n = next(counter)
        return Reply(
            f"Idea: variant {n}\n<<<<<<< SEARCH\n{line}\n=======\n    _variant = {n}\n{line}\n>>>>>>> REPLACE\n"
        )

    return respond


def test_llm_concurrency_flag_sets_the_calls_in_flight_and_is_validated(toy_problem, tmp_path):
    with FakeOpenAI(responder=_toy_edits(), latency_s=0.6) as server:
        run = adrs(
            "run",
            str(toy_problem),
            "--llm",
            f"fake-coder@{server.url}",
            "--llm-concurrency",
            "3",
            "--budget",
            "9",
            "--workers",
            "2",
            "--quiet",
            "--archive",
            str(tmp_path / "a.sqlite"),
        )
        assert run.returncode == 0, run.stdout + run.stderr
        assert server.max_in_flight == 3  # the default of 4 would reach 4 (latency 0.6 s, 9 proposals)
    store = Archive.open(tmp_path / "a.sqlite")
    assert store.run().config["llm"]["concurrency"] == 3  # stored, so a resume keeps it
    store.close()

    refused = adrs("run", str(toy_problem), "--llm-concurrency", "0", "--archive", str(tmp_path / "b.sqlite"))
    assert refused.returncode == 2 and "--llm-concurrency: must be at least 1, got 0" in refused.stderr
    assert not (tmp_path / "b.sqlite").exists()
