"""Search: deterministic runs, selection strategies, novelty rejection, migration, stagnation."""

from __future__ import annotations

import random
import sqlite3

import pytest

import adrs
from adrs.archive.elites import Elites
from adrs.archive.select import STRATEGIES, SelectionConfig, select
from adrs.problem import load_problem


def canonical(archive_path) -> list[tuple]:
    """The archive's content without ids of evaluation rows, timestamps or durations."""
    with sqlite3.connect(archive_path) as db:
        programs = db.execute(
            "SELECT id, proposal_index, code_hash, parent_id, island, generation, mutator, status, migrated_from,"
            " score, complete, description FROM programs ORDER BY id"
        ).fetchall()
        evaluations = db.execute(
            "SELECT program_id, stage, ok, score, metrics, feedback, error_kind FROM evaluations "
            "ORDER BY program_id, stage"
        ).fetchall()
    return programs + evaluations


def test_deterministic_runs_give_the_same_archive_for_one_and_two_workers(toy_problem, tmp_path):
    runs = {}
    for workers in (1, 2):
        path = tmp_path / f"w{workers}.sqlite"
        adrs.evolve(
            toy_problem,
            archive=path,
            budget=30,
            seed=7,
            workers=workers,
            deterministic=True,
            lag=3,
            migration_interval=6,
            evaluate_holdout=False,
        )
        runs[workers] = canonical(path)
    assert len(runs[1]) > 30
    assert runs[1] == runs[2]


def test_a_different_seed_gives_a_different_archive(toy_problem, tmp_path):
    a, b = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    for path, seed in ((a, 1), (b, 2)):
        adrs.evolve(
            toy_problem, archive=path, budget=12, seed=seed, workers=1, deterministic=True, evaluate_holdout=False
        )
    assert canonical(a) != canonical(b)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_picks_only_evaluated_programs(toy_problem, tmp_path, strategy):
    path = tmp_path / "run.sqlite"
    summary = adrs.evolve(
        toy_problem,
        archive=path,
        budget=14,
        seed=3,
        workers=2,
        evaluate_holdout=False,
        selection=SelectionConfig(strategy=strategy),
    )
    archive = adrs.Archive.open(path)
    programs = {p.id: p for p in archive.programs(summary.run_id)}
    children = [p for p in programs.values() if p.mutator == "offline"]
    assert children, "the run proposed nothing"
    for child in children:
        parent = programs[child.parent_id]
        assert parent.status == "evaluated" and parent.score is not None
        if strategy == "random":
            assert (parent.migrated_from or parent.id) == 1  # always the initial program
    # the same check straight on the selection function, many draws
    elites = Elites(load_problem(toy_problem), 3)
    for p in programs.values():
        if p.status != "pending":
            elites.add(p)
    rng = random.Random(0)
    for draw in range(200):
        chosen = select(elites, draw % 3, rng, SelectionConfig(strategy=strategy))
        assert chosen is not None and chosen.parent.id in elites.programs
        assert all(i.id in elites.programs for i in chosen.inspirations)


def test_novelty_rejections_are_counted_and_never_evaluated(toy_problem, tmp_path):
    seen = []
    summary = adrs.evolve(
        toy_problem,
        archive=tmp_path / "n.sqlite",
        budget=10,
        seed=0,
        workers=1,
        novelty=0.7,
        evaluate_holdout=False,
        max_duplicate_streak=400,
        on_progress=seen.append,
    )
    progress = seen[-1]
    assert progress.too_similar > 0
    stored = [p for p in adrs.Archive.open(tmp_path / "n.sqlite").programs(summary.run_id) if p.migrated_from is None]
    assert len(stored) == summary.evaluated  # a rejected child is never stored, let alone evaluated


def test_migration_copies_island_bests_and_leaves_the_originals(toy_problem, tmp_path):
    from adrs.archive.store import NewProgram
    from adrs.evaluate.result import Evaluation
    from adrs.islands import IslandKeeper
    from adrs.program import normalized_hash

    problem = load_problem(toy_problem)
    archive = adrs.Archive.open(tmp_path / "m.sqlite")
    run = archive.create_run(problem.name, str(problem.root), problem.fingerprint(), 0, {})
    view = Elites(problem, 2)

    def stored(code: str, island: int, score: float, index: int, mutator: str):
        new = NewProgram(
            code=code, code_hash=normalized_hash(code), proposal_index=index, mutator=mutator, island=island
        )
        program = archive.add_program(run.id, new)
        program = archive.record_evaluations(program.id, [Evaluation("full", True, score, {"score": score})], True)
        view.add(program)
        return program

    first = stored("x = 1\n", 0, 1.0, 0, "initial")
    second = stored("x = 2\n", 1, 5.0, 1, "offline")
    keeper = IslandKeeper(archive, run.id, islands=2, migration_interval=2, stagnation=None)
    copies = keeper.maintain(view)
    assert {(c.migrated_from, c.island) for c in copies} == {(first.id, 1), (second.id, 0)}
    for copy in copies:
        original = archive.program(copy.migrated_from)
        assert original.island != copy.island and original.code == copy.code and original.score == copy.score
        assert archive.evaluations(copy.id) == []  # a copy is never evaluated again
    assert keeper.maintain(view) == []  # already there: nothing copied twice
    assert any(kind == "migration" for kind, _, _ in archive.events(run.id))


def test_stagnation_stops_the_run(toy_problem, tmp_path):
    summary = adrs.evolve(
        toy_problem, archive=tmp_path / "s.sqlite", budget=500, seed=0, workers=1, stagnation=5, evaluate_holdout=False
    )
    assert "stagnation" in summary.stop_reason
    assert summary.evaluated < 500
