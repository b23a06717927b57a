"""The Ray executor against a real local Ray: same results as the local executor, end-to-end runs,
GPU placement by [resources], workers killed mid-evaluation (retried, or recorded as failed).

One Ray per module (start-up takes seconds): started in this process with a logical GPU, so GPU
placement is exercised without hardware; engines in subprocesses connect to it by address.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from adrs.archive.store import Archive
from adrs.config import RunConfig
from adrs.engine import Engine
from adrs.evaluate.runner import EvalSettings
from adrs.executors import ExecutorError, LocalExecutor
from adrs.executors.ray import RayExecutor  # imports Ray only when an executor starts
from adrs.mutate.offline import OfflineSource
from adrs.problem import ProblemError, Resources, load_problem

ADRS = [sys.executable, "-m", "adrs.cli"]

INITIAL = '''"""A constant the evaluator reads."""

# EVOLVE-BLOCK-START
VALUE = 3.0
# EVOLVE-BLOCK-END
'''

# Trusted test evaluator: sleeps, then reads the program text (no candidate process needed here).
EVALUATOR = """
import os
import time


def evaluate(program_path, *, stage="full", workdir=None, seed=0):
    time.sleep(SLEEP)
    text = open(program_path).read()
    return {
        "score": float(len(text) % 97),
        "metrics": {"gpu_visible": 1.0 if os.environ.get("CUDA_VISIBLE_DEVICES", "") not in ("", "-1") else 0.0},
    }
"""


def _problem(root: Path, name: str, sleep_s: float, resources: str = "") -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "problem.toml").write_text(
        f'[problem]\nname = "{name}"\n\n[[stages]]\nname = "full"\ntimeout_s = 60\n\n{resources}'
    )
    (folder / "initial.py").write_text(INITIAL)
    (folder / "evaluator.py").write_text(EVALUATOR.replace("SLEEP", repr(sleep_s)))
    return folder


def _ray():
    return pytest.importorskip("ray", reason="Ray is not installed (pip install 'adrs[ray]')")


def test_resources_table_is_validated_with_file_and_key(tmp_path):
    assert load_problem(_problem(tmp_path, "plain", 0.0)).resources == Resources(cpus=1.0, gpus=0.0, memory_mb=None)
    shared = load_problem(_problem(tmp_path, "shared", 0.0, "[resources]\ncpus = 0.5\ngpus = 0.25\nmemory_mb = 2048\n"))
    assert shared.resources == Resources(cpus=0.5, gpus=0.25, memory_mb=2048)
    bad = {
        "gpus = 1.5": r"problem.toml: resources.gpus: expected 0 to 1 or a whole number",
        "gpu = 1": r"problem.toml: unknown key resources.gpu ",
        "memory_mb = -1": r"problem.toml: resources.memory_mb: expected a positive whole number",
        "cpus = 'two'": r"problem.toml: resources.cpus: expected a number",
        "cpus = 0": r"problem.toml: resources.cpus: an evaluation needs some CPU or GPU",
    }
    for k, (line, message) in enumerate(bad.items()):
        with pytest.raises(ProblemError, match=message):
            load_problem(_problem(tmp_path, f"bad{k}", 0.0, f"[resources]\n{line}\n"))


def test_the_problem_travels_once_per_node_and_the_database_url_never(tmp_path):
    from adrs.executors.node import node_settings, pack_problem, unpack_problem

    folder = _problem(tmp_path, "bundled", 0.0)
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "evaluator.cpython-311.pyc").write_bytes(b"stale")
    problem = load_problem(folder)
    bundle = pack_problem(folder)
    first = unpack_problem(bundle, problem.fingerprint(), tmp_path / "node" / "problems")
    again = unpack_problem(bundle, problem.fingerprint(), tmp_path / "node" / "problems")
    assert first == again and first.name == "bundled"  # unpacked once; the folder keeps its name
    assert not (first / "__pycache__").exists()
    assert load_problem(first).fingerprint() == problem.fingerprint()
    secret = EvalSettings(archive_url="postgresql+psycopg://adrs:secret@db/adrs")
    assert node_settings(secret).archive_url is None
    local = EvalSettings(archive_url="sqlite:////tmp/a.sqlite")
    assert node_settings(local).archive_url == "sqlite:////tmp/a.sqlite"  # its files stay hidden from candidates


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray (2 CPUs, one logical GPU) in a short private folder; its GCS address."""
    ray = _ray()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    folder = tempfile.mkdtemp(prefix="adrs-rt-")
    if ray.is_initialized():
        ray.shutdown()
    try:
        ray.init(
            num_cpus=2,
            num_gpus=1,
            include_dashboard=False,
            _temp_dir=folder,
            object_store_memory=200 << 20,
            log_to_driver=False,
            logging_level="WARNING",
        )
    except Exception as exc:  # a machine where Ray cannot start: say why
        pytest.skip(f"a local Ray could not start here: {exc}")
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def _run(coroutine):
    return asyncio.run(coroutine)


