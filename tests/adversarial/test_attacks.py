"""Every attack in attacks.py, through the real engine, against every available sandbox backend.

One engine run per backend evaluates the initial program, every attack, then an honest program:
each attack must end as a recorded failure or an honest score unchanged by the attack, the run must
go on to the honest program, and nothing may be left running. Known residual of `process`
(docs/security.md): the project tree and ../shared/data are world-readable, so `read_project_tree`
succeeds there; the test asserts that too, so the security table cannot silently go stale.
"""

from __future__ import annotations

import asyncio
import ctypes
import hashlib
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from adrs.archive.store import Archive
from adrs.config import RunConfig
from adrs.engine import Engine
from adrs.problem import load_problem
from adrs.sandbox import BACKENDS
from adrs.sandbox.process import network_namespace_available
from tests.adversarial.attacks import OPTIMAL, Targets, build
from tests.conftest import ROOT, SHARED_DATA, SKELETON
from tests.scripted import ScriptedSource

HONEST = "def order_jobs(jobs):\n    return sorted(range(len(jobs)), key=lambda i: (jobs[i][0] / jobs[i][1], i))\n"
DISRUPTIVE = {  # attack -> failure kinds it may end with
    "fork_bomb": {"timeout", "exception", "nonzero_exit", "memory"},
    "alloc_forever": {"memory", "timeout"},
    "loop_forever": {"timeout"},
    "print_gigabytes": {"output_limit", "exception", "timeout"},  # output_limit: the file size or disk space
    "forged_result": {"invalid_output"},
    "exit_early": {"nonzero_exit", "invalid_output"},
    # the harness reads its own descriptors, never the candidate's symlinks: no result, nothing leaked
    "symlink_captures": {"nonzero_exit"},
    # kinds are the trusted side's: a forged evaluator_error is the candidate's exception, a
    # self-inflicted SIGKILL is not a limit the harness measured
    "claim_evaluator_error": {"exception"},
    "claim_timeout": {"nonzero_exit", "exception"},  # exception: PID 1 of a namespace cannot SIGKILL itself
    "ansi_error": {"exception"},
}
OBSERVING = ("net_outside", "net_loopback", "read_archive", "read_holdout", "read_ssh", "read_api_key", "write_outside",
             "sleeping_grandchild", "see_siblings", "host_devices", "ipc_plant", "ipc_read", "vsock", "fill_tmpfs",
             "fill_disk")  # fmt: skip
# Attacks that must run in this order (the first leaves something for the second to find).
FIRST, LAST = ("ipc_plant",), ("ipc_read",)
RESIDUAL: set[tuple[str, str]] = set()  # (backend, attack) that succeed, documented in docs/security.md


class _Listener:
    """A TCP listener on the host's loopback; records whether anything connected."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self):
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def _processes_with(marker: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.append(int(pid))
            except OSError:
                continue
    return found


SANDBOX_COMMANDS = (
    b"adrs.evaluate.worker",
    b"adrs.evaluate.warm_server",
    b"runner.py",
    b"confine.py",
    b"bwrap",
    b"unshare",
)


def _sandbox_children_of(pid: int) -> list[int]:
    """Live children of `pid` that are evaluation workers or candidate sandboxes."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                command = Path(f"/proc/{entry}/cmdline").read_bytes()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == pid and fields[0] != "Z" and any(c in command for c in SANDBOX_COMMANDS):
                out.append(int(entry))
    return out


def _leftover_containers() -> list[str]:
    from adrs.sandbox.docker_image import client, containers_where

    return [c["Names"][0].lstrip("/") for c in containers_where(client(), label="adrs.sandbox")]


