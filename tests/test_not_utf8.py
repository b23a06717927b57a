"""A candidate that is not UTF-8 text is a recorded failed evaluation of kind `syntax`, never a
traceback: a program file whose bytes do not decode (`adrs eval`, baselines), and a proposal
whose text carries a lone surrogate (which a model's JSON reply can). A problem folder whose own
files are not UTF-8 is refused with the file, line and column.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from adrs.archive.store import Archive
from adrs.config import RunConfig
from adrs.engine import Engine
from adrs.problem import ProblemError, load_problem
from tests.scripted import ScriptedSource

ADRS = [sys.executable, "-m", "adrs.cli"]
NOT_UTF8 = b"def order_jobs(jobs):\n    return sorted(range(len(jobs)))  # caf\xe9\n"


def adrs(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "500"}
    return subprocess.run([*ADRS, *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env)


def test_eval_of_a_file_that_is_not_utf8_is_a_syntax_failure_naming_where(toy_problem, tmp_path):
    program = tmp_path / "latin1.py"
    program.write_bytes(NOT_UTF8)
    done = adrs("eval", str(toy_problem), str(program), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr  # like any failing candidate: reported, not raised
    record = json.loads(done.stdout)
    stage = record["stages"][0]
    assert not record["ok"] and stage["error_kind"] == "syntax"
    assert stage["error"] == f"{program}: not UTF-8 text: byte 0xe9 at line 2, column 43 (invalid continuation byte)"
    plain = adrs("eval", str(toy_problem), str(program), cwd=tmp_path)
    assert "failed (syntax)" in plain.stdout and "Traceback" not in plain.stdout + plain.stderr


def test_a_baseline_that_is_not_utf8_fails_in_check_and_the_others_still_score(toy_problem, tmp_path):
    (toy_problem / "baselines" / "latin1.py").write_bytes(NOT_UTF8)
    done = adrs("check", str(toy_problem), cwd=tmp_path)
    assert "Traceback" not in done.stdout + done.stderr
    assert "baselines/latin1.py [quick]: failed (syntax)" in done.stdout
    assert "baselines/fifo.py [full]: score" in done.stdout


def test_a_proposal_with_a_lone_surrogate_is_a_recorded_syntax_failure_and_the_run_goes_on(toy_problem, tmp_path):
    problem = load_problem(toy_problem)
    archive = Archive.open(tmp_path / "run.sqlite")
    config = RunConfig(budget=3, workers=1, seed=0, islands=1, evaluate_holdout=False)
    run = archive.create_run(problem.name, str(problem.root), problem.fingerprint(), 0, config.to_dict())
    initial = problem.initial_code()
    broken = initial.replace("def ", "# caf\udce9 (a byte a JSON reply decoded as a lone surrogate)\ndef ", 1)
    good = initial + "\n# a comment: still the same policy, another program\nUNUSED = 1\n"
    summary = asyncio.run(Engine(problem, archive, run, config, ScriptedSource([broken, good])).run())
    assert summary.evaluated == 3
    programs = {p.description: p for p in archive.programs(run.id)}
    failed = programs["scripted #1"]
    assert (failed.status, failed.error_kind) == ("failed", "syntax")
    error = archive.evaluations(failed.id)[0].error
    assert "not UTF-8 text: U+DCE9 (a lone surrogate)" in error and "line" in error
    assert "caf\ufffd" in failed.code  # stored with U+FFFD in place of what cannot be written
    assert programs["scripted #2"].status == "evaluated"
    archive.close()


def test_a_model_reply_with_a_lone_surrogate_is_stored(tmp_path):
    archive = Archive.open(tmp_path / "run.sqlite")
    run = archive.create_run("toy", "/p", "f" * 16, 0, {})
    call = archive.add_llm_call(run.id, model="m", prompt="p", response="caf\udce9")
    assert archive.llm_call(call).response == "caf\ufffd"
    archive.close()


@pytest.mark.parametrize("name", ["initial.py", "evaluator.py", "problem.toml"])
def test_a_problem_file_that_is_not_utf8_is_refused_with_line_and_column(name, toy_problem, tmp_path):
    path = toy_problem / name
    path.write_bytes(path.read_bytes() + b"# \xff\n")
    with pytest.raises(ProblemError, match=f"{name}: not UTF-8 text: byte 0xff at line \\d+, column 3"):
        load_problem(toy_problem)
    done = adrs("check", str(toy_problem), cwd=tmp_path)
    assert done.returncode == 1 and "not UTF-8 text" in done.stdout and "Traceback" not in done.stdout + done.stderr
