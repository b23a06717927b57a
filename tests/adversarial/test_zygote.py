"""The candidate zygote (adrs/sandbox/zygote.py): confined candidates forked from a pre-started
interpreter must be what the cold chain (unshare + confine.py in a fresh interpreter) makes.

A real zygote is started here as a warm server starts one, and this process's `process` backend is
pointed at it as a warm worker's is (ADRS_ZYGOTE_FD). What must hold: everything a candidate can
observe of its sandbox is the cold chain's (capabilities, seccomp, no_new_privs, rlimits, root,
/dev, network, namespaces, descriptors, environment, uid, sys.path and flags); nothing one
candidate did is seen by the next; wall-clock and CPU limits still end a candidate, and the zygote
lives on; a session's channel reaches the candidate; a worker that dies takes its candidate with
it; a zygote that dies costs a failed run at most, and the next candidate starts cold. The whole
attack suite also runs through a zygote (tests/adversarial/test_attacks.py, `warm`).
"""

from __future__ import annotations

import asyncio
import os
import resource
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from adrs.evaluate import warm
from adrs.evaluate.runner import EvalSettings, evaluate_stage
from adrs.problem import load_problem
from adrs.problemkit import ProcessLimits, open_session, run_candidate, run_candidates
from adrs.sandbox import zygote_launch
from adrs.sandbox.process import confinement_available
from adrs.sandbox.zygote_child import trees_attach

pytestmark = pytest.mark.skipif(
    not confinement_available(),
    reason="candidates are not confined by the process backend here: there is no zygote",
)

DRIVER = "def run(candidate, payload):\n    return candidate.observe(payload)\n"
# Everything a candidate can see of its sandbox, except what differs by design from run to run.
OBSERVER = textwrap.dedent(
    """
    import json, os, resource, socket, sys

    def _status(*keys):
        with open("/proc/self/status") as f:
            return {k: v.strip() for k, v in (line.split(":", 1) for line in f) if k in keys}

    def observe(payload):
        limits = {name: resource.getrlimit(getattr(resource, name)) for name in
                  ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_NOFILE", "RLIMIT_FSIZE", "RLIMIT_NPROC", "RLIMIT_CORE")}
        try:
            socket.create_connection(("127.0.0.1", 9), timeout=1).close()
            network = "connected"
        except OSError as exc:
            network = type(exc).__name__
        with open("/proc/net/dev") as f:
            interfaces = sorted(line.split(":")[0].strip() for line in f.readlines()[2:])
        return {
            "status": _status("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp", "Uid", "Gid"),
            "limits": limits,
            "root": sorted(os.listdir("/")),
            "dev": sorted(os.listdir("/dev")),
            "pids": sorted(p for p in os.listdir("/proc") if p.isdigit()),
            "pid": os.getpid(),
            "pgid_is_sid": os.getpgid(0) == os.getsid(0),
            "network": network,
            "interfaces": interfaces,
            "fds": sorted(os.listdir("/proc/self/fd")),
            "env": sorted(os.environ),
            "cwd_is_home": os.getcwd() == os.environ["HOME"],
            "path": sys.path,
            "flags": [sys.flags.isolated, sys.flags.dont_write_bytecode, sys.flags.ignore_environment],
            "executable": sys.executable,
            "argv": [os.path.basename(a) for a in sys.argv],
            "hostname": os.uname().nodename,
            "umask": os.umask(0o22),
            "init": open("/proc/1/cmdline").read(),
        }
    """
)
# Leaves marks wherever a forked candidate could carry one to the next, and counts those it finds.
PLANTER = textwrap.dedent(
    """
    import builtins, json, os, sys

    def observe(payload):
        found = [getattr(json, "PLANTED", None), getattr(builtins, "ADRS_PLANTED", None),
                 os.environ.get("ADRS_PLANTED"), sys.modules.get("adrs_planted"),
                 os.path.exists("/tmp/planted") or None, os.path.exists("/dev/shm/planted") or None]
        json.PLANTED = builtins.ADRS_PLANTED = 1
        os.environ["ADRS_PLANTED"] = "1"
        sys.modules["adrs_planted"] = json
        for path in ("/tmp/planted", "/dev/shm/planted"):
            open(path, "w").close()
        import random
        with open("/proc/1/cmdline") as f:
            init = f.read()
        return {"found": sum(mark is not None for mark in found), "random": random.random(), "init": init}
    """
)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _observe(tmp_path: Path, program: str, limits: ProcessLimits | None = None):
    return run_candidate(_write(tmp_path, "candidate.py", program), _write(tmp_path, "driver.py", DRIVER), None,
                         limits=limits, workdir=tmp_path)  # fmt: skip


