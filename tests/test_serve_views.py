"""`adrs serve`'s views of the search: the Pareto front, MAP-Elites grids, islands and lineage agree
with what `adrs report` derives from the same archive, on a finished run and while a run goes;
two archives side by side; LLM calls in flight; hostile candidate text stays text in a real
headless Chromium; and serving leaves SQLite and PostgreSQL archives unchanged."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

import adrs
from adrs.archive.store import Archive, ArchiveError, NewProgram
from adrs.evaluate.result import Evaluation
from adrs.problem import load_problem
from adrs.report.data import load_run_data
from adrs.report.grids import cell_matrix
from tests.test_serve import ADRS, Served, _dump, _get

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium on this machine")
HOSTILE = '<img src=x onerror="document.body.dataset.pwned=1"></pre><script>document.body.dataset.pwned=2</script>'


def _copy_toy(root: Path) -> Path:
    from tests.conftest import SKELETON

    problem = root / "toy"
    shutil.copytree(SKELETON, problem, ignore=shutil.ignore_patterns("__pycache__"))
    (problem / "problem.toml").write_text((problem / "problem.toml").read_text().replace("{name}", "toy"))
    return problem


@pytest.fixture(scope="module")
def searched(tmp_path_factory) -> Path:
    """A finished run on two islands, long enough for migrants, failures and a lineage."""
    root = tmp_path_factory.mktemp("searched")
    archive = root / "run.sqlite"
    adrs.evolve(_copy_toy(root), archive=archive, budget=16, workers=1, seed=3, islands=2, evaluate_holdout=False)
    return archive


def _matrix(rows: list[list[float | None]]) -> list[list[float | None]]:
    return [[None if v is None or math.isnan(v) else v for v in row] for row in rows]


def _expected(archive: Path) -> dict:
    """What `adrs report` derives from the archive (its own data functions, read the report's way)."""
    store = Archive.open(archive, create=False, read_only=True)
    try:
        run = store.run()
        data = load_run_data(store, run, load_problem(run.problem_root), "run")
        programs = store.programs(run.id)
    finally:
        store.close()
    return {"data": data, "programs": programs}


def _check_search_matches_report(search: dict, view: dict, expected: dict) -> None:
    data = expected["data"]
    assert sorted(p[2] for p in search["pareto"]["front"]) == sorted(int(p.label[1:]) for p in data.front)
    assert search["pareto"]["complete"] == len(data.complete_points)
    assert len(search["grids"]) == len(data.grids)
    for shown, grid in zip(search["grids"], data.grids, strict=True):
        assert shown["island"] == grid.island and shown["occupied"] == len(grid.elite_scores)
        assert shown["rows"] == _matrix(cell_matrix(grid)[0])
    assert [s["id"] for s in search["lineage"]] == [s.program_id for s in data.lineage]
    assert [s["score"] for s in search["lineage"]] == [s.score for s in data.lineage]
    assert view["best"]["id"] == data.best_id == search["lineage"][-1]["id"]
    originals = [p for p in expected["programs"] if p.migrated_from is None and p.status != "pending"]
    islands = {i["island"]: i for i in view["islands"]}
    assert sum(i["programs"] for i in islands.values()) == len(originals)
    assert sum(i["failed"] for i in islands.values()) == sum(1 for p in originals if p.status == "failed")
    for island, row in islands.items():
        mine = [p for p in expected["programs"] if p.island == island and p.status == "evaluated"]  # copies too
        if mine:
            assert row["best_score"] == max(p.score for p in mine)
        assert row["migrants_in"] == sum(1 for p in expected["programs"] if p.migrated_from and p.island == island)
    assert sum(c["count"] for c in view["failure_causes"]) == view["counts"]["failed"]
    assert [(c.kind, c.cause) for c in data.failure_causes] == [(c["kind"], c["cause"]) for c in view["failure_causes"]]


def test_the_views_of_a_finished_run_are_the_reports_and_serving_writes_nothing(searched):
    before, main_file = _dump(searched), searched.read_bytes()
    expected = _expected(searched)
    served = Served(searched)
    try:
        status, view = served.get("api/run")
        assert status == 200
        status, search = served.get("api/search")
        assert status == 200 and search["version"] == view["version"]
        _check_search_matches_report(search, view, expected)
        assert search["lineage"][0]["mutator"] == "initial"
        assert len(view["islands"]) == 2 and sum(i["migrants_in"] for i in view["islands"]) >= 1
        elapsed = [p["elapsed_s"] for p in view["best_curve"]]
        assert elapsed == sorted(elapsed) and view["elapsed_s"] > 0 and elapsed[-1] <= view["elapsed_s"]
        assert view["llm"] == {"calls": 0, "dollars": 0.0, "failed": 0, "in_flight": None, "engines": 0, "models": []}

        # unchanged since the page last fetched it: a short answer, not the view again
        status, same = served.get(f"api/search?since={search['version']}")
        assert status == 200 and same == {"version": search["version"], "unchanged": True}
        status, other = served.get("api/search?since=0.0.0.0")
        assert other == search

        programs = expected["programs"]
        initial = programs[0]
        child = next(
            p for p in programs if p.parent_id is not None and p.migrated_from is None and p.code != initial.code
        )
        status, shown = served.get(f"api/program/{child.id}")
        assert status == 200 and shown["code"] == child.code
        assert shown["diff_parent"].startswith(f"--- #{child.parent_id}")
        assert shown["diff_initial"].startswith(f"--- #{initial.id} (initial)")
        assert [e["stage"] for e in shown["evaluations"]] == ["quick", "full"]
        assert all(e["metrics"] for e in shown["evaluations"] if e["ok"])
        assert served.get("api/search?archive=1")[0] == 404
        assert served.get("api/search?id=x")[0] == 404
    finally:
        served.close()
    assert _dump(searched) == before
    assert searched.read_bytes() == main_file


def test_the_views_follow_a_live_run(toy_problem, tmp_path):
    archive = tmp_path / "live.sqlite"
    # a budget long enough for the views to be polled several times while it runs
    command = [*ADRS, "run", str(toy_problem), "--budget", "60", "--workers", "1", "--islands", "2"]
    engine = subprocess.Popen(
        [*command, "--archive", str(archive)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    served = None
    try:
        deadline = time.monotonic() + 600
        while served is None:
            assert engine.poll() is None or archive.exists(), engine.stderr.read() if engine.stderr else ""
            try:
                served = Served(archive)
            except ArchiveError:
                assert time.monotonic() < deadline, "the run never appeared in the archive"
                time.sleep(0.5)
        versions, landed, since = [], [], ""
        while engine.poll() is None:
            assert time.monotonic() < deadline, "the run did not finish"
            _status, view = served.get("api/run")
            _status, search = served.get(f"api/search?since={since}")
            if not search.get("unchanged"):
                versions.append(search["version"])
                landed.append(sum(i["programs"] for i in view["islands"]))
            since = search["version"]
            time.sleep(0.3)
        assert engine.wait(timeout=60) == 0
        _status, view = served.get("api/run")
        _status, search = served.get(f"api/search?since={since}")
        if search.get("unchanged"):
            _status, search = served.get("api/search")
    finally:
        if engine.poll() is None:
            engine.kill()
            engine.wait()
        if served is not None:
            served.close()
    assert len(set(versions)) >= 3, f"the search view did not move while the run went on: {versions}"
    assert landed == sorted(landed)
    # what the server built up poll by poll is what the report reads from the finished archive at once
    _check_search_matches_report(search, view, _expected(archive))


def _hostile_archive(path: Path) -> dict[str, int]:
    """A run whose problem folder is gone, with candidate text made to break out of the page."""
    store = Archive.open(path)
    try:
        run = store.create_run("hostile", "/nowhere/hostile", "f" * 16, 0, {"budget": 3, "islands": 1})
        first = store.add_program(run.id, NewProgram(f"x = 1  # {HOSTILE}\n", "1" * 64, 0, "initial"))
        store.record_evaluations(first.id, [Evaluation("full", True, 1.0, {"score": 1.0})], complete=True)
        child = store.add_program(
            run.id, NewProgram(f"x = 2  # {HOSTILE}\n", "2" * 64, 1, "offline", first.id, description=HOSTILE)
        )
        metrics = {"score": 2.0, HOSTILE: 3.0}
        store.record_evaluations(child.id, [Evaluation("full", True, 2.0, metrics, {}, HOSTILE)], complete=True)
        failed = store.add_program(run.id, NewProgram("x = 3\n", "3" * 64, 2, "offline", child.id))
        store.record_evaluations(failed.id, [Evaluation.failure("full", "exception", HOSTILE)], complete=False)
        store.set_run_status(run.id, "stopped")
    finally:
        store.close()
    return {"first": first.id, "child": child.id, "failed": failed.id}


def _dom(url: str) -> str:
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory(prefix="adrs-chromium-") as profile:
        done = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--virtual-time-budget=8000",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_hostile_candidate_text_comes_back_verbatim_and_the_problem_may_be_gone(tmp_path):
    archive = tmp_path / "hostile.sqlite"
    ids = _hostile_archive(archive)
    served = Served(archive)
    try:
        _status, view = served.get("api/run")
        _status, shown = served.get(f"api/program/{ids['child']}")
        _status, search = served.get("api/search")
    finally:
        served.close()
    assert "could not be loaded" in view["note"]  # defaults stand in for the missing problem folder
    assert shown["description"] == HOSTILE and shown["evaluations"][0]["feedback"] == HOSTILE
    assert HOSTILE in shown["evaluations"][0]["metrics"] and HOSTILE in shown["code"]
    assert view["failure_causes"][0]["kind"] == "exception" and view["best"]["id"] == ids["child"]
    assert [s["id"] for s in search["lineage"]] == [ids["first"], ids["child"]]


@needs_chromium
def test_hostile_candidate_text_stays_text_in_headless_chromium(tmp_path):
    archive = tmp_path / "hostile.sqlite"
    ids = _hostile_archive(archive)
    served = Served(archive)
    try:
        dom = _dom(f"{served.url}?program={ids['child']}")
    finally:
        served.close()
    assert "data-pwned" not in dom  # neither the onerror handler nor the script ran
    assert "<img" not in dom and dom.count("<script") == 2  # only the page's own script and steer.js
    escaped = HOSTILE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert f'<pre class="feedback">{escaped}</pre>' in dom
    assert f'<pre class="code">x = 2  # {escaped}\n</pre>' in dom
    assert f"<td>{escaped}</td>" in dom  # the metric's name, in the per-stage table
    assert f'data-id="{ids["child"]}"' in dom  # the program shown is the one the link named


@needs_chromium
def test_the_page_shows_every_section_in_headless_chromium(searched):
    served = Served(searched)
    try:
        _status, view = served.get("api/run")
        _status, search = served.get("api/search")
        dom = _dom(served.url)
    finally:
        served.close()
    for part in ("curve", "curve-time", "islands", "pareto", "grids", "lineage", "causes", "recent", "in-flight"):
        assert f'id="a-{part}"' in dom, part
    assert '<section id="steer"><section id="steer-panel"' in dom  # steer.js drew its panel in its place
    assert f"program #{view['best']['id']}" in dom
    assert dom.count('class="front"') == len(search["pareto"]["front"])  # the front's points, drawn
    assert dom.count('<table class="grid">') == 2  # one grid per island
    assert all(f'<tr class="step" data-id="{s["id"]}">' in dom for s in search["lineage"])
    assert "wall-clock seconds since the run was created" in dom
    assert "no engine publishing calls in flight" in dom


@needs_chromium
def test_two_archives_side_by_side(searched, tmp_path):
    other = tmp_path / "other.sqlite"
    ids = _hostile_archive(other)
    served = Served(searched, compare=[other])
    try:
        _status, runs = served.get("api/runs")
        _status, first = served.get("api/run")
        _status, second = served.get("api/run?archive=1")
        _status, program = served.get(f"api/program/{ids['child']}?archive=1")
        missing, _ = served.get("api/run?archive=2")
        dom = _dom(served.url)
    finally:
        served.close()
    assert len(runs["archives"]) == 2 and {r["archive"] for r in runs["runs"]} == {0, 1}
    assert first["run"]["problem"] == "toy" and second["run"]["problem"] == "hostile"
    assert program["description"] == HOSTILE and missing == 404
    assert 'class="panels compare"' in dom and 'id="a-panel"' in dom and 'id="b-panel"' in dom
    b_panel = dom[dom.index('id="b-panel"') :]
    a_panel = dom[dom.index('id="a-panel"') : dom.index('id="b-panel"')]
    assert f"program #{first['best']['id']}" in a_panel and "run #1 toy" in a_panel
    assert f"program #{ids['child']}" in b_panel and "run #1 hostile" in b_panel


def test_adrs_serve_compare_on_the_command_line(searched, tmp_path):
    other = tmp_path / "other.sqlite"
    _hostile_archive(other)
    server = subprocess.Popen(
        [*ADRS, "serve", str(searched), "--compare", str(other), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "400"},  # rich wraps at the terminal's width: keep the line whole
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        assert " and " in line and "other.sqlite" in line, line + (server.stderr.read() if server.poll() else "")
        url = line.split(" at ")[1].split()[0]
        _status, runs = _get(url + "api/runs")
        assert [r["problem"] for r in runs["runs"]] == ["toy", "hostile"]
    finally:
        server.terminate()
        server.wait(timeout=60)


def _variants():
    from tests.test_llm_run import diff

    counter = iter(range(10_000))

    def respond(_body):
        n = next(counter)
        return diff("    return sorted(", f"    _variant = {n}\n    return sorted(", f"Idea: variant {n}")

    return respond


def test_llm_calls_in_flight_while_a_run_goes_and_none_after(toy_problem, tmp_path):
    from tests.fake_openai import FakeOpenAI
    from tests.test_llm_run import run_settings

    archive = tmp_path / "llm.sqlite"
    seen: list[dict] = []
    with FakeOpenAI(responder=_variants(), latency_s=1.0) as endpoint:
        settings = run_settings(endpoint.url, concurrency=2)
        settings["llm"]["models"][0].update(price_in=1.0, price_out=1.0)
        failure: list[BaseException] = []

        def evolve() -> None:
            try:
                adrs.evolve(toy_problem, archive=archive, budget=8, **settings)
            except BaseException as exc:  # reported below, in the test's thread
                failure.append(exc)

        runner = threading.Thread(target=evolve)
        runner.start()
        served = None
        try:
            deadline = time.monotonic() + 600
            while runner.is_alive():
                assert time.monotonic() < deadline, "the run did not finish"
                if served is None:
                    try:
                        served = Served(archive)
                    except ArchiveError:
                        time.sleep(0.3)
                        continue
                seen.append(served.get("api/run")[1]["llm"])
                time.sleep(0.3)
            runner.join()
            assert not failure, failure
            assert served is not None
            final = served.get("api/run")[1]["llm"]
        finally:
            runner.join(timeout=600)
            if served is not None:
                served.close()
    assert any((s["in_flight"] or 0) >= 1 and s["engines"] == 1 for s in seen), seen
    assert final["in_flight"] is None and final["engines"] == 0  # the engine's last copy: it ended
    assert final["calls"] >= 8 and final["dollars"] > 0
    assert final["models"] and final["models"][0]["model"] == "fake-coder"


def _rows(url: str) -> dict[str, list]:
    """Every row of every table, in a stable order: what a byte-for-byte dump is for SQLite."""
    from sqlalchemy import MetaData, create_engine, select

    engine = create_engine(url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        with engine.connect() as connection:
            return {
                name: [tuple(map(str, r)) for r in connection.execute(select(table).order_by(*table.primary_key))]
                for name, table in sorted(metadata.tables.items())
            }
    finally:
        engine.dispose()


def test_serving_a_postgresql_run_writes_nothing(toy_problem):
    from tests.pg import PostgresUnavailable, start_postgres

    try:
        postgres = start_postgres()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    try:
        url = postgres.new_database()
        adrs.evolve(toy_problem, archive=url, budget=8, workers=1, islands=2, evaluate_holdout=False)
        before = _rows(url)
        served = Served(url)
        try:
            _status, view = served.get("api/run")
            _status, search = served.get("api/search")
            assert served.get(f"api/program/{view['best']['id']}")[0] == 200
            assert served.get("api/runs")[0] == 200
        finally:
            served.close()
        assert _rows(url) == before
        assert view["landed"] == 8 and search["lineage"][-1]["id"] == view["best"]["id"]
        assert len(search["grids"]) == 2
    finally:
        postgres.stop()
