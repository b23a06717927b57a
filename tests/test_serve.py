"""`adrs serve`: the JSON a real server answers over a real archive, while a real run writes it, and
that serving never writes to the archive."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import adrs
from adrs.archive.store import Archive, ArchiveError, NewProgram
from adrs.evaluate.result import Evaluation
from adrs.serve.server import ArchiveServer, open_server, serve_archive
from adrs.serve.state import LiveRuns
from adrs.serve.views import run_view

ADRS = [sys.executable, "-m", "adrs.cli"]


def _get(url: str) -> tuple[int, dict | str]:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            body = response.read().decode()
            status = response.status
            kind = response.headers["Content-Type"]
    except urllib.error.HTTPError as exc:
        body, status, kind = exc.read().decode(), exc.code, exc.headers["Content-Type"]
    return status, json.loads(body) if kind == "application/json" else body


class Served:
    """A server on `archive` answering in a thread, until closed."""

    def __init__(self, archive: str | Path, compare: list[str | Path] | None = None):
        self.server: ArchiveServer = open_server(archive, port=0, compare=compare)
        self.thread = threading.Thread(target=serve_archive, args=(self.server,), daemon=True)
        self.thread.start()
        self.url = self.server.url

    def get(self, path: str) -> tuple[int, dict | str]:
        return _get(self.url + path)

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=60)


def _dump(path: Path) -> list[str]:
    connection = sqlite3.connect(path)
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    from tests.conftest import SKELETON

    root = tmp_path_factory.mktemp("served")
    problem = root / "toy"
    shutil.copytree(SKELETON, problem, ignore=shutil.ignore_patterns("__pycache__"))
    (problem / "problem.toml").write_text((problem / "problem.toml").read_text().replace("{name}", "toy"))
    archive = root / "run.sqlite"
    adrs.evolve(problem, archive=archive, budget=8, workers=1, seed=0, evaluate_holdout=False)
    return archive


def test_serving_answers_runs_progress_best_and_programs_without_writing(finished_run):
    before = _dump(finished_run)
    main_file = finished_run.read_bytes()
    served = Served(finished_run)
    try:
        status, runs = served.get("api/runs")
        assert status == 200 and [r["problem"] for r in runs["runs"]] == ["toy"]
        status, view = served.get("api/run")
        assert status == 200

        store = Archive.open(finished_run, create=False)
        try:
            run = store.run()
            counts = store.status_counts(run.id)
            programs = [p for p in store.programs(run.id) if p.migrated_from is None]
        finally:
            store.close()
        assert view["run"]["id"] == run.id and view["run"]["budget"] == 8
        assert view["counts"]["evaluated"] == counts["evaluated"]
        assert view["counts"]["failed"] == counts.get("failed", 0)
        assert sum(view["failures"].values()) == counts.get("failed", 0)
        best = max((p for p in programs if p.status == "evaluated"), key=lambda p: (p.complete, p.score, -p.id))
        assert view["best"]["id"] == best.id and view["best"]["code"] == best.code
        assert view["best_curve"][-1]["score"] == best.score
        scores = [point["score"] for point in view["best_curve"]]
        assert scores == sorted(scores)  # the best only ever improves
        assert view["landed"] == counts["evaluated"] + counts.get("failed", 0)
        assert len(view["recent"]) == min(20, view["landed"])

        child = next(p for p in programs if p.parent_id is not None and p.code != programs[0].code)
        status, shown = served.get(f"api/program/{child.id}")
        assert status == 200 and shown["code"] == child.code
        assert shown["diff_parent"].startswith(f"--- #{child.parent_id}")
        assert shown["diff_initial"].startswith(f"--- #{programs[0].id} (initial)")
        assert shown["evaluations"] and shown["evaluations"][0]["stage"]

        status, page = served.get("")
        assert status == 200 and "api/run" in page and "<script" in page
        status, missing = served.get("api/program/99999")
        assert status == 404 and "no program with id 99999" in missing["error"]
        status, missing = served.get("api/run?id=42")
        assert status == 404 and "no run with id 42" in missing["error"]
        status, missing = served.get("api/run?id=x")
        assert status == 404 and "not a number" in missing["error"]
        request = urllib.request.Request(served.url + "api/run", data=b"{}", method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=60)
        assert refused.value.code == 405
    finally:
        served.close()
    assert _dump(finished_run) == before
    assert finished_run.read_bytes() == main_file


def test_a_poll_sees_a_pending_program_land_and_new_programs_appear(tmp_path):
    store = Archive.open(tmp_path / "a.sqlite")
    try:
        run = store.create_run("toy", "/toy", "f" * 16, 0, {"budget": 3})
        first = store.add_program(run.id, NewProgram("x = 1\n", "1" * 64, 0, "initial"))
        live = LiveRuns()
        with live.reading(store, 0, run.id) as state:
            assert run_view(store, state)["counts"]["pending"] == 1
        store.record_evaluations(first.id, [Evaluation("full", True, 2.0, {"score": 2.0})], complete=True)
        second = store.add_program(run.id, NewProgram("x = 2\n", "2" * 64, 1, "offline", first.id))
        store.record_evaluations(second.id, [Evaluation.failure("full", "exception", "boom")], complete=False)
        with live.reading(store, 0, run.id) as state:
            view = run_view(store, state)
            assert set(state.records) == {first.id, second.id}  # the formerly pending program was read once it landed
    finally:
        store.close()
    assert view["counts"] == {"pending": 0, "evaluated": 1, "failed": 1}
    assert view["best"]["id"] == first.id and view["failures"] == {"exception": 1}
    assert [p["id"] for p in view["recent"]] == [second.id, first.id]


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium on this machine")
def test_the_page_renders_the_run_in_headless_chromium(finished_run):
    served = Served(finished_run)
    try:
        _status, view = served.get("api/run")
        command = [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=5000",
            "--dump-dom",
            served.url,
        ]
        dom = subprocess.run(command, capture_output=True, text=True, timeout=300).stdout
    finally:
        served.close()
    assert f"program #{view['best']['id']}" in dom  # the page fetched /api/run and drew it
    rows = [f'<tr class="program" data-id="{p["id"]}">' for p in view["recent"]]
    assert all(row in dom for row in rows)
    assert "<path" in dom  # the best-score curve


def test_serving_binds_to_loopback_unless_told(finished_run):
    served = Served(finished_run)
    try:
        assert served.server.server_address[0] == "127.0.0.1"
    finally:
        served.close()


def test_serve_refuses_a_missing_archive_in_one_line_and_creates_nothing(tmp_path):
    missing = tmp_path / "nothing.sqlite"
    with pytest.raises(ArchiveError, match="no such archive"):
        open_server(missing, port=0)
    wide = {**os.environ, "COLUMNS": "400"}  # rich wraps at the terminal's width: keep the line whole
    done = subprocess.run(
        [*ADRS, "serve", str(missing), "--port", "0"], capture_output=True, text=True, timeout=300, env=wide
    )
    assert done.returncode == 1
    assert "no such archive" in done.stdout and len(done.stdout.strip().splitlines()) == 1
    assert not missing.exists()


def test_the_view_follows_a_live_run_as_its_evaluations_land(toy_problem, tmp_path):
    archive = tmp_path / "live.sqlite"
    command = [*ADRS, "run", str(toy_problem), "--budget", "40", "--workers", "1", "--archive", str(archive)]
    engine = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    served = None
    try:
        deadline = time.monotonic() + 600
        while served is None:  # the engine creates the archive and its run first
            assert engine.poll() is None or archive.exists(), engine.stderr.read() if engine.stderr else ""
            try:
                served = Served(archive)
            except ArchiveError:
                assert time.monotonic() < deadline, "the run never appeared in the archive"
                time.sleep(0.5)
        seen = []  # landed evaluations each poll saw, while the engine was still running
        while engine.poll() is None:
            assert time.monotonic() < deadline, "the run did not finish"
            _status, view = served.get("api/run")
            seen.append(view["counts"]["evaluated"] + view["counts"]["failed"])
            time.sleep(0.3)
        assert engine.wait(timeout=60) == 0
        _status, final = served.get("api/run")
    finally:
        if engine.poll() is None:
            engine.kill()
            engine.wait()
        if served is not None:
            served.close()
    landed = final["counts"]["evaluated"] + final["counts"]["failed"]
    assert landed >= 10 and final["run"]["status"] == "stopped"
    assert len(set(seen)) >= 3, f"the view did not move while the run went on: {seen}"
    assert seen == sorted(seen) and seen[-1] <= landed