def test_ray_executor_scores_like_the_local_executor(ray_cluster, toy_problem, tmp_path):
    problem = load_problem(toy_problem)
    executor = RayExecutor(run_dir=tmp_path / "run")
    executor.start(problem)
    try:
        settings = EvalSettings(seed=0)
        on_ray = _run(executor.evaluate(problem, problem.initial_code(), settings, label="initial"))
        local = _run(LocalExecutor().evaluate(problem, problem.initial_code(), settings))
        holdout = _run(executor.evaluate(problem, problem.initial_code(), settings, problem.holdout_stages))
    finally:
        executor.close()
    assert [(e.stage, e.ok, e.score, e.metrics, e.features) for e in on_ray] == [
        (e.stage, e.ok, e.score, e.metrics, e.features) for e in local
    ]
    assert [e.stage for e in on_ray] == ["quick", "full"]
    assert holdout[0].stage == "holdout" and holdout[0].ok
    broken = _run(_evaluate_once(problem, "def nope(:\n"))
    assert not broken[0].ok and broken[0].error_kind == "syntax"  # a candidate's failure is an answer, not an error


SPY = """def order_jobs(jobs):
    import os
    try:
        seen = os.listdir({path!r})  # a hidden folder is covered by an empty one, or absent
    except OSError:
        seen = []
    if seen:  # seeing into the folder spoils the answer: the score tells what the candidate saw
        return list(range(len(jobs)))
    return sorted(range(len(jobs)), key=lambda i: jobs[i][0] / jobs[i][1])
"""


def test_candidates_on_a_ray_node_see_neither_its_session_folder_nor_other_programs(ray_cluster, toy_problem, tmp_path):
    from adrs.sandbox.process import confinement_available

    if not confinement_available():
        pytest.skip("process candidates are not confined here (needs root and unshare): hidden paths do not apply")
    from ray._private import worker

    session = worker._global_node.get_temp_dir_path()
    problem = load_problem(toy_problem)
    executor = RayExecutor(run_dir=tmp_path / "run")
    executor.start(problem)
    try:
        scores = {
            name: _run(executor.evaluate(problem, SPY.format(path=path), EvalSettings(), label=name))[-1].score
            for name, path in (("session", session), ("node", str(tmp_path / "run" / "node")), ("control", "/usr/lib"))
        }
    finally:
        executor.close()
    assert scores["control"] < 100.0  # a folder that is not hidden is seen: the probe works
    assert scores["session"] == 100.0  # Ray's session folder on the node is covered
    assert scores["node"] == 100.0  # so are the unpacked problem and other programs' files


async def _evaluate_once(problem, code):
    executor = RayExecutor()
    executor.start(problem)
    try:
        return await executor.evaluate(problem, code, EvalSettings())
    finally:
        executor.close()


def test_end_to_end_run_on_ray_records_every_evaluation(ray_cluster, toy_problem, tmp_path):
    import adrs

    archive = tmp_path / "run.sqlite"
    summary = adrs.evolve(toy_problem, archive=archive, budget=10, workers=2, executor="ray")
    assert summary.evaluated == 10
    assert summary.best is not None and summary.best.score > 0
    assert summary.holdout_score is not None  # the holdout stage ran as a Ray task too
    with sqlite3.connect(archive) as db:
        counts = dict(db.execute("SELECT status, count(*) FROM programs WHERE migrated_from IS NULL GROUP BY status"))
        config = db.execute("SELECT config FROM runs").fetchone()[0]
    assert counts.get("pending", 0) == 0
    assert counts.get("evaluated", 0) + counts.get("failed", 0) == 10
    assert json.loads(config)["executor"] == "ray"  # stored: resume uses Ray again unless told otherwise


