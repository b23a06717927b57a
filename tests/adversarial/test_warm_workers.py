"""Warm workers (adrs/evaluate/warm.py): each stage's worker is forked by a pre-started server.

What must hold as for a cold worker: nothing one evaluation did is seen by the next (module state,
environment, builtins), the worker holds only its own descriptors (no socket of the server), its
environment, folder, session, network namespace, pids cgroup and rlimits are its stage's own,
`random` is not the server's frozen state; a server that
dies (between stages or under one) costs nothing but time; the opt-outs start no server. The
engine dying takes the server with it: tests/adversarial/test_engine_killed.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from adrs.evaluate import warm
from adrs.evaluate.runner import EvalSettings, evaluate_stage
from adrs.problem import ProblemError, load_problem
from adrs.sandbox.cgroup import pids_cgroup_available
from adrs.sandbox.process import confinement_available, network_namespace_available

# An OpenEvolve-style evaluator: the candidate runs inside the worker itself, where warm state would show.
EVALUATOR = """import importlib.util, os, random, resource, time


def evaluate(program_path, *, workdir):
    spec = importlib.util.spec_from_file_location("observed_candidate", program_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    seen = module.run()
    sockets = 0
    zygote = os.environ.get("ADRS_ZYGOTE_FD")  # the candidate zygote's socket: the worker's backend uses it
    for fd in os.listdir("/proc/self/fd"):
        if fd == zygote:
            continue
        try:
            sockets += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return {"score": 1.0, "metrics": {
        "seen": float(seen),
        "parent": float(os.getppid()),
        "pid": float(os.getpid()),
        "random": random.random(),
        "sockets": float(sockets),
        "zygote": float(zygote is not None and os.readlink(f"/proc/self/fd/{zygote}").startswith("socket:")),
        "fds": float(len(os.listdir("/proc/self/fd"))),
        "home": float(os.environ.get("HOME") == workdir and os.getcwd() == os.path.realpath(workdir)),
        "tag": float(int(os.environ["ADRS_SANDBOX_TAG"], 16) % 1000003),
        "cpu_limit": float(resource.getrlimit(resource.RLIMIT_CPU)[0]),
        "netns": float(os.stat("/proc/self/ns/net").st_ino),
        "session": float(os.getsid(0) == os.getpid()),
        "cgroup": float(any(":pids:/adrs/" in line for line in open("/proc/self/cgroup"))),
    }}
"""
# Leaves a mark everywhere a forked worker could carry it to the next one, and counts the marks it finds.
PLANTER = """import builtins, os, sys, time


def run():
    import adrs.evaluate.worker as worker
    import adrs.problemkit.harness as harness
    marks = (getattr(worker, "PLANTED", None), getattr(harness, "PLANTED", None), os.environ.get("ADRS_PLANTED"),
             getattr(builtins, "ADRS_PLANTED", None), sys.modules.get("adrs_planted"))
    worker.PLANTED = harness.PLANTED = builtins.ADRS_PLANTED = 1
    os.environ["ADRS_PLANTED"] = "1"
    sys.modules["adrs_planted"] = worker
    time.sleep(SLEEP)
    return sum(mark is not None for mark in marks)
"""


def _problem(root: Path, sleep_s: float = 0.0):
    folder = root / "observed"
    folder.mkdir()
    (folder / "problem.toml").write_text('[problem]\nname = "observed"\n\n[[stages]]\nname = "full"\ntimeout_s = 60\n')
    (folder / "initial.py").write_text("def run():\n    return 0\n")
    (folder / "evaluator.py").write_text(EVALUATOR)
    program = root / "planter.py"
    program.write_text(PLANTER.replace("SLEEP", repr(sleep_s)))
    return load_problem(folder), program


def _evaluate(problem, program, warm_start: bool = True):
    settings = EvalSettings(warm=warm_start)
    evaluation = asyncio.run(evaluate_stage(problem, program, problem.stages[0], settings))
    assert evaluation.ok, evaluation.error
    return evaluation.metrics


@pytest.fixture(autouse=True)
def _no_servers_left():
    warm.close_all()
    yield
    warm.close_all()


def test_nothing_one_evaluation_did_is_seen_by_the_next(tmp_path):
    problem, program = _problem(tmp_path)
    first = _evaluate(problem, program)
    second = _evaluate(problem, program)
    servers = warm.server_pids()
    assert len(servers) == 1
    assert first["parent"] == second["parent"] == servers[0], "the worker was not forked by the warm server"
    assert (first["seen"], second["seen"]) == (0.0, 0.0), "a mark of an earlier evaluation was visible"
    assert first["random"] != second["random"], "the workers share the server's random state"
    assert first["tag"] != second["tag"], "the stage's environment was not the worker's"
    if network_namespace_available():  # the server's namespace lives: a worker sharing it has its number
        server_netns = os.stat(f"/proc/{servers[0]}/ns/net").st_ino
        assert server_netns not in (first["netns"], second["netns"]), "the worker kept the server's namespace"
    for metrics in (first, second):
        assert metrics["cpu_limit"] == 60 * 2 + 5, "the stage's RLIMIT_CPU was not set in the worker"
        assert metrics["session"] == 1.0, "the worker does not lead its own session"
        assert metrics["cgroup"] == float(pids_cgroup_available()), "the worker is not in its stage's pids cgroup"
        assert metrics["sockets"] == 0.0, "the worker holds a socket (the server's control socket?)"
        assert metrics["zygote"] == float(confinement_available()), "no candidate zygote where candidates are confined"
        # stdin, stdout, stderr, result pipe, listdir's own, the module file (and the zygote's socket)
        assert metrics["fds"] <= 6.0 + metrics["zygote"], metrics
        assert metrics["home"] == 1.0, "HOME and cwd are not the stage's folder"


def test_a_stage_forks_its_worker_before_other_work_on_the_loop_runs(tmp_path, monkeypatch):
    # The engine makes its next proposal while a stage runs (proposer.py): a stage that yields to
    # the loop before its worker is forked puts that proposal in front of the evaluation instead.
    problem, program = _problem(tmp_path)
    _evaluate(problem, program)  # the server is started once; this is about a stage on a warm one
    order: list[str] = []
    forked = warm.start_worker

    async def start_worker(*args, **kwargs):
        order.append("worker asked for")
        return await forked(*args, **kwargs)

    monkeypatch.setattr(warm, "start_worker", start_worker)

    async def other_work() -> None:
        order.append("other work")

    async def both():
        stage = asyncio.create_task(evaluate_stage(problem, program, problem.stages[0], EvalSettings()))
        await asyncio.gather(stage, asyncio.create_task(other_work()))
        return stage.result()

    assert asyncio.run(both()).ok
    assert order == ["worker asked for", "other work"]


def test_concurrent_evaluations_do_not_see_each_other(tmp_path):
    problem, program = _problem(tmp_path, sleep_s=1.0)

    async def both():
        settings = EvalSettings()
        return await asyncio.gather(*(evaluate_stage(problem, program, problem.stages[0], settings) for _ in range(2)))

    evaluations = asyncio.run(both())
    assert all(e.ok for e in evaluations), [e.error for e in evaluations]
    assert [e.metrics["seen"] for e in evaluations] == [0.0, 0.0]
    if network_namespace_available():  # both lived at once: one shared namespace would have one number
        assert evaluations[0].metrics["netns"] != evaluations[1].metrics["netns"]
    assert evaluations[0].metrics["parent"] == evaluations[1].metrics["parent"] == warm.server_pids()[0]


def test_a_server_killed_between_evaluations_is_restarted(tmp_path):
    problem, program = _problem(tmp_path)
    first = _evaluate(problem, program)
    os.kill(int(first["parent"]), signal.SIGKILL)
    _wait_for(lambda: not warm.server_pids(), 10)
    second = _evaluate(problem, program)
    assert second["seen"] == 0.0
    assert second["parent"] != first["parent"] and second["parent"] == warm.server_pids()[0]


def test_a_server_killed_under_an_evaluation_costs_only_time(tmp_path):
    problem, program = _problem(tmp_path, sleep_s=2.0)
    _evaluate(problem, program)  # the server is up
    server = warm.server_pids()[0]
    handed = _stage_started(server)

    def kill_while_its_worker_runs():
        assert _wait_for(handed, 30), "the warm worker never started"
        os.kill(server, signal.SIGKILL)

    async def evaluate_and_kill():
        settings = EvalSettings()
        evaluation = asyncio.create_task(evaluate_stage(problem, program, problem.stages[0], settings))
        await asyncio.to_thread(kill_while_its_worker_runs)
        return await evaluation

    evaluation = asyncio.run(evaluate_and_kill())
    assert evaluation.ok, evaluation.error  # the stage ran again, cold: the engine is its worker's parent
    assert evaluation.metrics["parent"] == os.getpid()
    assert evaluation.metrics["seen"] == 0.0


def test_a_stopped_server_does_not_hang_the_stage(tmp_path):
    # An in-process candidate may SIGSTOP its parent: the stage still ends at its deadline (the
    # runner's clock), and the next stage gets a new server.
    problem, program = _problem(tmp_path, sleep_s=60.0)
    toml = problem.root / "problem.toml"
    toml.write_text(toml.read_text().replace("timeout_s = 60", "timeout_s = 3"))
    problem = load_problem(problem.root)
    fast = tmp_path / "fast.py"
    fast.write_text("def run():\n    return 0\n")
    first = _evaluate(problem, fast)
    server = int(first["parent"])
    handed = _stage_started(server)

    def stop_while_its_worker_runs():
        assert _wait_for(handed, 30), "the warm worker never started"
        os.kill(server, signal.SIGSTOP)

    async def evaluate_and_stop():
        evaluation = asyncio.create_task(evaluate_stage(problem, program, problem.stages[0], EvalSettings()))
        await asyncio.to_thread(stop_while_its_worker_runs)
        return await evaluation

    started = time.monotonic()
    try:
        evaluation = asyncio.run(evaluate_and_stop())
    finally:
        with contextlib.suppress(ProcessLookupError):  # gone: killed once it stopped answering
            os.kill(server, signal.SIGCONT)
    assert (evaluation.ok, evaluation.error_kind) == (False, "timeout"), evaluation.error
    assert time.monotonic() - started < 45
    after = _evaluate(problem, fast)
    assert after["parent"] != server and after["parent"] == warm.server_pids()[0]


def test_the_opt_outs_start_no_server(tmp_path):
    problem, program = _problem(tmp_path)
    metrics = _evaluate(problem, program, warm_start=False)
    assert metrics["parent"] == os.getpid() and warm.server_pids() == []
    toml = problem.root / "problem.toml"
    toml.write_text(toml.read_text().replace('name = "observed"', 'name = "observed"\nwarm_start = false'))
    problem = load_problem(problem.root)
    assert problem.warm_start is False
    metrics = _evaluate(problem, program)
    assert metrics["parent"] == os.getpid() and warm.server_pids() == []


def test_stages_evaluated_off_the_main_thread_run_cold(tmp_path):
    # A server dies with the thread that started it (PR_SET_PDEATHSIG): none is started from a
    # thread that may end before the engine does.
    problem, program = _problem(tmp_path)
    done: list = []
    thread = threading.Thread(target=lambda: done.append(_evaluate(problem, program)))
    thread.start()
    thread.join(120)
    assert done and done[0]["parent"] == os.getpid() and warm.server_pids() == []


def test_warm_start_must_be_true_or_false(tmp_path):
    problem, _program = _problem(tmp_path)
    toml = problem.root / "problem.toml"
    toml.write_text(toml.read_text().replace('name = "observed"', 'name = "observed"\nwarm_start = "no"'))
    with pytest.raises(ProblemError, match="problem.warm_start"):
        load_problem(problem.root)


def _children(pid: int) -> list[int]:
    """The server's workers (not its candidate zygote, which it starts before any worker)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == pid and fields[0] != "Z" and not _is_zygote(int(entry)):
                found.append(int(entry))
    return found


def _wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def test_runs_one_after_another_stay_warm(tmp_path, capfd):
    """Each run ends its servers (close_all): a deliberate end is not a loss, so the fifth run in
    one process still forks its workers from a server and nothing says a server was lost."""
    problem, program = _problem(tmp_path)
    for _ in range(warm.MAX_STARTS + 1):
        metrics = _evaluate(problem, program)
        assert metrics["parent"] in warm.server_pids()  # forked by this run's server, not started cold
        warm.close_all()
    assert "was lost" not in capfd.readouterr().err


def _is_zygote(pid: int) -> bool:
    try:
        return b"adrs.sandbox.zygote" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


# numpy, imported by the server once (adrs/sandbox/preload.py): what a worker sees of it.
NUMPY_EVALUATOR = """import os, resource, sys


def _mapped():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))


def evaluate(program_path, *, workdir):
    loaded = "numpy" in sys.modules
    headroom = resource.getrlimit(resource.RLIMIT_AS)[0] - _mapped()
    import numpy
    return {"score": 1.0, "metrics": {"loaded": float(loaded), "headroom_mb": headroom / 2**20,
            "random": float(numpy.random.random()), "parent": float(os.getppid())}}
"""


def test_numpy_is_imported_once_per_server_and_each_worker_has_its_own(tmp_path, monkeypatch):
    problem, program = _problem(tmp_path)
    (problem.root / "evaluator.py").write_text(NUMPY_EVALUATOR)
    first, second = _evaluate(problem, program), _evaluate(problem, program)
    assert first["parent"] == second["parent"] == warm.server_pids()[0]
    assert (first["loaded"], second["loaded"]) == (1.0, 1.0), "numpy was not preloaded by the warm server"
    assert first["random"] != second["random"], "the workers share the server's numpy random state"
    cold = _evaluate(problem, program, warm_start=False)
    assert cold["loaded"] == 0.0 and cold["parent"] == os.getpid()
    # The preload's mappings (≈ 95 MB) are added to the worker's address-space limit: an evaluator
    # keeps at least the headroom a cold worker has (within what the two starts map differently).
    assert first["headroom_mb"] >= cold["headroom_mb"] - 24, (first["headroom_mb"], cold["headroom_mb"])
    monkeypatch.setenv("ADRS_NO_PRELOAD", "1")
    off = _evaluate(problem, program)
    assert off["loaded"] == 0.0 and off["parent"] in warm.server_pids() and off["parent"] != first["parent"]
    assert abs(off["headroom_mb"] - first["headroom_mb"]) < 24, (off["headroom_mb"], first["headroom_mb"])


def test_no_numpy_preload_where_evaluations_get_several_blas_threads(tmp_path, monkeypatch):
    # numpy would start its BLAS threads in the server, which then could not fork: it is not preloaded
    monkeypatch.setenv("ADRS_THREADS_PER_EVAL", "2")
    problem, program = _problem(tmp_path)
    (problem.root / "evaluator.py").write_text(NUMPY_EVALUATOR)
    metrics = _evaluate(problem, program)
    assert metrics["loaded"] == 0.0 and metrics["parent"] == warm.server_pids()[0], "the stage did not run warm"


def _set_up(spare: int, server: int) -> bool:
    """Whether a spare worker finished its set-up (the network namespace comes last, where there is one)."""
    if not network_namespace_available():
        return os.getsid(spare) == spare
    return os.readlink(f"/proc/{spare}/ns/net") != os.readlink(f"/proc/{server}/ns/net")


def _stage_started(server: int):
    """A condition that turns true once the server handed the next stage to its worker: that worker
    is the child forked one stage ahead, and right after the hand-over the server forks the next
    one, so a child appears that is not there now (only the spare is, once the last stage ended)."""
    before = {_spare_of(server)}
    return lambda: bool(set(_children(server)) - before)


def _spare_of(server: int) -> int:
    """The server's one child that is not running a stage: the next stage's worker, forked ahead."""
    assert _wait_for(lambda: len(_children(server)) == 1, 10), _children(server)  # the last worker is gone
    (spare,) = _children(server)
    return spare


def test_each_worker_is_the_child_forked_one_stage_ahead(tmp_path):
    # The server forks the next stage's worker while the current one runs, and that child does what
    # needs no stage (death signal, the server's descriptors let go, session, network namespace).
    problem, program = _problem(tmp_path)
    _evaluate(problem, program)
    (server,) = warm.server_pids()
    for _ in range(3):
        spare = _spare_of(server)

        assert _wait_for(lambda pid=spare: _set_up(pid, server), 10), "the spare worker did not set itself up"
        assert os.getsid(spare) == spare
        held = sorted(int(fd) for fd in os.listdir(f"/proc/{spare}/fd"))
        # the standard streams, its own socket, and the candidate zygote's where there is one
        assert held[:3] == [0, 1, 2] and len(held) in (4, 5), held
        assert all(os.readlink(f"/proc/{spare}/fd/{fd}").startswith("socket:") for fd in held[3:])
        metrics = _evaluate(problem, program)
        assert metrics["pid"] == spare, "the stage's worker was not the child forked ahead"
        assert metrics["sockets"] == 0.0 and metrics["session"] == 1.0


def test_a_spare_worker_that_died_before_its_stage_costs_nothing(tmp_path):
    problem, program = _problem(tmp_path)
    _evaluate(problem, program)
    (server,) = warm.server_pids()
    spare = _spare_of(server)
    os.kill(spare, signal.SIGKILL)
    assert _wait_for(lambda: not Path(f"/proc/{spare}").exists(), 10), "the server did not reap its spare"
    metrics = _evaluate(problem, program)  # a worker forked for the stage, as before spares
    assert metrics["parent"] == server and metrics["pid"] != spare
    assert _spare_of(server) not in (spare, metrics["pid"])  # and a spare again for the next
