"""Noise-aware selection: on a problem that declares its noise, a pure-noise edit never becomes the
best, a real improvement larger than the noise does, and every claimed best carries its
uncertainty through the archive, resume, the doctor and the export. A deterministic problem pays
nothing extra.

The noisy problem (tests/noisy_problem) scores a program as its true quality plus a Gaussian draw
of standard deviation 1 seeded by the program's text and how often it was scored, so the draws a
run will see are known here in advance (`draw`)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import adrs
from adrs.archive.store import Archive
from adrs.config import RunConfig
from adrs.engine import Engine
from adrs.mutate.offline import OfflineSource
from adrs.noise import margin
from adrs.problem import ProblemError, load_problem
from tests.scripted import ScriptedSource

NOISY = Path(__file__).with_name("noisy_problem")
SIGMA, REPEATS = 1.0, 3
ADRS = [sys.executable, "-m", "adrs.cli"]


def _evaluator():
    spec = importlib.util.spec_from_file_location("noisy_evaluator", NOISY / "evaluator.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


draw = _evaluator().draw


def program(quality: str) -> str:
    return (NOISY / "initial.py").read_text().replace("return 50.0", f"return {quality}")


def mean_draws(code: str, n: int = REPEATS) -> float:
    return sum(draw("full", code, k) for k in range(n)) / n


def pure_noise_edit() -> str:
    """An edit that leaves the quality at 50 and whose first score beats the initial program's by
    more than the noise (so the old rule, highest score wins, would crown it), whose re-scored mean
    is above the initial program's too, but not by the margin the rule asks."""
    initial = mean_draws(program("50.0"))
    for i in range(1, 2000):
        code = program(f"50.0 + 0 * {i}")
        if draw("full", code, 0) > initial + SIGMA and initial < mean_draws(code) < initial + margin(
            REPEATS, REPEATS, SIGMA
        ):
            return code
    raise AssertionError("no pure-noise edit with a lucky first draw among 2000 variants")


@pytest.fixture
def noisy(tmp_path: Path) -> Path:
    target = tmp_path / "noisy"
    shutil.copytree(NOISY, target, ignore=shutil.ignore_patterns("__pycache__", "noise_state"))
    return target


def declare(problem_dir: Path, noise: str) -> None:
    toml = problem_dir / "problem.toml"
    toml.write_text(toml.read_text().replace("noise = 1.0", f"noise = {noise}"))


def run(problem_dir: Path, archive_path: Path, programs: list[str], **config):
    problem = load_problem(problem_dir)
    archive = Archive.open(archive_path)
    settings = {"budget": 1 + len(programs), "workers": 1, "seed": 0, "islands": 1, **config}
    run_config = RunConfig(**settings)
    record = archive.create_run(problem.name, str(problem.root), problem.fingerprint(), 0, run_config.to_dict())
    summary = asyncio.run(Engine(problem, archive, record, run_config, ScriptedSource(programs)).run())
    return archive, record, summary


def test_a_pure_noise_edit_does_not_become_the_best(noisy, tmp_path):
    edit = pure_noise_edit()
    archive, run_record, summary = run(noisy, tmp_path / "a.sqlite", [edit], evaluate_holdout=False)
    child = next(p for p in archive.programs(run_record.id) if p.mutator == "scripted")
    assert summary.best is not None and summary.best.mutator == "initial"
    # The edit's first score made it a contender: it was re-scored, and its score is the mean.
    assert len(archive.repeat_evaluations(child.id)) == REPEATS - 1
    assert child.score == pytest.approx(50.0 + mean_draws(edit))
    assert [c.program_id for c in archive.best_claims(run_record.id)] == [summary.best.id]
    assert summary.best_evaluations == REPEATS
    assert summary.best_uncertainty == pytest.approx(SIGMA / math.sqrt(REPEATS))
    assert summary.rescores == 2 * (REPEATS - 1)  # the initial program's and the edit's
    assert adrs.check_archive(archive.url).clean


def test_without_a_noise_declaration_the_same_edit_does_become_the_best(noisy, tmp_path):
    """The control: the old rule (highest single score wins) crowns the pure-noise edit."""
    declare(noisy, "0")
    edit = pure_noise_edit()
    archive, _, summary = run(noisy, tmp_path / "a.sqlite", [edit], evaluate_holdout=False)
    assert summary.best is not None and summary.best.code == edit
    assert summary.rescores == 0 and summary.best_uncertainty == 0.0