def test_gpu_problems_get_a_gpu_and_impossible_requests_fail_at_start(ray_cluster, tmp_path):
    gpu = load_problem(_problem(tmp_path, "gpu", 0.0, "[resources]\ngpus = 1\ncpus = 1\n"))
    cpu = load_problem(_problem(tmp_path, "cpu", 0.0))
    for problem, visible in ((gpu, 1.0), (cpu, 0.0)):
        executor = RayExecutor()
        executor.start(problem)
        try:
            result = _run(executor.evaluate(problem, problem.initial_code(), EvalSettings()))
        finally:
            executor.close()
        assert result[0].ok, result[0].error
        assert result[0].metrics["gpu_visible"] == visible  # Ray set CUDA_VISIBLE_DEVICES; the sandbox kept it
    too_big = load_problem(_problem(tmp_path, "big", 0.0, "[resources]\ngpus = 2\n"))
    with pytest.raises(ExecutorError, match=r"problem.toml: \[resources\] asks for .*GPU=2"):
        RayExecutor().start(too_big)


def _ray_worker_running_an_evaluation(timeout: float = 60) -> int:
    """The pid of the Ray worker process whose sandboxed evaluation worker is running now."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if b"adrs.evaluate.worker" in cmdline or _forked_warm_worker(int(entry.name), cmdline):
                parent = _ray_ancestor(int(entry.name))
                if parent is not None:
                    return parent
        time.sleep(0.05)
    raise AssertionError("no evaluation started under a Ray worker")


def _wait_until_dead(pid: int, timeout: float = 30) -> None:
    """Until `pid` is no longer a live Ray worker (gone, or a zombie with an empty command line)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if not Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"ray::adrs:"):
                return
        except OSError:
            return
        time.sleep(0.02)
    raise AssertionError(f"the killed Ray worker {pid} is still running")


def _forked_warm_worker(pid: int, cmdline: bytes) -> bool:
    """A worker forked by a warm server carries the server's command line; the server itself (idle
    between evaluations) is the one whose parent is not a warm server."""
    if b"adrs.evaluate.warm_server" not in cmdline:
        return False
    try:
        parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        return b"adrs.evaluate.warm_server" in Path(f"/proc/{parent}/cmdline").read_bytes()
    except (OSError, ValueError, IndexError):
        return False


def _ray_ancestor(pid: int) -> int | None:
    for _ in range(6):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            pid = int(stat.rsplit(")", 1)[1].split()[1])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            return None
        # A Ray worker titles itself ray::<task name>; the raylet (an orphan's new parent) does not.
        if cmdline.startswith(b"ray::adrs:"):
            return pid
    return None


def test_a_worker_killed_mid_evaluation_is_retried(ray_cluster, tmp_path):
    problem = load_problem(_problem(tmp_path, "slow", 2.0))
    executor = RayExecutor(max_retries=2)
    executor.start(problem)

    async def scenario():
        task = asyncio.create_task(executor.evaluate(problem, problem.initial_code(), EvalSettings(), label="kill-me"))
        victim = await asyncio.to_thread(_ray_worker_running_an_evaluation)
        os.kill(victim, signal.SIGKILL)
        await asyncio.to_thread(_wait_until_dead, victim)  # else the dying victim is found again
        successor = await asyncio.to_thread(_ray_worker_running_an_evaluation)
        return victim, successor, await task

    try:
        victim, successor, result = _run(scenario())
    finally:
        executor.close()
    assert successor != victim  # the task ran again in another worker process
    assert result[0].ok and result[0].score == float(len(problem.initial_code()) % 97)


def test_a_worker_killed_without_retries_is_recorded_as_failed_not_lost(ray_cluster, tmp_path):
    problem = load_problem(_problem(tmp_path, "slow", 2.0))
    archive = Archive.open(tmp_path / "a.sqlite")
    config = RunConfig(budget=1, workers=1, evaluate_holdout=False)
    run = archive.create_run(problem.name, str(problem.root), problem.fingerprint(), 0, config.to_dict())
    executor = RayExecutor(max_retries=0)
    executor.start(problem)

    async def scenario():
        engine = Engine(problem, archive, run, config, OfflineSource(), executor=executor)
        task = asyncio.create_task(engine.run())
        os.kill(await asyncio.to_thread(_ray_worker_running_an_evaluation), signal.SIGKILL)
        return await task

    try:
        _run(scenario())
    finally:
        executor.close()
    programs = archive.programs(run.id)
    assert [p.status for p in programs] == ["failed"]  # recorded, not left pending, not dropped
    assert programs[0].error_kind == "nonzero_exit"
    assert "Ray worker" in archive.evaluations(programs[0].id)[0].error
    archive.close()


