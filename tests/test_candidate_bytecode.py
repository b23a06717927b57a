"""The confined candidate's scripts run from bytecode the `process` backend compiled once per process
(adrs/sandbox/process.py `script_bytecode`, run by adrs/candidate/confine.py): the code must be the
script's own (not compiled under the backend module's `from __future__` flags), a file of another
interpreter's bytecode is ignored in favour of the source, and a confined candidate still runs and
reports through it. Real files and a real candidate process."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest

from adrs.candidate import CONFINE_SCRIPT, RUNNER_SCRIPT
from adrs.problemkit import ProcessLimits, run_candidate
from adrs.sandbox import process
from adrs.sandbox.process import confinement_available, script_bytecode

# A script whose behaviour depends on its own __future__ flags: without the annotations import,
# the annotation is evaluated (int); under it (the backend module's flag, if inherited), a string.
SCRIPT = "x: int = 1\nRESULT = __annotations__['x']\n"


def _confine_module():
    spec = importlib.util.spec_from_file_location("adrs_confine_under_test", CONFINE_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run_main(confine, path: Path) -> dict:
    """Run `path` through confine.py's own `_run_as_main`, then give back the namespace it ran in."""
    saved = sys.modules["__main__"]
    try:
        confine._run_as_main(str(path))
        return dict(vars(sys.modules["__main__"]))
    finally:
        sys.modules["__main__"] = saved


def test_the_script_runs_from_its_bytecode_with_its_own_flags(tmp_path):
    script = tmp_path / "runner.py"
    script.write_text(SCRIPT)
    (tmp_path / "runner.pyc").write_bytes(script_bytecode(script))
    script.write_text("RESULT = 'the source ran, not the bytecode'\n")  # tell the two apart
    namespace = _run_main(_confine_module(), script)
    assert namespace["RESULT"] is int
    assert namespace["__name__"] == "__main__"


def test_bytecode_of_another_interpreter_is_ignored(tmp_path):
    script = tmp_path / "runner.py"
    script.write_text("RESULT = 'bytecode'\n")
    foreign = bytearray(script_bytecode(script))
    foreign[0:2] = (int.from_bytes(foreign[0:2], "little") ^ 0x7FFF).to_bytes(2, "little")  # another magic
    (tmp_path / "runner.pyc").write_bytes(bytes(foreign))
    script.write_text("RESULT = 'source'\n")
    assert _run_main(_confine_module(), script)["RESULT"] == "source"


@pytest.mark.skipif(not confinement_available(), reason="needs root and unshare(1) to confine candidates")
def test_a_confined_candidate_runs_and_fails_through_the_compiled_scripts(tmp_path):
    program, driver = tmp_path / "candidate.py", tmp_path / "driver.py"
    program.write_text("def answer(x):\n    return x + 1\n\ndef explode(x):\n    raise ValueError('boom')\n")
    driver.write_text("def run(candidate, payload):\n    return getattr(candidate, payload['call'])(1)\n")
    limits = ProcessLimits(timeout_s=30, memory_mb=1024)
    good = run_candidate(
        program, driver, {"call": "answer"}, workdir=tmp_path / "good", limits=limits, sandbox="process"
    )
    assert good.ok and good.value == 2, good.error
    homes = list((tmp_path / "good").iterdir())
    assert {"confine.pyc", "runner.pyc"} <= set(os.listdir(homes[0]))
    assert "__pycache__" not in os.listdir(homes[0])  # -B: the driver's bytecode is not written
    bad = run_candidate(
        program, driver, {"call": "explode"}, workdir=tmp_path / "bad", limits=limits, sandbox="process"
    )
    assert not bad.ok and "ValueError: boom" in bad.error, bad.error
    assert 'File "runner.py"' in bad.error, bad.error  # the runner's frames keep a readable name


def test_a_warm_server_compiles_the_runner_once_for_the_workers_it_forks(tmp_path):
    """What a warm server does before its first worker (compile_scripts_here) leaves the runner's
    bytecode cached, and a forked worker that compiles the harness's copy of runner.py in a
    candidate's home finds it there instead of compiling it again."""
    process._bytecode.cache_clear()
    process.compile_scripts_here()
    home_copy = tmp_path / "runner.py"
    shutil.copyfile(RUNNER_SCRIPT, home_copy)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the forked worker
        try:
            before = process._bytecode.cache_info()
            image = process.script_bytecode(home_copy)
            after = process._bytecode.cache_info()
            ok = (
                after.hits == before.hits + 1
                and after.misses == before.misses
                and image.startswith(importlib.util.MAGIC_NUMBER)
            )
            os.write(write, b"hit" if ok else f"{before} -> {after}".encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as answer:
        said = answer.read().decode()
    os.waitpid(pid, 0)
    assert said == "hit"
