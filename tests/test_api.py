"""The Python API mirrors every command: one function each, returning records that outlive the archive."""

from __future__ import annotations

import subprocess
import sys

import pytest

import adrs
from adrs.archive.store import ArchiveError


def test_every_public_name_resolves_lazily_without_loading_the_engine_first():
    snippet = (
        "import sys, adrs\n"
        "assert 'adrs.engine' not in sys.modules, 'importing adrs loaded the engine'\n"
        "missing = [n for n in adrs.__all__ if not callable(getattr(adrs, n))]\n"
        "assert not missing, missing\n"
        "assert 'adrs.engine' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", snippet], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_problem_functions_return_the_programs_they_scored(toy_problem, tmp_path):
    heard = []
    report = adrs.check_problem(toy_problem, on_program=lambda checked: heard.append(checked.label))
    assert report.ok and report.initial.failed is None
    assert heard == ["initial.py"] + [f"baselines/{p.name}" for p in report.problem.baselines()]
    assert [e.stage for e in report.initial.evaluations] == [s.name for s in report.problem.stages]

    (only,) = adrs.evaluate_program(toy_problem, toy_problem / "initial.py", stage="quick")
    assert only.stage == "quick" and only.ok

    made = adrs.init_problem(tmp_path / "mine")
    assert (made / "problem.toml").is_file()
    assert [entry.name for entry in adrs.list_problems(tmp_path)] == ["mine", "toy"]


def test_archive_functions_return_records_usable_after_the_archive_closed(toy_problem, tmp_path):
    archive = tmp_path / "a.sqlite"
    summary = adrs.evolve(toy_problem, archive=archive, budget=6, workers=1, seed=0, evaluate_holdout=False)

    status = adrs.run_status(archive)
    assert status.counts["evaluated"] + status.counts["failed"] == summary.evaluated == 6
    assert status.elites.best().score == summary.best.score
    assert status.llm_usage == []

    best = summary.best.migrated_from or summary.best.id
    view = adrs.show_program(archive, best)
    assert view.program.id == best and view.evaluations and view.initial.mutator == "initial"
    with pytest.raises(ArchiveError, match="no LLM call with id 1"):
        adrs.show_call(archive, 1)

    (exported,) = adrs.export_programs(archive, tmp_path / "out", best=True)
    assert exported.program_id == best and exported.score == view.program.score
    assert exported.module.read_text() == view.program.code

    assert adrs.check_archive(archive).clean


def test_commands_load_only_what_they_use(toy_problem, tmp_path):
    """`adrs eval` and `adrs check` never load the archive (SQLAlchemy) or the engine; `adrs status` and
    `adrs show` read a SQLite archive with sqlite3 (archive/sqlite_reader.py), so they load neither
    SQLAlchemy nor anything of the engine, the evaluation runner, the exporter, the doctor, the report
    or the syntax highlighter (their start-up: benchmarks/startup.py)."""
    archive = tmp_path / "a.sqlite"
    adrs.evolve(toy_problem, archive=archive, budget=2, workers=1, seed=0, evaluate_holdout=False)
    watched = (
        "sqlalchemy",
        "adrs.engine",
        "openai",
        "adrs.evaluate.runner",
        "adrs.export",
        "adrs.doctor",
        "adrs.report",
        "adrs.executors.local",
        "pygments",
        "sqlalchemy.dialects.postgresql",
    )
    probe = (
        "import sys\nfrom adrs.cli import main\n"
        "code = main(sys.argv[1:])\n"
        f"print('LOADED', sorted(m for m in {watched!r} if m in sys.modules))\n"
        "sys.exit(code)\n"
    )
    runs = {
        "eval": ["eval", str(toy_problem), str(toy_problem / "initial.py"), "--stage", "quick"],
        "check": ["check", str(toy_problem)],
        "status": ["status", str(archive)],
        "show": ["show", str(archive), "2"],
    }
    loaded = {}
    for name, argv in runs.items():
        done = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, done.stdout + done.stderr
        loaded[name] = done.stdout.rsplit("LOADED", 1)[1].strip()
    assert loaded == {
        "eval": "['adrs.evaluate.runner']",
        "check": "['adrs.evaluate.runner']",
        "status": "[]",
        "show": "[]",
    }
