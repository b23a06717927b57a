"""End to end on prism, offline: run, status, show, export, and the exported module re-scored."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ADRS = [sys.executable, "-m", "adrs.cli"]


def adrs(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(ADRS + list(args), cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def prism_run(tmp_path_factory) -> tuple[Path, Path]:
    root = Path(__file__).resolve().parents[1]
    work = tmp_path_factory.mktemp("e2e")
    archive = work / "prism.sqlite"
    done = adrs(
        "run",
        str(root / "problems" / "prism"),
        "--budget",
        "32",
        "--seed",
        "1",
        "--archive",
        str(archive),
        "--quiet",
        cwd=work,
    )
    assert "Best: program" in done.stdout and str(archive) in done.stdout
    return work, archive


def test_offline_run_evaluates_the_whole_budget_and_keeps_the_initial_score(prism_run):
    import sqlite3

    _, archive = prism_run
    with sqlite3.connect(archive) as db:
        statuses = dict(
            db.execute("SELECT status, count(*) FROM programs WHERE migrated_from IS NULL GROUP BY status").fetchall()
        )
        initial = db.execute("SELECT score FROM programs WHERE mutator = 'initial'").fetchone()[0]
        best = db.execute("SELECT max(score) FROM programs WHERE complete").fetchone()[0]
        mutators = {m for (m,) in db.execute("SELECT DISTINCT mutator FROM programs")}
    assert statuses.get("evaluated", 0) + statuses.get("failed", 0) == 32
    assert statuses.get("pending", 0) == 0
    assert initial == pytest.approx(60.82, abs=0.1)
    assert best >= initial
    assert {"initial", "offline"} <= mutators


def test_status_and_show(prism_run):
    import sqlite3

    work, archive = prism_run
    status = adrs("status", str(archive), cwd=work).stdout
    assert "0 pending" in status and "best: program" in status and "stopped: budget spent" in status
    assert "Pareto front" not in status  # prism has one objective: a "front" of one program says nothing
    with sqlite3.connect(archive) as db:
        child = db.execute("SELECT min(id) FROM programs WHERE mutator = 'offline'").fetchone()[0]
    show = adrs("show", str(archive), str(child), cwd=work).stdout
    assert "Diff against parent" in show and "Evaluations" in show and "quick" in show


def test_exported_module_runs_without_adrs_and_reproduces_its_score(prism_run):
    work, archive = prism_run
    out = work / "exported"
    adrs("export", str(archive), "--best", "--out", str(out), cwd=work)
    records = list(out.glob("*.json"))
    assert len(records) == 1
    modules = [records[0].with_suffix(".py")]
    provenance = json.loads(records[0].read_text())
    assert provenance["run_seed"] == 1 and provenance["lineage"][-1] == 1
    assert provenance["stages"]["full"]["ok"] and provenance["problem_fingerprint"]
    stem = modules[0].stem
    assert provenance["requirements"] == []  # prism's policies need nothing beyond the standard library
    assert set(provenance["files"]) == {f"{stem}.py", f"{stem}.README.md", f"{stem}_example.py"}
    assert "compute_model_placement" in (out / f"{stem}.README.md").read_text()
    # a fresh interpreter with no site-packages (so no adrs, no numpy) imports and runs it
    snippet = (
        "import importlib.util, types\n"
        f"spec = importlib.util.spec_from_file_location('policy', {str(modules[0])!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "M = types.SimpleNamespace\n"
        "ms = [M(model_name=f'm{i}', model_size=10 + i, req_rate=i + 1, slo=5, cur_gpu_id=i) for i in range(4)]\n"
        "p = m.compute_model_placement(2, ms)\n"
        "print(sorted(len(v) for v in p.values()))\n"
    )
    fresh = subprocess.run([sys.executable, "-I", "-S", "-c", snippet], capture_output=True, text=True, timeout=60)
    assert fresh.returncode == 0, fresh.stderr
    assert sum(json.loads(fresh.stdout)) == 4
    example = subprocess.run(
        [sys.executable, "-S", "-E", "-s", f"{stem}_example.py"], cwd=out, capture_output=True, text=True, timeout=60
    )
    assert example.returncode == 0 and "KV pressure" in example.stdout, example.stderr
    rescored = json.loads(
        adrs(
            "eval", str(Path(provenance["problem_root"])), str(modules[0]), "--stage", "full", "--json", cwd=work
        ).stdout
    )
    assert rescored["stages"][0]["score"] == pytest.approx(provenance["stages"]["full"]["score"], abs=1e-9)


def test_pareto_and_id_export(prism_run):
    work, archive = prism_run
    out = work / "front"
    adrs("export", str(archive), "--pareto", "--out", str(out), cwd=work)
    assert list(out.glob("*.json"))
    adrs("export", str(archive), "--id", "1", "--out", str(work / "one"), cwd=work)
    assert (work / "one" / "prism_p1.py").read_text() == (
        Path(__file__).resolve().parents[1] / "problems/prism/initial.py"
    ).read_text()


def test_problems_lists_prism_with_its_baselines(tmp_path):
    root = Path(__file__).resolve().parents[1]
    done = adrs("problems", "--dir", str(root / "problems"), cwd=tmp_path)
    assert "prism" in done.stdout and "greedy" in done.stdout
