"""PostgreSQL archives against a real private server: the same behaviour as SQLite, end-to-end runs,
crash and resume, and several engines cooperating on one run.

The server (tests/pg.py) starts once per module on a loopback port; each test gets a fresh
database. Where no server can start (no binaries, no driver) the tests skip with the reason.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import sqlalchemy as sa

from adrs.archive.schema import SCHEMA_VERSION
from adrs.archive.store import Archive, ArchiveError, DuplicateProgram, NewProgram
from adrs.evaluate.result import Evaluation
from tests.pg import PostgresUnavailable, start_postgres

ADRS = [sys.executable, "-m", "adrs.cli"]


@pytest.fixture(scope="module")
def postgres():
    try:
        server = start_postgres()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    yield server
    server.stop()


@pytest.fixture
def pg_url(postgres) -> str:
    return postgres.new_database()


# the same behaviour as SQLite ------------------------------------------------------------------
def _exercise(archive: Archive) -> dict:
    """Every store operation the engine uses; a comparable dump of what came back."""
    run = archive.create_run("toy", "/problems/toy", "f" * 16, 3, {"budget": 5, "nested": {"a": [1, 2.5]}})
    a = archive.add_program(run.id, NewProgram("x = 1\n", "h1", 0, "initial"))
    long_label = "llm:" + "m" * 250  # longer than the declared column: SQLite ignores it, PostgreSQL must too
    b = archive.add_program(run.id, NewProgram("x = 2\n", "h2", 1, long_label, a.id, [a.id], 1, 1, "desc", "diff"))
    good = [
        Evaluation("quick", True, 1.5, {"score": 1.5, "m": 2.0}, {"f": 1.0}, "fine", {"i1": 1.0}, duration_s=0.5),
        Evaluation("full", True, 2.5, {"score": 2.5}, {}, "", {}, duration_s=1.0),
    ]
    evaluated = archive.record_evaluations(a.id, good, True)
    again = archive.record_evaluations(a.id, good, True)  # idempotent per (program, stage)
    failed = archive.record_evaluations(
        b.id, [Evaluation.failure("quick", "exception", "Traceback\x00 NUL byte")], False
    )
    migrant = archive.add_migrant(evaluated, 2, evaluated.proposal_index)  # a copy keeps its original's index
    archive.record_extra_evaluation(a.id, Evaluation("holdout", True, 3.0, {"score": 3.0}))
    archive.record_extra_evaluation(a.id, Evaluation("holdout", True, 9.0, {"score": 9.0}))  # kept once
    archive.add_event(run.id, "started", {"budget": 5})
    archive.put_state(run.id, "bandit", {"arms": {"m": [1, 2]}})
    archive.put_state(run.id, "bandit", {"arms": {"m": [3, 4]}})
    call = archive.add_llm_call(run.id, program_id=b.id, model=long_label, prompt="p", response="r\x00", cost_usd=0.01)
    # schema version 5: a reply and a diff kept in their row compressed, floats packed as doubles
    c = archive.add_program(run.id, NewProgram("x = 3\n" * 40, "h3", 2, "offline", a.id, diff="-x = 1\n+x = 3\n" * 9))
    floats = {"score": 0.25, "mean_gap_closed": 0.45320349286842415, "candidate_wall_s": 0.30814668799575884}
    archive.record_evaluations(c.id, [Evaluation("full", True, 0.25, {**floats, "third": 1 / 3})], True)
    in_row = archive.add_llm_call(run.id, model="m", prompt="context\n" * 100, response="context\n" * 30 + "\x02")
    nul = archive.add_llm_call(run.id, model="m", prompt="p\x00" + "p" * 100, response="p" * 100 + "\x02")
    archive.set_run_status(run.id, "stopped")

    def plain(record) -> dict:
        return {k: v for k, v in dataclasses.asdict(record).items() if k not in ("created_at", "evaluated_at")}

    with pytest.raises(DuplicateProgram):
        archive.add_program(run.id, NewProgram("x = 1\n", "h1", 9, "offline"), reject_duplicate=True)
    return {
        "run": plain(archive.run(run.id)),
        "records": [plain(r) for r in (a, b, evaluated, again, failed, migrant)],
        "programs": [plain(p) for p in archive.programs(run.id)],
        "pending": [p.id for p in archive.programs(run.id, status="pending")],
        "evaluations": {p: [plain(e) for e in archive.evaluations(p)] for p in (a.id, b.id)},
        "since": [p.id for p in archive.programs_since(run.id, a.id)],
        "next_index": archive.next_proposal_index(run.id),
        "hashes": sorted(archive.known_hashes(run.id)),
        "exists": (archive.hash_exists(run.id, "h2"), archive.hash_exists(run.id, "zz")),
        "counts": dict(archive.status_counts(run.id)),
        "failures": dict(archive.failure_counts(run.id)),
        "events": [(k, p) for k, p, _ in archive.events(run.id)],
        "state": archive.get_state(run.id, "bandit"),
        "call": call,
        "in row": (plain(archive.program(c.id)), plain(archive.llm_call(in_row)), archive.llm_call(nul).response),
    }


def test_the_store_behaves_as_with_sqlite(pg_url, tmp_path):
    on_sqlite = Archive.open(tmp_path / "a.sqlite")
    on_postgres = Archive.open(pg_url)
    try:
        lite, pg = _exercise(on_sqlite), _exercise(on_postgres)
    finally:
        on_sqlite.close()
        on_postgres.close()
    # The one designed difference: PostgreSQL text cannot hold NUL, written as the characters \x00.
    failed_error = pg["evaluations"][2][0]["error"]
    assert failed_error == "Traceback\\x00 NUL byte"
    pg["evaluations"][2][0]["error"] = lite["evaluations"][2][0]["error"]
    assert lite == pg


def test_an_archive_of_the_version_3_layout_reads_the_same_and_migrates_on_the_server(pg_url):
    """Metrics and features stored once (archive/compact.py): rows rewritten to the layout version 3
    wrote (whole dictionaries, schema_version 3) read the same, and opening the archive to write
    brings them back in one transaction on the server too."""
    metrics = {"score": 2.5, "mean_gap_closed": 0.45320349286842415, "candidate_wall_s": 0.30814668799575884}
    archive = Archive.open(pg_url)
    run = archive.create_run("toy", "/problems/toy", "f" * 16, 3, {})
    parent = archive.add_program(run.id, NewProgram("x = 1\n", "h1", 0, "initial"))
    quick = Evaluation("quick", True, 1.5, {**metrics, "score": 1.5}, {"kendall_to_spt": 0.5})
    full = Evaluation("full", True, 2.5, metrics, {"kendall_to_spt": 0.25})
    archive.record_evaluations(parent.id, [quick, full], True)
    child = archive.add_program(run.id, NewProgram("x = 2\n", "h2", 1, "offline", parent.id))
    archive.record_evaluations(child.id, [Evaluation("quick", True, 0.5, {**metrics, "score": 0.5})], False)

    def records() -> list:
        programs = archive.programs(run.id)
        return [dataclasses.asdict(p) for p in programs] + [
            dataclasses.asdict(e) for p in programs for e in archive.evaluations(p.id)
        ]

    written = records()
    engine = sa.create_engine(pg_url)
    with engine.begin() as db:  # the rows as version 3 wrote them
        for p in archive.programs(run.id):
            db.execute(
                sa.text("UPDATE programs SET metrics = CAST(:m AS json), features = CAST(:f AS json) WHERE id = :id"),
                {"m": json.dumps(p.metrics), "f": json.dumps(p.features), "id": p.id},
            )
            for e in archive.evaluations(p.id):
                db.execute(
                    sa.text(
                        "UPDATE evaluations SET metrics = CAST(:m AS json), features = CAST(:f AS json) "
                        "WHERE program_id = :id AND stage = :stage"
                    ),
                    {"m": json.dumps(e.metrics), "f": json.dumps(e.features), "id": p.id, "stage": e.stage},
                )
        db.execute(sa.text("UPDATE runs SET schema_version = 3"))
        db.execute(sa.text("DELETE FROM metric_names"))
    archive.close()
    archive = Archive.open(pg_url, read_only=True)
    assert records() == written
    archive.close()
    archive = Archive.open(pg_url)  # opened to write: migrated
    assert records() == written
    archive.close()
    with engine.connect() as db:
        assert db.execute(sa.text("SELECT DISTINCT schema_version FROM runs")).scalars().all() == [SCHEMA_VERSION]
        assert db.execute(sa.text("SELECT count(*) FROM evaluations WHERE metrics::text = 'null'")).scalar() == 2
        assert db.execute(sa.text("SELECT count(*) FROM metric_names")).scalar() > 0
    engine.dispose()


def test_an_unreachable_server_is_a_clear_error_without_the_password(postgres):
    with pytest.raises(ArchiveError, match=r"cannot open the archive") as info:
        Archive.open("postgresql+psycopg://someone:secret@127.0.0.1:1/nowhere")
    assert "secret" not in str(info.value)


# several engines on one database ----------------------------------------------------------------
def _threads(count: int, target) -> None:
    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_engines_racing_for_indices_budget_and_children_never_collide(pg_url):
    archives = [Archive.open(pg_url) for _ in range(3)]
    run = archives[0].create_run("toy", "/p", "f", 0, {})
    archives[0].open_budget(run.id, 25)
    stored, claims, rejected = [], [], []

    def engine(i: int) -> None:
        archive = archives[i]
        for k in range(12):
            # every engine asks for the same index (max + 1) and, every other time, the same child
            index = archive.next_proposal_index(run.id)
            code_hash = f"shared{k}" if k % 2 else f"own{i}-{k}"
            try:
                stored.append(
                    archive.add_program(
                        run.id, NewProgram(f"x = {k}\n", code_hash, index, "offline"), reject_duplicate=True
                    )
                )
            except DuplicateProgram:
                rejected.append(code_hash)
        while archive.claim_evaluation(run.id):
            claims.append(i)

    _threads(3, engine)
    indices = [p.proposal_index for p in archives[0].programs(run.id)]
    assert len(indices) == len(set(indices)) == len(stored) == 3 * 6 + 6  # own children + one of each shared
    assert len(rejected) == 2 * 6
    assert len(claims) == 25 and archives[1].budget_left(run.id) == 0  # the budget is spent once
    for archive in archives:
        archive.close()


def test_each_engine_follows_the_others_results_but_not_its_own(pg_url):
    first, second = Archive.open(pg_url), Archive.open(pg_url)
    run = first.create_run("toy", "/p", "f", 0, {})
    cursor = second.change_cursor(run.id)
    mine = first.add_program(run.id, NewProgram("x = 1\n", "h1", 0, "initial"))
    theirs = second.add_program(run.id, NewProgram("x = 2\n", "h2", 1, "offline"))
    assert second.changes_since(run.id, cursor) == ([], cursor)  # pending programs are not news
    first.record_evaluations(mine.id, [Evaluation("full", True, 1.0)], True)
    second.record_evaluations(theirs.id, [Evaluation.failure("full", "timeout", "slow")], False)
    seen, cursor = second.changes_since(run.id, cursor)
    assert [p.id for p in seen] == [mine.id] and seen[0].status == "evaluated"
    seen_by_first, _ = first.changes_since(run.id, 0)
    assert [(p.id, p.status) for p in seen_by_first] == [(theirs.id, "failed")]
    assert second.changes_since(run.id, cursor) == ([], cursor)
    first.close()
    second.close()


# whole runs -------------------------------------------------------------------------------------
def _counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as c:
            rows = c.execute(
                sa.text("SELECT status, count(*) FROM programs WHERE migrated_from IS NULL GROUP BY status")
            )
            return {status: n for status, n in rows}
    except sa.exc.ProgrammingError:  # tables not created yet
        return {}
    finally:
        engine.dispose()


def _evaluated(url: str) -> int:
    counts = _counts(url)
    return counts.get("evaluated", 0) + counts.get("failed", 0)


def _scalar(url: str, query: str):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as c:
            return c.execute(sa.text(query)).scalar()
    finally:
        engine.dispose()


def _no_duplicate_stages(url: str) -> bool:
    return (
        _scalar(
            url,
            "SELECT count(*) FROM (SELECT program_id, stage FROM evaluations "
            "GROUP BY program_id, stage HAVING count(*) > 1) d",
        )
        == 0
    )


def _start(args: list[str], cwd) -> subprocess.Popen:
    return subprocess.Popen(
        ADRS + args, cwd=cwd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _wait_for(url: str, evaluated: int, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while _evaluated(url) < evaluated:
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(0.1)


def test_end_to_end_run_then_status_and_export(pg_url, toy_problem, tmp_path):
    import adrs

    summary = adrs.evolve(toy_problem, archive=pg_url, budget=12, workers=2)
    assert summary.evaluated == 12 and summary.best is not None
    assert summary.holdout_score is not None
    assert _counts(pg_url).get("pending", 0) == 0
    status = subprocess.run(ADRS + ["status", pg_url], capture_output=True, text=True, timeout=120)
    assert status.returncode == 0, status.stdout + status.stderr
    assert "Run 1" in status.stdout
    exported = subprocess.run(
        ADRS + ["export", pg_url, "--best", "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120
    )
    assert exported.returncode == 0, exported.stdout + exported.stderr
    assert list((tmp_path / "out").glob("*.py"))


def test_sigkill_mid_run_then_resume_loses_nothing(pg_url, toy_problem, tmp_path):
    proc = _start(
        ["run", str(toy_problem), "--budget", "200", "--workers", "2", "--archive", pg_url, "--quiet"], tmp_path
    )
    _wait_for(pg_url, 8, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _counts(pg_url)
    evaluated_before = _evaluated(pg_url)
    time.sleep(0.5)  # sandboxed workers die with their parent
    done = subprocess.run(
        ADRS + ["resume", pg_url, "--budget", "10", "--quiet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    after = _counts(pg_url)
    assert before.get("pending", 0) > 0 and after.get("pending", 0) == 0
    assert _evaluated(pg_url) == evaluated_before + 10
    assert _no_duplicate_stages(pg_url)


def test_a_second_engine_without_join_is_refused_until_the_first_dies(pg_url, toy_problem, tmp_path):
    run = ["run", str(toy_problem), "--budget", "200", "--workers", "1", "--archive", pg_url, "--quiet"]
    first = _start(run, tmp_path)
    resume = ADRS + ["resume", pg_url, "--budget", "2", "--quiet"]
    try:
        _wait_for(pg_url, 2, first)
        second = subprocess.run(resume, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert second.returncode == 1, second.stdout + second.stderr
        said = " ".join(second.stdout.split())
        assert "run 1 is in use by another engine (PostgreSQL session" in said and "--join" in said
        assert _scalar(pg_url, "SELECT count(*) FROM events WHERE kind = 'resumed'") == 0
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    # the server ends the dead engine's session, and its lock with it
    done = subprocess.run(resume, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_read_only_commands_refuse_a_database_without_an_archive_and_create_nothing(pg_url, tmp_path):
    for args in (["status", pg_url], ["show", pg_url, "1"], ["doctor", pg_url]):
        done = subprocess.run(ADRS + args, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert done.returncode == 1, done.stdout + done.stderr
        assert "not an adrs archive" in done.stdout
    engine = sa.create_engine(pg_url)
    try:
        assert sa.inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def test_a_read_only_archive_refuses_writes_on_the_server(pg_url):
    Archive.open(pg_url).close()  # the tables
    store = Archive.open(pg_url, create=False, read_only=True)
    try:
        with pytest.raises(sa.exc.DBAPIError, match="read-only transaction"):
            store.create_run("toy", "/p", "f" * 16, 0, {})
    finally:
        store.close()


def test_two_engines_share_one_run(pg_url, toy_problem, tmp_path):
    budget = 30
    common = ["--workers", "1", "--quiet"]
    first = _start(["run", str(toy_problem), "--budget", str(budget), "--archive", pg_url, *common], tmp_path)
    _wait_for(pg_url, 3, first)
    second = _start(["run", str(toy_problem), "--archive", pg_url, "--join", "1", *common], tmp_path)
    # a dashboard reads the live run meanwhile
    live = subprocess.run(ADRS + ["status", pg_url], capture_output=True, text=True, timeout=120)
    assert live.returncode == 0, live.stdout + live.stderr
    out_first, _ = first.communicate(timeout=300)
    out_second, _ = second.communicate(timeout=300)
    assert first.returncode == 0, out_first
    assert second.returncode == 0, out_second

    assert _evaluated(pg_url) == budget  # the budget is counted once, across both engines
    assert _counts(pg_url).get("pending", 0) <= 1  # at most a proposal the joiner stored as the budget ran out
    assert _no_duplicate_stages(pg_url)
    indices = _scalar(
        pg_url, "SELECT count(DISTINCT proposal_index) - count(*) FROM programs WHERE migrated_from IS NULL"
    )
    assert indices == 0
    # who evaluated what: each engine writes its own evaluations into the journal
    per_writer = _scalar(
        pg_url,
        "SELECT string_agg(n::text, ',') FROM (SELECT count(*) AS n FROM program_changes c JOIN programs p "
        "ON p.id = c.program_id WHERE p.migrated_from IS NULL GROUP BY writer) w",
    )
    assert len(per_writer.split(",")) == 2 and all(int(n) > 0 for n in per_writer.split(","))
    # the joiner built on the first engine's programs (it saw its elites)
    cross = _scalar(
        pg_url,
        "SELECT count(*) FROM programs child JOIN program_changes cc ON cc.program_id = child.id "
        "JOIN program_changes pc ON pc.program_id = child.parent_id "
        "WHERE cc.writer <> pc.writer AND child.migrated_from IS NULL",
    )
    assert cross > 0
    kinds = _scalar(pg_url, "SELECT string_agg(kind, ',' ORDER BY id) FROM events")
    assert "joined" in kinds and "left" in kinds
    assert _scalar(pg_url, "SELECT status FROM runs") == "stopped"


def test_engines_in_one_process_see_each_others_elites(pg_url, toy_problem):
    """Two engines on one run, one event loop: each admits programs the other evaluated."""
    import asyncio

    from adrs.config import RunConfig
    from adrs.engine import Engine
    from adrs.mutate.offline import OfflineSource
    from adrs.problem import load_problem

    problem = load_problem(toy_problem)
    owner_store, joiner_store = Archive.open(pg_url), Archive.open(pg_url)
    config = RunConfig(budget=24, workers=1, evaluate_holdout=False)
    run = owner_store.create_run(problem.name, str(problem.root), problem.fingerprint(), 0, config.to_dict())

    async def both() -> tuple[Engine, Engine]:
        owner = Engine(problem, owner_store, run, config, OfflineSource())
        joiner = Engine(problem, joiner_store, run, config, OfflineSource(), joined=True)
        await asyncio.gather(owner.run(), joiner.run())
        return owner, joiner

    owner, joiner = asyncio.run(both())
    assert owner.progress.evaluated + joiner.progress.evaluated == 24
    assert owner.progress.evaluated > 0 and joiner.progress.evaluated > 0
    written = _scalar(pg_url, "SELECT json_agg(json_build_array(writer, program_id)) FROM program_changes")
    by_owner = {p for w, p in written if w == owner_store.writer}
    by_joiner = {p for w, p in written if w == joiner_store.writer}
    assert by_owner & set(joiner.elites.programs)  # the joiner admitted the owner's results ...
    assert by_joiner & set(owner.elites.programs)  # ... and the owner the joiner's, while running
    owner_store.close()
    joiner_store.close()


def test_a_joined_engine_leaves_the_runs_search_state_to_the_runs_own_engine(pg_url, toy_problem):
    """The adaptive search's state (islands, bandit, sweep) is stored by the run's own engine; an
    engine that joins starts from it and keeps its own in memory, so a resume continues the owner's
    search, not whichever engine saved last."""
    import asyncio

    from adrs.config import RunConfig
    from adrs.engine import Engine
    from adrs.mutate.offline import OfflineSource
    from adrs.problem import load_problem
    from adrs.search.adaptive import STATE_KEY

    problem = load_problem(toy_problem)
    owner_store, joiner_store = Archive.open(pg_url), Archive.open(pg_url)
    config = RunConfig(budget=12, workers=1, evaluate_holdout=False)
    assert config.selection.strategy == "adaptive"
    run = owner_store.create_run(problem.name, str(problem.root), problem.fingerprint(), 0, config.to_dict())
    owner = Engine(problem, owner_store, run, config, OfflineSource())
    asyncio.run(owner.run())
    stored = owner_store.get_state(run.id, STATE_KEY)
    assert stored == owner.proposer.adaptive.to_state() and stored["evaluations"] > 0
    owner_store.open_budget(run.id, 12)  # more budget, as a resume opens: the joiner spends it
    joiner = Engine(problem, joiner_store, run, config, OfflineSource(), joined=True)
    asyncio.run(joiner.run())
    assert joiner.progress.evaluated == 12
    assert joiner.proposer.adaptive.evaluations > stored["evaluations"]  # it searched on, from the owner's state
    assert joiner_store.get_state(run.id, STATE_KEY) == stored
    owner_store.close()
    joiner_store.close()


def test_a_joined_llm_engine_leaves_the_model_chooser_and_search_state_alone(pg_url, toy_problem):
    """Through the API: `adrs run --join` on an LLM run proposes with its own copy of the model
    bandit and of the adaptive search; what the run stored for them stays the run's engine's."""
    from adrs import api
    from adrs.mutate.llm.bandit import STATE_KEY as CHOOSER
    from adrs.search.adaptive import STATE_KEY as SEARCH
    from tests.fake_openai import FakeOpenAI, Reply

    def tweak(body) -> Reply:
        n = len(body["messages"][-1]["content"]) + body["messages"][-1]["content"].count("_n")
        edit = f"<<<<<<< SEARCH\n    return sorted(\n=======\n    _n = {n}\n    return sorted(\n>>>>>>> REPLACE\n"
        return Reply(f"Idea: {n}\n{edit}")

    with FakeOpenAI(responder=tweak, models=("a-coder", "b-coder")) as server:
        models = [{"name": "a-coder", "base_url": server.url}, {"name": "b-coder", "base_url": server.url}]
        llm = {"models": models, "selection": "bandit", "concurrency": 1}
        first = api.evolve(toy_problem, archive=pg_url, budget=4, workers=1, evaluate_holdout=False, llm=llm)
        store = Archive.open(pg_url)
        before = {key: store.get_state(first.run_id, key) for key in (CHOOSER, SEARCH)}
        store.open_budget(first.run_id, 3)  # room for the joiner
        joined = api.join(pg_url, run_id=first.run_id, budget=3)
        after = {key: store.get_state(first.run_id, key) for key in (CHOOSER, SEARCH)}
        by_llm = [p for p in store.programs(first.run_id) if p.mutator.startswith("llm:")]
        store.close()
    assert joined.evaluated == 3 and len(by_llm) >= 5  # the joiner proposed with the models too
    assert before[CHOOSER] is not None and before[SEARCH] is not None
    assert after == before
