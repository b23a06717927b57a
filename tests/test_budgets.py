"""Budgets other than the evaluation count: target score and wall-clock time."""

from __future__ import annotations

import time

import adrs


def test_target_score_stops_the_run_with_the_reason(toy_problem, tmp_path):
    summary = adrs.evolve(toy_problem, archive=tmp_path / "a.sqlite", budget=200, workers=1, target_score=50.0)
    assert "target score 50 reached" in summary.stop_reason
    assert summary.evaluated < 10
    assert summary.best is not None and summary.best.score >= 50.0


def test_wall_clock_budget_stops_the_run(toy_problem, tmp_path):
    started = time.monotonic()
    summary = adrs.evolve(toy_problem, archive=tmp_path / "a.sqlite", budget=10_000, workers=2, max_time_s=4.0)
    elapsed = time.monotonic() - started
    assert "wall-clock budget" in summary.stop_reason
    assert (
        4.0 <= elapsed < 4.0 + 120
    )  # in-flight evaluations finish (their limit is the stage timeout); a busy machine is slow
    assert 0 < summary.evaluated < 10_000
    archive = adrs.Archive.open(tmp_path / "a.sqlite")
    # stopping lets in-flight evaluations finish: none is cut short and recorded as killed
    assert not set(archive.failure_counts(summary.run_id)) & {"timeout", "nonzero_exit"}
