"""Bad problem directories give errors that name the file and the field."""

from __future__ import annotations

import subprocess
import sys

import pytest

from adrs.problem import ProblemError, _imported_evaluator_packages, load_problem

ADRS = [sys.executable, "-m", "adrs.cli"]


def _check(directory) -> subprocess.CompletedProcess:
    return subprocess.run(ADRS + ["check", str(directory)], capture_output=True, text=True, timeout=120)


def test_init_writes_a_skeleton_that_check_accepts(tmp_path):
    target = tmp_path / "my_problem"
    assert subprocess.run(ADRS + ["init", str(target)], capture_output=True, timeout=60).returncode == 0
    assert {"problem.toml", "initial.py", "evaluator.py", "README.md"} <= {p.name for p in target.iterdir()}
    assert "EVOLVE-BLOCK-START" in (target / "initial.py").read_text()
    done = _check(target)
    assert done.returncode == 0, done.stdout
    assert "initial.py [quick]: score" in done.stdout
    assert "baselines/fifo.py [full]: score" in done.stdout


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda t: t + "\n[[stages]\n", "invalid TOML"),
        (lambda t: t.replace('direction = "max"', 'direction = "up"', 1), "objectives[0].direction"),
        (lambda t: t.replace("bins = [0.25, 0.5, 0.75]", "bins = [0.5, 0.25]"), "features[0].bins"),
        (lambda t: t + "\n[limits2]\nx = 1\n", "unknown key limits2"),
        (lambda t: t.replace("timeout_s = 30", 'timeout_s = "long"'), "stages[0].timeout_s"),
        (lambda t: t.replace("[limits]\n", "[limits]\ntimeout_s = 30\n"), "limits.timeout_s: nothing reads it"),
        (
            lambda t: t.replace('name = "toy"', 'name = "toy"\nsandbox = "nonsense"'),
            "problem.sandbox: 'nonsense' is not one of process, bwrap, docker",
        ),
    ],
)
def test_bad_problem_toml_names_the_file_and_field(toy_problem, edit, expected):
    toml = toy_problem / "problem.toml"
    toml.write_text(edit(toml.read_text()))
    with pytest.raises(ProblemError, match="problem.toml") as error:
        load_problem(toy_problem)
    assert expected in str(error.value)
    done = _check(toy_problem)
    assert done.returncode == 1
    assert expected in done.stdout.replace("\n", "")


def test_missing_evaluate_function_is_named(toy_problem):
    (toy_problem / "evaluator.py").write_text("def score(path):\n    return {}\n")
    with pytest.raises(ProblemError, match=r"evaluator\.py: defines no function evaluate"):
        load_problem(toy_problem)


def test_unknown_objective_is_reported_by_check(toy_problem):
    toml = toy_problem / "problem.toml"
    toml.write_text(toml.read_text().replace('name = "weighted_completion"', 'name = "latency_p99"'))
    done = _check(toy_problem)
    assert done.returncode == 1
    assert "objective 'latency_p99' is not among the evaluator's metrics" in done.stdout.replace("\n", "")


def test_evaluator_crash_is_reported_by_check(toy_problem):
    evaluator = toy_problem / "evaluator.py"
    evaluator.write_text(evaluator.read_text().replace("instances = make_instances(stage)", "instances = 1 / 0"))
    done = _check(toy_problem)
    assert done.returncode == 1
    assert "evaluator_error" in done.stdout and "ZeroDivisionError" in done.stdout