def _forked(run) -> bool:
    """Whether the candidate ran as a child of the zygote (its PID 1's command line says so)."""
    return "adrs.sandbox.zygote" in run.value["init"]


def test_a_forked_candidate_sees_what_a_cold_one_sees(tmp_path, zygote, monkeypatch):
    # The first launch's child is forked for it; the second's was forked one launch ahead, with its
    # root built before its launch where the kernel attaches a home that comes later (move_mount).
    forked, ahead = _observe(tmp_path, OBSERVER), _observe(tmp_path, OBSERVER)
    assert forked.ok and ahead.ok, (forked.error, ahead.error)
    monkeypatch.setenv("ADRS_NO_ZYGOTE", "1")
    cold = _observe(tmp_path, OBSERVER)
    assert cold.ok, cold.error
    assert _forked(forked) and _forked(ahead) and "confine.py" in cold.value.pop("init")
    for run in (forked, ahead, cold):
        # The runner's result pipe: CHANNEL_FD (3) in a forked candidate, the number the worker
        # passed it under in a cold one; the others (the result file, the listing's own) follow.
        fds = sorted(map(int, run.value.pop("fds")))
        assert len(fds) == 6 and fds[:3] == [0, 1, 2], fds
    forked.value.pop("init")
    ahead.value.pop("init")
    assert forked.value == cold.value
    assert ahead.value == cold.value
    seen = forked.value
    assert seen["status"]["CapEff"] == seen["status"]["CapBnd"] == "0000000000000000"
    assert (seen["status"]["NoNewPrivs"], seen["status"]["Seccomp"]) == ("1", "2")
    assert seen["pid"] == 1 and seen["pids"] == ["1"], "the candidate is not alone in its PID namespace"
    assert seen["network"] != "connected" and seen["interfaces"] == ["lo"]


def test_nothing_one_forked_candidate_did_is_seen_by_the_next(tmp_path, zygote):
    first, second = _observe(tmp_path, PLANTER), _observe(tmp_path, PLANTER)
    assert first.ok and second.ok, (first.error, second.error)
    assert (first.value["found"], second.value["found"]) == (0, 0)
    assert first.value["random"] != second.value["random"], "the candidates share the zygote's random state"
    assert _forked(first) and _forked(second)


def test_each_forked_candidate_is_born_pid_1_and_the_zygote_keeps_its_own_namespace(tmp_path, zygote):
    # The zygote unshares CLONE_NEWPID for its next child only: were it not to go back, its next
    # child would be born into the namespace of a candidate still running.
    own = os.readlink(f"/proc/{zygote.pid}/ns/pid")
    for _ in range(3):
        run = _observe(tmp_path, OBSERVER)
        assert run.ok and _forked(run), run.error
        assert run.value["pid"] == 1 and run.value["pids"] == ["1"], run.value["pids"]
        assert os.readlink(f"/proc/{zygote.pid}/ns/pid_for_children") == own
    assert os.readlink(f"/proc/{zygote.pid}/ns/pid") == own


def test_limits_end_a_forked_candidate_and_the_zygote_lives_on(tmp_path, zygote):
    looping = "def observe(payload):\n    while True:\n        pass\n"
    wall = _observe(tmp_path, looping, ProcessLimits(timeout_s=1.0, cpu_s=30))
    assert (wall.ok, wall.error_kind) == (False, "timeout"), wall.error
    cpu = _observe(tmp_path, looping, ProcessLimits(timeout_s=30.0, cpu_s=1))
    assert (cpu.ok, cpu.error_kind) == (False, "timeout"), cpu.error
    assert "CPU-time limit" in cpu.error, "the zygote's CPU accounting did not reach the harness"
    assert zygote.poll() is None
    after = _observe(tmp_path, PLANTER)
    assert after.ok and _forked(after), after.error