def test_a_real_improvement_larger_than_the_noise_becomes_the_best(noisy, tmp_path):
    edit, better = pure_noise_edit(), program("54.0")
    archive, run_record, summary = run(noisy, tmp_path / "a.sqlite", [edit, better])
    assert summary.best is not None and summary.best.code == better
    claims = archive.best_claims(run_record.id)
    assert [c.program_id for c in claims] == [claims[0].program_id, summary.best.id]
    assert claims[1].previous_id == claims[0].program_id
    assert claims[1].score == pytest.approx(54.0 + mean_draws(better))
    assert summary.best.score == pytest.approx(claims[1].score)
    # The holdout of the best is repeated too, and carries its uncertainty.
    assert summary.holdout_uncertainty == pytest.approx(SIGMA / math.sqrt(REPEATS))
    holdout = [e for e in archive.repeat_evaluations(summary.best.id) if e.stage == "holdout"]
    assert len(holdout) == REPEATS - 1
    assert adrs.check_archive(archive.url).clean


def test_resume_keeps_the_claimed_best_and_the_doctor_agrees(noisy, tmp_path):
    edit = pure_noise_edit()
    archive, run_record, first = run(noisy, tmp_path / "a.sqlite", [edit], evaluate_holdout=False)
    child = next(p for p in archive.programs(run_record.id) if p.code == edit)
    assert child.score > first.best.score  # the highest mean is the edit's; the claim is the initial program's
    stored = archive.run(run_record.id)
    config = RunConfig.from_dict(stored.config, budget=1)
    problem = load_problem(noisy)
    summary = asyncio.run(Engine(problem, archive, stored, config, ScriptedSource([program("49.0")])).run())
    assert summary.best is not None and summary.best.id == first.best.id
    assert summary.best_uncertainty == pytest.approx(SIGMA / math.sqrt(REPEATS))
    archive.close()
    status = adrs.run_status(tmp_path / "a.sqlite")
    assert status.elites.best().id == first.best.id
    assert adrs.check_archive(tmp_path / "a.sqlite").clean
    # `adrs status` shows the claimed best with its uncertainty
    shown = subprocess.run([*ADRS, "status", str(tmp_path / "a.sqlite")], capture_output=True, text=True, timeout=120)
    best_line = next(line for line in shown.stdout.splitlines() if line.startswith("best:"))
    assert f"program {first.best.id}, score" in best_line and f"over {REPEATS} evaluations" in shown.stdout
    assert "±" in best_line


def test_export_rescores_and_records_the_uncertainty(noisy, tmp_path):
    better = program("54.0")
    archive, run_record, summary = run(noisy, tmp_path / "a.sqlite", [better], evaluate_holdout=False)
    out = tmp_path / "out"
    done = subprocess.run(
        [*ADRS, "export", str(tmp_path / "a.sqlite"), "--best", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "±" in done.stdout and "re-scored at stage 'full'" in done.stdout
    record = json.loads(next(out.glob("*.json")).read_text())
    assert record["score"] == pytest.approx(summary.best.score)
    assert record["score_uncertainty"] == pytest.approx(SIGMA / math.sqrt(REPEATS))
    assert record["score_evaluations"] == REPEATS and record["noise"] == SIGMA
    again = record["rescore"]
    # The export's re-score draws the next three scores of the same program.
    expected = [54.0 + draw("full", better, k) for k in range(REPEATS, 2 * REPEATS)]
    assert again["scores"] == pytest.approx(expected)
    assert again["evaluations"] == REPEATS and again["agrees"] and again["fingerprint_matches"]
    assert again["uncertainty"] == pytest.approx(SIGMA / math.sqrt(REPEATS))
    readme = next(out.glob("*.README.md")).read_text()
    assert f"± {SIGMA / math.sqrt(REPEATS):.2g} (standard error of {REPEATS} evaluations)" in readme


def test_measured_noise_comes_from_the_initial_programs_repeats(noisy, tmp_path):
    declare(noisy, '"measure"')
    archive, run_record, summary = run(noisy, tmp_path / "a.sqlite", [], evaluate_holdout=False)
    initial = program("50.0")
    scores = [50.0 + draw("full", initial, k) for k in range(REPEATS)]
    mean = sum(scores) / REPEATS
    spread = math.sqrt(sum((s - mean) ** 2 for s in scores) / (REPEATS - 1))
    (claim,) = archive.best_claims(run_record.id)
    assert claim.noise == pytest.approx(spread) and claim.score == pytest.approx(mean)
    assert summary.best_uncertainty == pytest.approx(spread / math.sqrt(REPEATS))


def test_a_deterministic_problem_pays_nothing_extra(toy_problem, tmp_path):
    problem = load_problem(toy_problem)
    assert not problem.noise.noisy
    archive = Archive.open(tmp_path / "a.sqlite")
    config = RunConfig(budget=8, workers=1, seed=0, islands=1)
    record = archive.create_run(problem.name, str(problem.root), problem.fingerprint(), 0, config.to_dict())
    summary = asyncio.run(Engine(problem, archive, record, config, OfflineSource()).run())
    assert summary.evaluated == 8 and summary.rescores == 0
    assert archive.stored_repeats(record.id) == [] and archive.best_claims(record.id) == []
    assert summary.best_uncertainty == 0.0 and summary.best_evaluations == 1
    assert summary.best.score == max(p.score for p in archive.programs(record.id) if p.complete)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("noise = -1", "score.noise: expected a standard deviation >= 0"),
        ('noise = "loud"', "score.noise"),
        ("noise = 1\nrepeats = 1", "score.repeats: expected a whole number >= 2"),
        ('noise = "measure"\nrepeats = 2', "score.repeats: expected a whole number >= 3"),
        ("noise = 1\nmetric_noise = 3", "[score.metric_noise] must be a table"),
        ("noise = 1\nloudness = 3", "unknown key score.loudness"),
    ],
)
def test_bad_noise_declarations_name_the_file_and_key(noisy, table, message):
    toml = noisy / "problem.toml"
    toml.write_text(toml.read_text().replace("noise = 1.0\nrepeats = 3", table))
    with pytest.raises(ProblemError) as error:
        load_problem(noisy)
    assert str(toml) in str(error.value) and message in str(error.value)