def test_openevolve_style_directory_runs_unchanged(tmp_path):
    problem = tmp_path / "oe"
    problem.mkdir()
    (problem / "initial_program.py").write_text(
        "# EVOLVE-BLOCK-START\ndef f(x):\n    return x * 0.5\n# EVOLVE-BLOCK-END\n"
    )
    (problem / "evaluator.py").write_text(
        "import importlib.util\n"
        "def evaluate(program_path):\n"
        "    spec = importlib.util.spec_from_file_location('p', program_path)\n"
        "    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "    return {'combined_score': -abs(m.f(2.0) - 3.0), 'calls': 1}\n"
    )
    loaded = load_problem(problem)
    assert loaded.initial_path.name == "initial_program.py" and loaded.score_metric == "combined_score"
    done = subprocess.run(
        ADRS + ["eval", str(problem), str(problem / "initial_program.py"), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert '"score": -2.0' in done.stdout


def test_broken_evolve_block_markers_in_the_initial_program_are_named(toy_problem):
    initial = toy_problem / "initial.py"
    initial.write_text(initial.read_text().replace("# EVOLVE-BLOCK-END\n", ""))
    with pytest.raises(ProblemError, match=r"initial\.py: EVOLVE-BLOCK markers: line \d+"):
        load_problem(toy_problem)


def test_fingerprint_covers_the_evaluator_and_the_shared_packages_it_imports(toy_problem, project_root):
    before = load_problem(toy_problem).fingerprint()
    evaluator = toy_problem / "evaluator.py"
    evaluator.write_text(evaluator.read_text() + "\n# changed\n")
    assert load_problem(toy_problem).fingerprint() != before
    prism = load_problem(project_root / "problems" / "prism")
    assert project_root / "evaluators" / "prism" in prism.shared_evaluators()


def test_helper_modules_and_the_packages_they_import_are_fingerprinted(toy_problem, project_root):
    # A helper module beside evaluator.py (what a problem folder outside this repository uses).
    helper = toy_problem / "scoring_helpers.py"
    helper.write_text('"""Mentions `import evaluators.cloudcast` in text only."""\nfrom evaluators import prism\n')
    problem = load_problem(toy_problem)
    assert problem.shared_evaluators() == {project_root / "evaluators" / "prism"}
    before = problem.fingerprint()
    helper.write_text(helper.read_text() + "WEIGHT = 2\n")
    assert load_problem(toy_problem).fingerprint() != before


def test_an_evaluators_package_reaching_another_relatively_is_followed(tmp_path):
    source = tmp_path / "module.py"
    source.write_text("from . import cases\nfrom ..kernel_bench import bench\nfrom ...outside import x\n")
    assert _imported_evaluator_packages(source, ("evaluators", "prism")) == {"prism", "kernel_bench"}
    assert _imported_evaluator_packages(source, ()) == set()  # a problem's own file is no package


def test_check_says_an_initial_program_without_markers_is_evolvable_as_a_whole(toy_problem):
    initial = toy_problem / "initial.py"
    initial.write_text("".join(line for line in initial.read_text().splitlines(True) if "EVOLVE-BLOCK" not in line))
    done = _check(toy_problem)
    assert done.returncode == 0, done.stdout
    text = " ".join(done.stdout.split())
    assert "note: initial.py has no EVOLVE-BLOCK markers: the whole file is evolvable" in text


def test_check_warns_when_the_offline_mutator_finds_nothing_to_change(toy_problem):
    (toy_problem / "initial.py").write_text(
        "# EVOLVE-BLOCK-START\ndef order_jobs(jobs):\n    return list(range(len(jobs)))\n# EVOLVE-BLOCK-END\n"
    )
    done = _check(toy_problem)
    text = " ".join(done.stdout.split())
    assert done.returncode == 0, done.stdout
    assert "warning: the offline mutator found" in text and "a run without an LLM would soon stop" in text
    assert "warning: the offline mutator" not in " ".join(_check_skeleton_warnings(toy_problem.parent / "other"))


def _check_skeleton_warnings(target) -> list[str]:
    """The warnings `adrs check` gives on the untouched skeleton (there is plenty to mutate in it)."""
    from adrs.api import check_problem, init_problem

    init_problem(target)
    return check_problem(target).warnings


def test_check_warns_when_a_candidate_may_outlive_the_shortest_stage(toy_problem):
    toml = toy_problem / "problem.toml"
    toml.write_text(toml.read_text().replace("candidate_timeout_s = 3", "candidate_timeout_s = 45"))
    done = _check(toy_problem)
    text = " ".join(done.stdout.split())
    assert done.returncode == 0, done.stdout
    assert "warning:" in text and "limits.candidate_timeout_s (45 s) is longer than stage 'quick' (30 s)" in text


@pytest.mark.parametrize("where", ["evaluator.py", "initial.py"])
def test_check_names_a_module_that_is_not_installed(toy_problem, where):
    path = toy_problem / where
    path.write_text("import adrs_surely_missing_package.sub\n" + path.read_text())
    done = _check(toy_problem)
    text = " ".join(done.stdout.split())
    assert done.returncode == 1
    assert "error: missing module:" in text and "'adrs_surely_missing_package'" in text, text
    assert text.index("'adrs_surely_missing_package'") < text.index("is not installed")
    assert f"{where}" in text[text.index("missing module:") :] and "uv pip install --python" in text
