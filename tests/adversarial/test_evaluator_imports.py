"""The evaluator's top-level imports, preloaded by its warm server (adrs/evaluate/evaluator_imports.py).

What must hold: a module the evaluator imports at its top level is imported once, by the server,
and each worker has its own copy of it (what one stage changes in it, the next does not see); a
module whose import leaves a thread, an open file or a process behind is not preloaded and the
stages still run warm; nothing is written into the problem's folder; a module asking for the
temporary folder at import does not hand the server's to the workers; ADRS_NO_PRELOAD=1 turns it
off; cold stages import as before.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from adrs.evaluate import warm
from adrs.evaluate.evaluator_imports import drivers_named, top_level_imports
from adrs.evaluate.runner import EvalSettings, evaluate_stage
from adrs.problem import load_problem
from adrs.sandbox import views

EVALUATOR = """import os
import tempfile

import helper
from helper import STATE


def evaluate(program_path, *, workdir):
    STATE["stages"] += 1  # what this worker changes in the module: the next must not see it
    return {"score": 1.0, "metrics": {
        "imported_in": float(helper.IMPORTED_IN),
        "pid": float(os.getpid()),
        "parent": float(os.getppid()),
        "stages": float(STATE["stages"]),
        "tmp_is_stage": float(tempfile.gettempdir() == os.environ["TMPDIR"]),
        "tmp_at_import_is_stage": float(helper.TMP_AT_IMPORT == os.environ["TMPDIR"]),
    }}
"""
HELPER = """import os
import tempfile

IMPORTED_IN = os.getpid()
TMP_AT_IMPORT = tempfile.gettempdir()  # caches the temporary folder in tempfile, where it is asked
STATE = {"stages": 0}
"""
UNFIT_HELPER = """import os
import subprocess
import threading
import time

IMPORTED_IN = os.getpid()
TMP_AT_IMPORT = ""
STATE = {"stages": 0}
LEFT
"""
# What a module may leave behind at import that a server about to fork must not hold.
LEFT_BEHIND = {
    "thread": "threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()",  # no fork with it
    "open file": "HANDLE = open(__file__)",  # a worker closes every descriptor but its stage's
    "process": "CHILD = subprocess.Popen(['sleep', '3600'])",
}


@pytest.fixture(autouse=True)
def _no_servers_left():
    warm.close_all()
    yield
    warm.close_all()


def _folder(root: Path, name: str, files: dict[str, str]) -> Path:
    """A problem folder of one stage holding `files` (name: text)."""
    folder = root / name
    folder.mkdir()
    (folder / "problem.toml").write_text(f'[problem]\nname = "{name}"\n\n[[stages]]\nname = "full"\ntimeout_s = 60\n')
    for file, text in files.items():
        (folder / file).write_text(text)
    return folder


def _problem(root: Path, helper: str = HELPER):
    files = {"initial.py": "def run():\n    return 0\n", "evaluator.py": EVALUATOR, "helper.py": helper}
    folder = _folder(root, "imports", files)
    folder.chmod(0o555)  # as a user's read-only tree: nothing may be written here
    return load_problem(folder), folder / "initial.py"


def _evaluate(problem, program, warm_start: bool = True) -> dict[str, float]:
    evaluation = asyncio.run(evaluate_stage(problem, program, problem.stages[0], EvalSettings(warm=warm_start)))
    assert evaluation.ok, evaluation.error
    return evaluation.metrics


def test_top_level_imports_are_read_from_the_source_not_run():
    source = (
        "from __future__ import annotations\nimport os, numpy as np\nfrom evaluators.prism import cases, score\n"
        "from . import sibling\nfrom .sub import thing\nimport a.b.c\n"
        "def f():\n    import inside_a_function\n"
        "if True:\n    import inside_a_block\n"
        "raise SystemExit('never run')\n"
    )
    assert top_level_imports(source) == [
        "os", "numpy", "evaluators.prism", "evaluators.prism.cases", "evaluators.prism.score", "a.b.c"
    ]  # fmt: skip
    assert top_level_imports("def broken(:\n") == []


def test_the_evaluators_imports_are_loaded_once_by_the_server_each_worker_with_its_own_copy(tmp_path):
    problem, program = _problem(tmp_path)
    try:
        first, second = _evaluate(problem, program), _evaluate(problem, program)
        server = warm.server_pids()[0]
        assert first["parent"] == second["parent"] == server, "the stages did not run warm"
        assert first["imported_in"] == second["imported_in"] == server, "the helper was not imported by the server"
        assert first["pid"] != second["pid"]
        assert (first["stages"], second["stages"]) == (1.0, 1.0), "a worker saw what the one before changed"
        assert first["tmp_at_import_is_stage"] == 0.0  # the helper asked in the server, for the server's folder
        assert first["tmp_is_stage"] == 1.0, "the worker inherited the server's temporary folder"
        cold = _evaluate(problem, program, warm_start=False)
        assert cold["imported_in"] == cold["pid"] and cold["parent"] == os.getpid()
        assert not list(problem.root.rglob("__pycache__")), "bytecode was written into the problem's folder"
    finally:
        problem.root.chmod(0o755)


@pytest.mark.parametrize("left", sorted(LEFT_BEHIND))
def test_a_module_that_leaves_something_behind_is_not_preloaded_and_the_stages_stay_warm(tmp_path, left):
    problem, program = _problem(tmp_path, UNFIT_HELPER.replace("LEFT", LEFT_BEHIND[left]))
    try:
        first, second = _evaluate(problem, program), _evaluate(problem, program)
        server = warm.server_pids()[0]
        assert first["parent"] == second["parent"] == server, "the server could not fork its workers"
        assert first["imported_in"] == first["pid"] and second["imported_in"] == second["pid"]
    finally:
        problem.root.chmod(0o755)


def test_no_preload_imports_nothing_in_the_server(tmp_path, monkeypatch):
    monkeypatch.setenv("ADRS_NO_PRELOAD", "1")
    problem, program = _problem(tmp_path)
    try:
        metrics = _evaluate(problem, program)
        assert metrics["parent"] == warm.server_pids()[0]
        assert metrics["imported_in"] == metrics["pid"]
    finally:
        problem.root.chmod(0o755)


# A driver that imports a package of the project (evaluators/, outside the runtime's folders): the
# confined candidate is shown that package only through the view the server worked out before
# forking (the worker reports whether it had it).
DRIVER_EVALUATOR = """from pathlib import Path