def test_a_session_channel_reaches_a_forked_candidate(tmp_path, zygote):
    driver = _write(
        tmp_path, "session_driver.py", "def handle(candidate, message):\n    return candidate.twice(message)\n"
    )
    program = _write(tmp_path, "twice.py", "def twice(x):\n    return [2 * x, open('/proc/1/cmdline').read()]\n")
    with open_session(program, driver, None) as session:
        doubled, init = session.call(21).raise_for_failure()
    assert doubled == 42 and "adrs.sandbox.zygote" in init


def test_a_dead_worker_takes_its_forked_candidate_with_it(tmp_path, zygote):
    # A worker (its own process, holding a copy of the zygote's socket) starts a sleeping candidate
    # and is killed: the zygote sees the launch's socket close and kills the candidate.
    fd = int(os.environ[zygote_launch.ZYGOTE_FD_ENV])
    program = _write(tmp_path, "sleeper.py", "import time\n\ndef observe(payload):\n    time.sleep(300)\n")
    worker = _write(tmp_path, "worker.py", textwrap.dedent(f"""
        import sys, time
        from adrs.problemkit import harness
        real_start = harness._start
        def announcing(*args, **kwargs):
            running = real_start(*args, **kwargs)
            print(running.handle.pid, flush=True)
            return running
        harness._start = announcing
        harness.run_candidate({str(program)!r}, {str(_write(tmp_path, "driver.py", DRIVER))!r}, None,
                              workdir={str(tmp_path)!r})
    """))  # fmt: skip
    env = {**os.environ, zygote_launch.ZYGOTE_FD_ENV: str(fd)}
    proc = subprocess.Popen([sys.executable, str(worker)], stdout=subprocess.PIPE, pass_fds=(fd,), env=env, text=True)
    candidate = int(proc.stdout.readline())
    assert Path(f"/proc/{candidate}").exists()
    proc.kill()
    proc.wait(10)
    deadline = time.monotonic() + 20
    while Path(f"/proc/{candidate}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{candidate}").exists(), "the candidate outlived its worker"
    assert zygote.poll() is None


def test_a_dead_zygote_costs_one_run_and_the_next_starts_cold(tmp_path, zygote):
    sleeper = "import time\n\ndef observe(payload):\n    time.sleep(300)\n"

    def kill_soon() -> None:
        time.sleep(1.0)
        zygote.send_signal(signal.SIGKILL)

    killer = threading.Thread(target=kill_soon)
    killer.start()
    began = time.monotonic()
    during = _observe(tmp_path, sleeper, ProcessLimits(timeout_s=60.0))
    killer.join()
    assert not during.ok and time.monotonic() - began < 30, during
    assert zygote_launch._gone
    after = _observe(tmp_path, PLANTER)
    assert after.ok, after.error
    assert not _forked(after) and "confine.py" in after.value["init"]


def test_a_warm_server_replaces_a_zygote_that_died(toy_problem):
    # Engine-level: a warm worker's candidate reports (through its score) whether PID 1 of its
    # namespace is a zygote's child; the server's zygote is killed between two stages.
    program = toy_problem / "probe.py"
    program.write_text(
        "def order_jobs(jobs):\n"
        "    with open('/proc/1/cmdline', 'rb') as f:\n"
        "        if b'adrs.sandbox.zygote' not in f.read():\n"
        "            return sorted(range(len(jobs)), key=lambda i: jobs[i][0] * 1.0)\n"
        "    return sorted(range(len(jobs)), key=lambda i: jobs[i][0] / jobs[i][1])\n"
    )
    problem = load_problem(toy_problem)

    def forked_stage() -> bool:
        evaluation = asyncio.run(evaluate_stage(problem, program, problem.stage("quick"), EvalSettings()))
        assert evaluation.ok, evaluation.error
        return evaluation.score == 100.0

    try:
        assert forked_stage()
        (server,) = warm.server_pids()
        (first,) = _zygotes_of(server)
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while _zygotes_of(server) in ([], [first]) and time.monotonic() < deadline:
            time.sleep(0.05)
        (second,) = _zygotes_of(server)
        assert second != first
        assert forked_stage(), "the stage after the zygote died did not get the new one"
        assert warm.server_pids() == [server]
    finally:
        warm.close_all()


