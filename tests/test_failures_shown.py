"""Failures that show: `adrs run` and `adrs resume` (the real CLI, in a subprocess) exit 3 and print
the underlying error (file, stage, message) when the initial program fails, when the evaluator is
broken, when evaluations or LLM calls keep failing; an unreachable LLM endpoint pauses the run,
which goes on when the endpoint comes back and stops as a failure once it has been away longer
than its stated limit (the local fake OpenAI server, stopped and restarted)."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
import threading
import time
from pathlib import Path

from adrs.archive.store import Archive
from adrs.config import RunConfig
from adrs.engine import Engine
from adrs.mutate.llm.models import LLMSettings
from adrs.problem import load_problem
from adrs.progress import INITIAL_FAILED, PROPOSALS_FAILING
from tests.fake_openai import FakeOpenAI, Reply
from tests.scripted import ScriptedSource

ROOT = Path(__file__).resolve().parents[1]
ADRS = [sys.executable, "-m", "adrs.cli"]
EXIT_RUN_FAILED = 3


def adrs(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*ADRS, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def one_line(text: str) -> str:
    """The CLI's output with rich's line wrapping undone."""
    return " ".join(text.split())


def test_a_failing_initial_program_exits_non_zero_and_shows_its_error(toy_problem, tmp_path):
    (toy_problem / "initial.py").write_text(
        "def order_jobs(jobs):\n    raise ValueError('the initial program is broken')\n"
    )
    archive = tmp_path / "a.sqlite"
    done = adrs("run", str(toy_problem), "--budget", "5", "--archive", str(archive), "--quiet")
    shown = one_line(done.stdout)
    assert done.returncode == EXIT_RUN_FAILED, done.stdout + done.stderr
    assert "nothing to mutate" in shown
    assert f"the initial program {toy_problem / 'initial.py'} failed at stage 'quick' (exception)" in shown
    assert "ValueError: the initial program is broken" in shown
    assert Archive.open(archive).run().status == "failed"
    # resume shows the same failure (the stored program's error), with the same exit code
    again = adrs("resume", str(archive), "--budget", "2", "--quiet")
    assert again.returncode == EXIT_RUN_FAILED, again.stdout + again.stderr
    assert "ValueError: the initial program is broken" in one_line(again.stdout)


def test_a_broken_evaluator_exits_non_zero_and_names_the_evaluator(toy_problem, tmp_path):
    evaluator = toy_problem / "evaluator.py"
    evaluator.write_text(
        evaluator.read_text().replace(
            "    instances = make_instances(stage)\n", "    instances = make_instances(stage)\n    instances.scale()\n"
        )
    )
    done = adrs("run", str(toy_problem), "--budget", "3", "--archive", str(tmp_path / "a.sqlite"), "--quiet")
    shown = one_line(done.stdout)
    assert done.returncode == EXIT_RUN_FAILED, done.stdout + done.stderr
    assert f"the evaluator {evaluator} failed on the initial program" in shown
    assert "at stage 'quick' (evaluator_error)" in shown and "AttributeError" in shown and "scale" in shown


def test_a_driver_bug_is_an_evaluator_error_not_the_candidates(toy_problem, tmp_path):
    driver = toy_problem / "driver.py"
    driver.write_text(
        "def run(candidate, payload):\n"
        "    instances = payload['instances']\n"
        "    orders = [list(candidate.order_jobs([tuple(job) for job in instance])) for instance in instances]\n"
        "    return order  # a typo: a bug of the driver, after the candidate answered\n"
    )
    archive = tmp_path / "a.sqlite"
    done = adrs("run", str(toy_problem), "--budget", "3", "--archive", str(archive), "--quiet")
    shown = one_line(done.stdout)
    assert done.returncode == EXIT_RUN_FAILED, done.stdout + done.stderr
    # The kind the candidate's process claims is not trusted (issue 15): the engine records
    # `evaluator_error` because the failing program is the problem's own initial program (the trusted
    # reference, adrs/evaluate/driver_check.py), and names the driver's file, line and error.
    assert f"the problem's driver is broken: {driver}, line 4, in run, stage 'quick'" in shown, shown
    assert "NameError: name 'order' is not defined" in shown and "(evaluator_error)" in shown, shown
    assert "the problem's driver failed on the initial program" in shown, shown
    store = Archive.open(archive)
    (initial,) = store.programs(store.run().id)
    assert initial.error_kind == "evaluator_error"


def test_a_streak_of_failed_evaluations_exits_non_zero_with_the_last_error(toy_problem, tmp_path):
    # The evaluator breaks for every program but the initial one (e.g. a data file gone mid-run).
    evaluator = toy_problem / "evaluator.py"
    initial = (toy_problem / "initial.py").read_text()
    evaluator.write_text(
        evaluator.read_text().replace(
            "    instances = make_instances(stage)\n",
            "    instances = make_instances(stage)\n"
            f"    if open(program_path).read() != {initial!r}:\n"
            "        raise FileNotFoundError('workload.json vanished')\n",
        )
    )
    done = adrs(
        "run",
        str(toy_problem),
        "--budget",
        "20",
        "--max-failure-streak",
        "3",
        "--archive",
        str(tmp_path / "a.sqlite"),
        "--quiet",
    )
    shown = one_line(done.stdout)
    assert done.returncode == EXIT_RUN_FAILED, done.stdout + done.stderr
    assert "3 evaluations in a row failed (limit max_failure_streak = 3" in shown
    assert f"the evaluator {evaluator} itself failed" in shown and "workload.json vanished" in shown


def test_a_budget_spent_is_no_failure(toy_problem, tmp_path):
    done = adrs("run", str(toy_problem), "--budget", "3", "--archive", str(tmp_path / "a.sqlite"), "--quiet")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "error:" not in done.stdout


def test_the_proposal_streak_is_a_failure_only_when_no_proposal_became_a_program(toy_problem, tmp_path):
    problem = load_problem(toy_problem)
    for programs, failed in (([], True), ([problem.initial_code().replace("* 1.0", "* 2.0")], False)):
        archive = Archive.open(tmp_path / f"a{failed}.sqlite")
        config = RunConfig(budget=20, workers=1, islands=1, max_duplicate_streak=4, evaluate_holdout=False)
        run = archive.create_run(problem.name, str(problem.root), problem.fingerprint(), 0, config.to_dict())
        summary = asyncio.run(Engine(problem, archive, run, config, ScriptedSource(programs)).run())
        assert "search exhausted" in summary.stop_reason
        assert (summary.failure is not None and summary.failure.kind == PROPOSALS_FAILING) == failed
        if failed:
            assert "no proposal became a program" in summary.failure.message
            assert "limit max_duplicate_streak = 4" in summary.failure.message


def test_the_initial_failure_kind_is_recorded_in_the_stop_event(toy_problem, tmp_path):
    (toy_problem / "initial.py").write_text("def order_jobs(jobs)\n    return []\n")  # a syntax error
    problem = load_problem(toy_problem)
    archive = Archive.open(tmp_path / "a.sqlite")
    config = RunConfig(budget=3, workers=1, islands=1)
    run = archive.create_run(problem.name, str(problem.root), problem.fingerprint(), 0, config.to_dict())
    summary = asyncio.run(Engine(problem, archive, run, config, ScriptedSource([])).run())
    assert summary.failure is not None and summary.failure.kind == INITIAL_FAILED
    assert "(syntax)" in summary.failure.message
    (stopped,) = [payload for kind, payload, _ in archive.events(run.id) if kind == "stopped"]
    assert stopped["failure"]["kind"] == INITIAL_FAILED


# LLM endpoints ----------------------------------------------------------------------------------


def rewrites(toy_problem: Path):
    """A responder whose every reply is a new, valid full rewrite of the toy's initial program."""
    initial = (toy_problem / "initial.py").read_text()
    counter = itertools.count(2)

    def respond(_body) -> Reply:
        factor = next(counter)
        return Reply(f"Idea: weigh by {factor}\n```python\n{initial.replace('* 1.0', f'* {factor}.0')}```\n")

    return respond