def test_cli_run_on_an_existing_cluster_by_address(ray_cluster, toy_problem, tmp_path):
    archive = tmp_path / "cluster.sqlite"
    args = [
        "run",
        str(toy_problem),
        "--executor",
        "ray",
        "--ray-address",
        ray_cluster,
        "--budget",
        "6",
        "--workers",
        "2",
    ]
    done = subprocess.run(
        ADRS + args + ["--archive", str(archive), "--quiet"], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with sqlite3.connect(archive) as db:
        evaluated = db.execute(
            "SELECT count(*) FROM programs WHERE migrated_from IS NULL AND status != 'pending'"
        ).fetchone()[0]
    assert evaluated == 6
    assert not (tmp_path / "cluster.sqlite-files" / "run1" / "ray").exists()  # the cluster's files stay the cluster's


@pytest.mark.slow
def test_local_ray_keeps_its_files_in_the_run_directory(toy_problem, tmp_path):
    """Without an address the CLI starts its own Ray: session files under the run's folder, no dashboard."""
    _ray()
    home = Path.home() / ".ray"
    home_before = home.exists() and sorted(p.name for p in home.iterdir())
    system_ray = Path(tempfile.gettempdir()) / "ray"
    system_before = system_ray.exists() and sorted(p.name for p in system_ray.iterdir())
    archive = tmp_path / "local.sqlite"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    args = [
        "run",
        str(toy_problem),
        "--executor",
        "ray",
        "--budget",
        "4",
        "--workers",
        "2",
        "--archive",
        str(archive),
        "--quiet",
    ]
    done = subprocess.run(ADRS + args, cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    sessions = [p for p in (tmp_path / "local.sqlite-files" / "run1" / "ray").glob("session_*") if not p.is_symlink()]
    assert sessions, "the local Ray's session folder is not in the run's directory"
    head_log = (sessions[0] / "logs" / "dashboard.log").read_text()  # Ray's minimal head process
    assert "http server disabled" in head_log  # include_dashboard=False: no web dashboard
    assert "Usage reporting is disabled" in head_log
    assert (home.exists() and sorted(p.name for p in home.iterdir())) == home_before
    assert (system_ray.exists() and sorted(p.name for p in system_ray.iterdir())) == system_before


def test_sigkill_of_an_engine_on_ray_then_resume_loses_nothing(ray_cluster, toy_problem, tmp_path):
    archive = tmp_path / "crash.sqlite"
    ray_args = ["--executor", "ray", "--ray-address", ray_cluster, "--workers", "2", "--quiet"]
    proc = subprocess.Popen(
        ADRS + ["run", str(toy_problem), "--budget", "200", "--archive", str(archive), *ray_args],
        cwd=tmp_path,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def query(sql: str) -> list[tuple]:
        try:
            with sqlite3.connect(f"file:{archive}?mode=ro", uri=True, timeout=30) as db:
                return db.execute(sql).fetchall()
        except sqlite3.OperationalError:
            return []

    def evaluated() -> int:
        rows = query("SELECT count(*) FROM programs WHERE migrated_from IS NULL AND status != 'pending'")
        return rows[0][0] if rows else 0

    deadline = time.monotonic() + 300  # generous: a busy 2-core machine is slow
    while evaluated() < 8:
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)  # the engine only: its Ray tasks die with their driver
    proc.wait()
    before = evaluated()
    pending = query("SELECT count(*) FROM programs WHERE status = 'pending'")[0][0]
    done = subprocess.run(
        ADRS + ["resume", str(archive), "--budget", "10", "--quiet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert pending > 0 and query("SELECT count(*) FROM programs WHERE status = 'pending'")[0][0] == 0
    assert evaluated() == before + 10  # the resume (on Ray again: the stored executor) spent exactly its budget
    duplicates = query(
        "SELECT count(*) FROM (SELECT program_id, stage FROM evaluations "
        "GROUP BY program_id, stage HAVING count(*) > 1)"
    )
    assert duplicates[0][0] == 0