@pytest.fixture(scope="module")
def outcomes(backend, start, tmp_path_factory):
    base = tmp_path_factory.mktemp(f"adversarial-{backend}-{start}")
    problem_dir = base / "toy"
    shutil.copytree(SKELETON, problem_dir, ignore=shutil.ignore_patterns("__pycache__"))
    toml = (problem_dir / "problem.toml").read_text().replace("{name}", "toy")
    toml = toml.replace("candidate_timeout_s = 20", "candidate_timeout_s = 3").replace(
        "candidate_memory_mb = 1024", "candidate_memory_mb = 512"
    )
    toml = toml.replace("[limits]", "[limits]\ndisk_mb = 128")
    (problem_dir / "problem.toml").write_text(toml)
    home = base / "home"
    (home / ".ssh").mkdir(parents=True)
    marker = f"adrs-adversarial-{os.getpid()}-{backend}-{start}"
    (home / ".ssh" / "id_rsa").write_text(f"PRIVATE KEY {marker}\n")
    archive_path = base / "run.sqlite"
    (problem_dir / "secret.txt").write_text(f"ESCAPED: the harness read a hidden file through a symlink {marker}\n")
    forged = {"ok": False, "kind": "exception", "message": f"ESCAPED: {marker}"}
    (problem_dir / "secret.json").write_text(json.dumps(forged))
    ipc_key = 0x5E000000 + os.getpid() % 0x10000 * 8 + BACKENDS.index(backend) * 2 + (start == "cold")
    listener = _Listener()
    targets = Targets(
        archive=str(archive_path),
        problem_dir=str(problem_dir),
        evaluator=str(problem_dir / "evaluator.py"),
        ssh_key=str(home / ".ssh" / "id_rsa"),
        project_file=str(ROOT / "evaluators" / "__init__.py"),
        shared_file=str(SHARED_DATA / "README.md"),
        outside_file=str(base / "planted-outside.txt"),
        port=listener.port,
        engine_pid=os.getpid(),
        marker=marker,
        secret_text=str(problem_dir / "secret.txt"),
        secret_json=str(problem_dir / "secret.json"),
        temp_root=os.path.realpath(tempfile.gettempdir()),
        ipc_key=ipc_key,
        memory_mb=512,
    )
    attacks = build(targets)
    if backend == "process" and not network_namespace_available():
        del attacks["net_outside"]  # no namespace: the packet could leave the machine, so it is not sent
    evaluator_hash = hashlib.sha256((problem_dir / "evaluator.py").read_bytes()).hexdigest()
    names = [n for n in FIRST if n in attacks]
    names += [n for n in attacks if n not in FIRST + LAST] + [n for n in LAST if n in attacks]
    programs = [attacks[n] for n in names] + [HONEST]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(home))
        patch.setenv("OPENAI_API_KEY", f"sk-{marker}")
        problem = load_problem(problem_dir)
        archive = Archive.open(archive_path)
        config = RunConfig(
            budget=1 + len(programs),
            workers=2,
            seed=0,
            islands=1,
            evaluate_holdout=False,
            sandbox=backend,
            warm_start=start == "warm",
        )
        run = archive.create_run(problem.name, str(problem.root), problem.fingerprint(), 0, config.to_dict())
        started = time.monotonic()
        summary = asyncio.run(Engine(problem, archive, run, config, ScriptedSource(programs)).run())
        elapsed = time.monotonic() - started
    time.sleep(0.3)  # processes killed at the end of each evaluation are reaped
    listener.close()
    _remove_planted_ipc(ipc_key)
    by_description = {p.description: p for p in archive.programs(run.id)}
    results = {}
    for index, name in enumerate(names, start=1):
        program = by_description[f"scripted #{index}"]
        errors = " ".join(e.error for e in archive.evaluations(program.id))
        results[name] = (program.status, program.error_kind, program.score, errors)
    honest = by_description[f"scripted #{len(programs)}"]
    initial = next(p for p in by_description.values() if p.mutator == "initial")
    _record_table_rows(backend if start == "warm" else f"{backend} (cold start)", results)
    ansi = by_description[f"scripted #{names.index('ansi_error') + 1}"]
    shown = subprocess.run([sys.executable, "-m", "adrs.cli", "show", str(archive_path), str(ansi.id)],
                           capture_output=True, timeout=120)  # fmt: skip
    yield {
        "shown_ansi": shown,
        "backend": backend,
        "results": results,
        "summary": summary,
        "budget": 1 + len(programs),
        "honest": honest,
        "initial_score": initial.score,
        "listener_connections": listener.connections,
        "evaluator_unchanged": hashlib.sha256((problem_dir / "evaluator.py").read_bytes()).hexdigest()
        == evaluator_hash,
        "planted": [
            p for p in (Path(targets.outside_file), problem_dir / "planted.py", Path("/usr/adrs-planted")) if p.exists()
        ],
        "leftovers": _processes_with(marker),
        "children": _sandbox_children_of(os.getpid()),
        "containers": _leftover_containers() if backend == "docker" else [],
        "elapsed": elapsed,
    }
    archive.close()