def test_the_cpu_time_of_forked_candidates_reaches_the_engine(toy_problem):
    # The zygote, not the worker, reaps a forked candidate: its CPU time reaches the engine (wait4,
    # what benchmarks/ measure) only if the server, once it ends, reaps the zygote in turn.
    toml = toy_problem / "problem.toml"  # a slow machine may give the burn little of its CPU
    toml.write_text(toml.read_text().replace("candidate_timeout_s = 3", "candidate_timeout_s = 25"))
    program = toy_problem / "burn.py"
    program.write_text(
        "import time\n"
        "end = time.process_time() + 1.0\n"
        "while time.process_time() < end:  # once per candidate process\n"
        "    pass\n"
        "def order_jobs(jobs):\n"
        "    return sorted(range(len(jobs)), key=lambda i: jobs[i][0] / jobs[i][1])\n"
    )
    problem = load_problem(toy_problem)
    warm.close_all()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        evaluation = asyncio.run(evaluate_stage(problem, program, problem.stage("quick"), EvalSettings()))
        assert evaluation.ok, evaluation.error
        (server,) = warm.server_pids()
        assert _zygotes_of(server), "no zygote: the candidate was not forked"
    finally:
        warm.close_all()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    assert used >= 1.0, f"{used:.2f} s of CPU reached this process; the candidate alone used 1 s"


def _zygotes_of(server: int) -> list[int]:
    found = []
    for pid in Path(f"/proc/{server}/task/{server}/children").read_text().split():
        try:
            if b"adrs.sandbox.zygote" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(int(pid))
        except OSError:
            continue
    return found


def test_a_child_whose_zygote_died_before_it_could_follow_exits_at_once():
    # A child born PID 1 of its namespace reads its parent's pid as 0: it learns that the zygote
    # died before PR_SET_PDEATHSIG was set from the zygote's pidfd, and exits before any set-up.
    from adrs.sandbox.process import ORPHANED_AT_START
    from adrs.sandbox.zygote_child import follow_parent

    gone = subprocess.Popen(["true"])
    pidfd = os.pidfd_open(gone.pid)
    select.select([pidfd], [], [], 10)  # ended (not yet reaped): what a dead zygote's pidfd says
    child = os.fork()
    if child == 0:
        try:
            follow_parent(pidfd)
        finally:
            os._exit(0)
    _, status = os.waitpid(child, 0)
    gone.wait()
    os.close(pidfd)
    assert os.waitstatus_to_exitcode(status) == ORPHANED_AT_START


# The candidate's PID 1 is the process the zygote forked: its start time, in clock ticks since boot,
# is the same number inside and outside its PID namespace.
STARTED = "def observe(payload):\n    return open('/proc/1/stat').read().rsplit(')', 1)[1].split()[19]\n"


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _started(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]


def _spare_of(zygote: int) -> int:
    """The zygote's one child once the last candidate (let go when its result was in) is reaped."""
    deadline = time.monotonic() + 10
    while len(children := _children(zygote)) != 1:
        assert time.monotonic() < deadline, f"the zygote has {len(children)} children"
        time.sleep(0.01)
    return children[0]


def _built(pid: int) -> bool:
    """Whether the process sits in the root confine.py builds (a tmpfs holding /usr and /proc,
    without the host's root or build folders), as seen from here."""
    try:
        root = os.listdir(f"/proc/{pid}/root")
        return os.stat(f"/proc/{pid}/root").st_dev != os.stat("/").st_dev and "usr" in root and "oldroot" not in root
    except OSError:
        return False