def test_every_built_in_problem_declares_its_noise(project_root):
    noisy = {}
    for toml in sorted((project_root / "problems").glob("*/problem.toml")):
        assert "noise =" in toml.read_text(), f"{toml}: declare [score] noise"
        problem = load_problem(toml.parent)
        noisy[problem.name] = problem.noise.noisy
        readme = (toml.parent / "README.md").read_text().lower()
        assert "noise" in readme, f"{toml.parent / 'README.md'}: say how noisy the score is"
    assert noisy["eplb"] and noisy["fused_rmsnorm"]
    assert not noisy["prism"] and not noisy["cant_be_late"] and not noisy["txn_scheduling"]
    benchmarks = (project_root / "docs" / "benchmarks.md").read_text()
    for name in noisy:
        assert f"| {name} |" in benchmarks.split("## Score noise")[1].split("\n## ")[0], name


def test_an_archive_from_before_the_noise_tables_opens_resumes_and_stays_consistent(toy_problem, tmp_path):
    """Schema version 1 had no repeat_evaluations and no best_claims: a read-only command reads them
    as empty and creates nothing; opening it to write (resume) creates them, empty, and everything
    resumes as before."""
    import sqlite3

    path = tmp_path / "old.sqlite"
    adrs.evolve(toy_problem, archive=path, budget=3, seed=0, workers=1, islands=1, evaluate_holdout=False)
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE repeat_evaluations")
        db.execute("DROP TABLE best_claims")
        db.execute("UPDATE runs SET schema_version = 1")
    status = adrs.run_status(path)
    assert status.best_claims == [] and status.elites.best() is not None
    assert adrs.check_archive(path).clean  # read-only too

    def tables() -> set[str]:
        with sqlite3.connect(path) as db:
            return {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

    assert not {"repeat_evaluations", "best_claims"} & tables()  # read-only commands never write
    summary = adrs.resume(path, budget=2, evaluate_holdout=False)
    assert {"repeat_evaluations", "best_claims"} <= tables()
    assert summary.evaluated == 2 and summary.failure is None
    assert adrs.check_archive(path).clean


def test_the_rule_in_numbers():
    from adrs.noise import Estimate, beats, estimate, worth_rescoring

    best = estimate([80.0, 81.0, 82.0], 1.5)
    assert best.mean == 81.0 and best.uncertainty == pytest.approx(1.5 / math.sqrt(3)) and best.spread == 1.0
    assert not worth_rescoring(82.4, best, 1.5) and worth_rescoring(82.6, best, 1.5)
    needed = 2 * 1.5 * math.sqrt(2 / 3)  # two standard errors of the difference of two means of 3
    assert not beats(Estimate(81.0 + needed - 0.01, 0.0, 3), best, 1.5)
    assert beats(Estimate(81.0 + needed + 0.01, 0.0, 3), best, 1.5)
    # no best yet, or a noise still to be measured: re-score; a measured noise of 0: a higher score wins
    assert worth_rescoring(0.0, None, 1.5) and worth_rescoring(0.0, best, None)
    exact = estimate([81.0, 81.0, 81.0], 0.0)
    assert worth_rescoring(81.5, exact, 0.0) and not worth_rescoring(81.0, exact, 0.0)
    assert beats(estimate([81.5] * 3, 0.0), exact, 0.0) and not beats(exact, exact, 0.0)