def llm_config(tmp_path: Path, **settings) -> Path:
    path = tmp_path / "llm.toml"
    values = {"backoff_s": 0.01, "max_retries": 0, "concurrency": 1, **settings}
    lines = ["[llm]"] + [f"{key} = {value!r}" for key, value in values.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def start_run(*args: str) -> tuple[subprocess.Popen, list[str]]:
    """Start the CLI and collect its output lines in a thread (stdout is a pipe: the live view prints lines)."""
    process = subprocess.Popen([*ADRS, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True).start()
    return process, lines


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_an_unreachable_endpoint_pauses_the_run_which_goes_on_when_it_comes_back(toy_problem, tmp_path):
    archive = tmp_path / "a.sqlite"
    server = FakeOpenAI(responder=rewrites(toy_problem)).start()
    port = int(server.url.split(":")[2].split("/")[0])
    config = llm_config(tmp_path, outage_limit_s=240.0)
    process, lines = start_run(
        "run",
        str(toy_problem),
        "--budget",
        "6",
        "--workers",
        "1",
        "--islands",
        "1",
        "--archive",
        str(archive),
        "--llm",
        f"fake-coder@{server.url}",
        "--llm-config",
        str(config),
    )
    try:
        wait_for(lambda: len(server.completions) >= 2, 120, "two proposals")
        server.stop()
        wait_for(
            lambda: any("paused: the LLM endpoint is unreachable" in line for line in lines), 120, "the pause to show"
        )
        time.sleep(2)  # a probe or two fail while it is away
        server = FakeOpenAI(responder=rewrites(toy_problem)).start(port)
        assert process.wait(timeout=240) == 0, "".join(lines)
    finally:
        process.kill()
        server.stop()
    output = "".join(lines)
    assert "Stopped: budget spent" in output
    store = Archive.open(archive)
    run = store.run()
    kinds = [kind for kind, _, _ in store.events(run.id)]
    assert "paused" in kinds and kinds.index("resumed") > kinds.index("paused")
    assert run.status == "stopped"
    assert sum(1 for c in store.llm_calls(run.id) if c.error.startswith("probe:")) == 1
    assert len([p for p in store.programs(run.id) if p.mutator == "llm:fake-coder"]) == 5


def test_an_endpoint_away_longer_than_the_limit_stops_the_run_as_a_failure(toy_problem, tmp_path):
    server = FakeOpenAI(responder=rewrites(toy_problem)).start()
    config = llm_config(tmp_path, outage_limit_s=3.0)
    process, lines = start_run(
        "run",
        str(toy_problem),
        "--budget",
        "50",
        "--workers",
        "1",
        "--islands",
        "1",
        "--archive",
        str(tmp_path / "a.sqlite"),
        "--llm",
        f"fake-coder@{server.url}",
        "--llm-config",
        str(config),
    )
    try:
        wait_for(lambda: len(server.completions) >= 1, 120, "a proposal")
        server.stop()
        assert process.wait(timeout=240) == EXIT_RUN_FAILED, "".join(lines)
    finally:
        process.kill()
    shown = one_line("".join(lines))
    assert "the LLM endpoint was unreachable for 3 s (llm.outage_limit_s = 3;" in shown
    assert "error:" in shown and "cannot reach the endpoint" in shown


def test_calls_failing_in_a_row_stop_the_run_with_the_limit_the_docs_give(toy_problem, tmp_path):
    limit = LLMSettings.stop_after_call_failures
    server = FakeOpenAI(responder=lambda _body: Reply(status=400)).start()
    try:
        done = adrs(
            "run",
            str(toy_problem),
            "--budget",
            "50",
            "--archive",
            str(tmp_path / "a.sqlite"),
            "--quiet",
            "--llm",
            f"fake-coder@{server.url}",
            "--llm-config",
            str(llm_config(tmp_path, concurrency=4)),
        )
    finally:
        server.stop()
    shown = one_line(done.stdout)
    assert done.returncode == EXIT_RUN_FAILED, done.stdout + done.stderr
    assert f"the LLM endpoint failed {limit} calls in a row (llm.stop_after_call_failures = {limit};" in shown
    docs = (ROOT / "examples" / "llm_endpoints.md").read_text()
    assert f"| `stop_after_call_failures` | {limit} |" in docs
    assert f"| `outage_limit_s` | {LLMSettings.outage_limit_s:g} |" in docs