from adrs.problemkit import run_candidate
from adrs.sandbox import views

DRIVER = Path(__file__).with_name("driver.py")


def evaluate(program_path, *, workdir):
    remembered = any(key[0] == str(DRIVER.resolve()) for key in views._remembered)
    value = run_candidate(program_path, DRIVER, 2.0, workdir=workdir).raise_for_failure()
    return {"score": float(value), "metrics": {"remembered": float(remembered)}}
"""
DRIVER = """from evaluators.prism import FULL_SEED


def run(candidate, payload):
    return 2 * candidate.policy(payload) + 0 * FULL_SEED
"""


def test_a_named_drivers_view_is_worked_out_by_the_server_and_shows_what_it_imports(tmp_path):
    initial = "def policy(x):\n    return x + 1\n"
    folder = _folder(tmp_path, "views", {"initial.py": initial, "evaluator.py": DRIVER_EVALUATOR, "driver.py": DRIVER})
    problem = load_problem(folder)
    assert drivers_named(DRIVER_EVALUATOR, str(folder / "evaluator.py")) == [str(folder / "driver.py")]
    metrics = asyncio.run(evaluate_stage(problem, folder / "initial.py", problem.stages[0], EvalSettings(warm=True)))
    assert metrics.ok, metrics.error
    assert metrics.score == 6.0  # the confined candidate imported evaluators.prism: shown by the view
    assert metrics.metrics["remembered"] == 1.0, "the worker worked the driver's view out again"
    cold = asyncio.run(evaluate_stage(problem, folder / "initial.py", problem.stages[0], EvalSettings(warm=False)))
    assert cold.ok and cold.score == 6.0 and cold.metrics["remembered"] == 0.0


def test_a_remembered_view_holds_for_the_driver_file_it_was_worked_out_for(tmp_path, monkeypatch):
    monkeypatch.setattr(views, "_remembered", {})
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "vhelper_one.py").write_text("X = 1\n")
    (tmp_path / "vhelper_two.py").write_text("Y = 2\n")
    driver = tmp_path / "driver.py"
    driver.write_text("import vhelper_one\n")
    views.remember_driver_view(driver)
    assert views.driver_import_paths(driver) == (tmp_path / "vhelper_one.py",)
    driver.write_text("import vhelper_one, vhelper_two\n")  # another file now: worked out again
    assert set(views.driver_import_paths(driver)) == {tmp_path / "vhelper_one.py", tmp_path / "vhelper_two.py"}