def _remove_planted_ipc(key: int) -> None:
    """What `ipc_plant` leaves on the host when candidates share its IPC namespace and keyring."""
    libc = ctypes.CDLL(None, use_errno=True)
    ipc_rmid = 0
    for get, ctl in ((lambda: libc.shmget(key, 0, 0), libc.shmctl), (lambda: libc.msgget(key, 0), libc.msgctl)):
        ident = get()
        if ident >= 0:
            ctl(ident, ipc_rmid, None)
    ident = libc.semget(key, 0, 0)
    if ident >= 0:
        libc.semctl(ident, 0, ipc_rmid)
    keyctl = 219 if platform.machine() == "aarch64" else 250
    found = libc.syscall(keyctl, 10, -4, b"user", f"adrs-{key}".encode(), 0)
    if found >= 0:
        libc.syscall(keyctl, 21, found)  # KEYCTL_INVALIDATE


def _record_table_rows(backend: str, results: dict) -> None:
    """With ADRS_SECURITY_TABLE=FILE, append each outcome (the source of docs/security.md's table)."""
    target = os.environ.get("ADRS_SECURITY_TABLE")
    if not target:
        return
    with open(target, "a") as out:
        for name, (status, kind, score, errors) in results.items():
            outcome = f"score {score:g}" if status == "evaluated" else f"failed: {kind}"
            if "ESCAPED" in errors:
                outcome += " (ESCAPED: " + errors.split("ESCAPED: ", 1)[1].splitlines()[0][:80] + ")"
            out.write(f"{backend}\t{name}\t{outcome}\n")


ATTACKS = [*OBSERVING, "read_project_tree", "edit_evaluator", "kill_parent", "patch_timer_and_scoring", *DISRUPTIVE]


@pytest.mark.parametrize("attack", ATTACKS)
def test_attack_ends_as_failure_or_honest_score(outcomes, attack):
    backend = outcomes["backend"]
    if attack not in outcomes["results"]:
        pytest.skip(f"{attack}: not sent on this machine (no network namespace for {backend})")
    status, kind, score, errors = outcomes["results"][attack]
    shown = f"{backend}/{attack}: status={status} kind={kind} score={score} errors={errors[-600:]!r}"
    assert score is None or score <= 100.0 + 1e-9, shown
    if (backend, attack) in RESIDUAL:
        assert status == "failed" and "ESCAPED" in errors, (
            f"the documented residual is gone, update docs/security.md: {shown}"
        )
        return
    assert "ESCAPED" not in errors, shown
    if attack in OBSERVING or attack == "read_project_tree":
        assert (status, score) == ("evaluated", 100.0), shown
    elif attack in ("edit_evaluator", "patch_timer_and_scoring"):
        assert (status, score) == ("evaluated", outcomes["initial_score"]), shown
    elif attack == "kill_parent":
        assert status == "failed" or score == 100.0, shown
    else:
        assert status == "failed" and kind in DISRUPTIVE[attack], shown


def test_the_run_goes_on_and_nothing_is_left(outcomes):
    summary, honest = outcomes["summary"], outcomes["honest"]
    assert summary.evaluated == outcomes["budget"]
    assert (honest.status, honest.score) == ("evaluated", 100.0)
    assert outcomes["listener_connections"] == 0
    assert outcomes["evaluator_unchanged"]
    assert outcomes["planted"] == []
    assert outcomes["leftovers"] == [], "a sandboxed grandchild outlived its evaluation"
    assert outcomes["children"] == [], "the engine left child processes behind"
    assert outcomes["containers"] == []


def test_errors_are_shown_with_control_characters_escaped(outcomes):
    shown = outcomes["shown_ansi"]
    assert shown.returncode == 0, shown.stderr.decode(errors="replace")
    assert b"\x1b" not in shown.stdout and b"\x07" not in shown.stdout, shown.stdout[-600:]
    assert b"\\x1b]0;pwned" in shown.stdout  # shown, escaped, not dropped


def test_optimal_reference_is_what_observing_attacks_return():
    # The attacks prove failure by scoring 100: that only means something if OPTIMAL is optimal.
    assert "jobs[i][0] / jobs[i][1]" in OPTIMAL