def test_each_candidate_is_the_child_forked_one_launch_ahead(tmp_path, zygote):
    # The zygote forks the next launch's child while the current one runs, and sets up what needs no
    # launch (session, network, IPC and UTS namespaces, the mount namespace and the new root where
    # the home can be attached later): the next candidate is that child.
    for _ in range(3):
        first = _observe(tmp_path, OBSERVER)
        assert first.ok and _forked(first), first.error
        spare = _spare_of(zygote.pid)
        ahead = trees_attach()  # as the zygote found, and the worker (this process) can clone a home
        deadline = time.monotonic() + 10  # its set-up done: the UTS namespace, then the root
        while os.readlink(f"/proc/{spare}/ns/uts") == os.readlink(f"/proc/{zygote.pid}/ns/uts") or (
            ahead and not _built(spare)
        ):
            assert time.monotonic() < deadline, "the spare did not set itself up"
            time.sleep(0.01)
        spaces = ("net", "ipc", "uts", "pid", "mnt") if ahead else ("net", "ipc", "uts", "pid")
        for space in spaces:
            assert os.readlink(f"/proc/{spare}/ns/{space}") != os.readlink(f"/proc/{zygote.pid}/ns/{space}"), space
        if not ahead:
            assert os.readlink(f"/proc/{spare}/ns/mnt") == os.readlink(f"/proc/{zygote.pid}/ns/mnt")  # after the launch
        held = sorted(int(fd) for fd in os.listdir(f"/proc/{spare}/fd"))
        # the standard streams and its own socket (and, with its root built, the pids cgroups' folder)
        assert held[:3] == [0, 1, 2] and len(held) in ((4, 5) if ahead else (4,)), held
        assert any(os.readlink(f"/proc/{spare}/fd/{fd}").startswith("socket:") for fd in held[3:])
        started = _started(spare)
        run = _observe(tmp_path, STARTED)
        assert run.ok, run.error
        assert run.value == started, "the candidate was not the child forked ahead"
        deadline = time.monotonic() + 10  # let go once its result was in: killed and reaped by the zygote
        while Path(f"/proc/{spare}").exists():
            assert time.monotonic() < deadline, "the candidate outlived its result"
            time.sleep(0.01)


NETWORK = "import os\n\ndef observe(payload):\n    return os.readlink('/proc/self/ns/net')\n"


def test_a_launch_that_keeps_its_workers_network_gets_a_child_forked_for_it(tmp_path, zygote):
    # The spare sits in a network namespace of its own; a candidate whose limits allow the network
    # keeps the one it would inherit (the zygote's, as a cold one keeps its worker's), so it must not
    # get the spare. The next spare follows the last launch.
    inherited = os.readlink(f"/proc/{zygote.pid}/ns/net")
    first = _observe(tmp_path, NETWORK)
    assert first.ok and first.value != inherited, first.error
    for _ in range(2):  # the first one's child is forked for it; the second's was forked ahead
        run = _observe(tmp_path, NETWORK, ProcessLimits(network=True))
        assert run.ok, run.error
        assert run.value == inherited
    spare = _spare_of(zygote.pid)
    assert os.readlink(f"/proc/{spare}/ns/net") == inherited
    again = _observe(tmp_path, NETWORK)
    # Not the inherited namespace (alive: the zygote is in it). The first candidate's is gone, and the
    # kernel hands a freed namespace's number to the next new one (a CI run saw `again` get it).
    assert again.ok and again.value != inherited, again.error


TMP_SIZE = (
    "import os\n\ndef observe(payload):\n    st = os.statvfs('/tmp')\n    return st.f_blocks * st.f_frsize >> 20\n"  # noqa: E501
)


def test_a_launch_whose_root_differs_from_the_one_built_ahead_gets_a_child_forked_for_it(tmp_path, zygote):
    # The spare builds the root the last launch had; a launch that needs another (here a smaller
    # /tmp) must not get it, and the next spare is built for the new root.
    assert _observe(tmp_path, TMP_SIZE).value == 64
    for _ in range(2):
        run = _observe(tmp_path, TMP_SIZE, ProcessLimits(tmpfs_mb=16))
        assert (run.ok, run.value) == (True, 16), run.error
    assert _observe(tmp_path, TMP_SIZE).value == 64


def test_candidates_launched_in_quick_succession_all_run(tmp_path, zygote):
    # Each launch's spare is forked (and its root built) while the one before still sets up: none
    # may fail its set-up for it (their probes once shared a folder named after pid 1).
    program, driver = (
        _write(tmp_path, "echo.py", "def observe(payload):\n    return payload\n"),
        _write(tmp_path, "driver.py", DRIVER),
    )
    for round_ in range(3):
        runs = run_candidates(program, driver, list(range(8)), workdir=tmp_path / f"r{round_}", parallel=4)
        assert [(run.ok, run.value) for run in runs] == [(True, i) for i in range(8)], [run.error for run in runs]
