"""The trusted harness: how an evaluator runs a candidate without letting it score itself.

An evaluator (trusted) calls `run_candidate(program_path, driver, payload)`. The candidate runs in
a fresh sandboxed process (see sandbox.py) together with the problem's *driver*: a small trusted
Python file whose `run(candidate_module, payload)` calls the candidate's entry point and converts
what it returns to JSON. The harness measures wall time from outside, enforces the limits, and
hands back a `CandidateRun`. The value in it is untrusted: the evaluator must validate it before
scoring. Nothing the candidate prints is parsed.

Must not: score anything, or unpickle anything that came out of the candidate process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adrs.evaluate import failures
from adrs.evaluate.failures import CandidateError
from adrs.evaluate.sandbox import (
    NOBODY_GID,
    NOBODY_UID,
    Limits,
    PidsCgroup,
    SandboxSpec,
    can_drop_privileges,
    describe_exit,
    kill_tree,
    popen_kwargs,
)

RUNNER = Path(__file__).with_name("candidate_runner.py")
MAX_RESULT_BYTES = 256 * 1024 * 1024
TAIL_BYTES = 4000


@dataclass
class CandidateRun:
    """What came back from one candidate process. `value` is untrusted JSON."""

    ok: bool
    value: Any = None
    error_kind: str | None = None
    error: str = ""
    wall_s: float = 0.0
    stdout_tail: str = ""
    stderr_tail: str = ""

    def raise_for_failure(self) -> Any:
        """Return the value, or raise CandidateError so the evaluation is recorded as failed."""
        if not self.ok:
            raise CandidateError(self.error_kind or failures.NONZERO_EXIT, self.error)
        return self.value


def default_limits() -> Limits:
    """Limits for candidate processes, overridable by the engine through the environment."""
    timeout = float(os.environ.get("ADRS_CANDIDATE_TIMEOUT_S", "60"))
    memory = int(os.environ.get("ADRS_CANDIDATE_MEMORY_MB", "4096"))
    return Limits(timeout_s=timeout, memory_mb=memory)


def run_candidate(
    program_path: str | os.PathLike,
    driver: str | os.PathLike,
    payload: Any,
    *,
    limits: Limits | None = None,
    workdir: str | os.PathLike | None = None,
    files: Sequence[str | os.PathLike] = (),
) -> CandidateRun:
    """Run `driver.run(candidate, payload)` in one sandboxed candidate process."""
    return run_candidates(program_path, driver, [payload], limits=limits, workdir=workdir, files=files)[0]


def run_candidates(
    program_path: str | os.PathLike,
    driver: str | os.PathLike,
    payloads: Sequence[Any],
    *,
    limits: Limits | None = None,
    workdir: str | os.PathLike | None = None,
    files: Sequence[str | os.PathLike] = (),
    parallel: int | None = None,
) -> list[CandidateRun]:
    """Run the candidate once per payload, up to `parallel` processes at a time (default: CPUs).

    `files` are copied into each candidate's private directory (read them by their base name).
    Results come back in payload order.
    """
    limits = limits or default_limits()
    parallel = max(1, parallel or os.cpu_count() or 1)
    base = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="adrs-cand-"))
    base.mkdir(parents=True, exist_ok=True)
    drop = can_drop_privileges()
    pending = list(enumerate(payloads))
    running: list[_Running] = []
    results: list[CandidateRun | None] = [None] * len(payloads)
    try:
        while pending or running:
            while pending and len(running) < parallel:
                index, payload = pending.pop(0)
                running.append(_start(index, program_path, driver, payload, limits, base, files, drop))
            time.sleep(0.002)
            still = []
            for run in running:
                outcome = run.poll(limits)
                if outcome is None:
                    still.append(run)
                else:
                    results[run.index] = outcome
            running = still
    finally:
        for run in running:
            run.abort()
    return [r for r in results if r is not None]


class _Running:
    """One live candidate process."""

    def __init__(self, index: int, proc: subprocess.Popen, cgroup: PidsCgroup | None, home: Path):
        self.index = index
        self.proc = proc
        self.cgroup = cgroup
        self.home = home
        self.started = time.monotonic()

    def poll(self, limits: Limits) -> CandidateRun | None:
        elapsed = time.monotonic() - self.started
        code = self.proc.poll()
        if code is None and elapsed < limits.timeout_s:
            return None
        if code is None:
            self.abort()
            return self._finish(failures.TIMEOUT, f"exceeded the {limits.timeout_s:g} s wall-clock limit", elapsed)
        kill_tree(self.proc.pid, self.cgroup)  # grandchildren left behind die with the run
        return self._finish(None, "", elapsed)

    def abort(self) -> None:
        kill_tree(self.proc.pid, self.cgroup)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        if self.cgroup is not None:
            self.cgroup.remove()

    def _finish(self, kind: str | None, message: str, elapsed: float) -> CandidateRun:
        if self.cgroup is not None:
            self.cgroup.remove()
        run = CandidateRun(
            ok=False,
            wall_s=elapsed,
            stdout_tail=_tail(self.home / "stdout.txt"),
            stderr_tail=_tail(self.home / "stderr.txt"),
        )
        if kind is not None:
            run.error_kind, run.error = kind, message
            return run
        record = _read_result(self.home / "result.json")
        if record is None:
            exit_kind, sentence = describe_exit(self.proc.returncode)
            if "MemoryError" in run.stderr_tail:
                exit_kind = failures.MEMORY
            run.error_kind = exit_kind
            run.error = f"the candidate process {sentence} without a result. stderr: {run.stderr_tail[-800:]}"
        elif not isinstance(record, dict) or "ok" not in record:
            run.error_kind, run.error = failures.INVALID_OUTPUT, "malformed result record"
        elif record["ok"]:
            run.ok, run.value = True, record.get("value")
        else:
            kind = record.get("kind")
            run.error_kind = kind if kind in failures.ALL_KINDS else failures.EXCEPTION
            run.error = str(record.get("message", ""))
        return run


def _start(
    index: int,
    program_path: str | os.PathLike,
    driver: str | os.PathLike,
    payload: Any,
    limits: Limits,
    base: Path,
    files: Sequence[str | os.PathLike],
    drop: bool,
) -> _Running:
    home = Path(tempfile.mkdtemp(prefix=f"c{index}-", dir=base))
    shutil.copyfile(program_path, home / "candidate.py")
    shutil.copyfile(driver, home / "driver.py")
    shutil.copyfile(RUNNER, home / "runner.py")
    for f in files:
        shutil.copyfile(f, home / Path(f).name)
    (home / "payload.json").write_text(json.dumps(payload))
    request = {
        "program": str(home / "candidate.py"),
        "driver": str(home / "driver.py"),
        "payload": str(home / "payload.json"),
        "result": str(home / "result.json"),
    }
    (home / "request.json").write_text(json.dumps(request))
    if drop:
        for path in [home, *home.iterdir()]:
            os.chown(path, NOBODY_UID, NOBODY_GID)
    cgroup = PidsCgroup.create(limits.processes)
    spec = SandboxSpec(limits=limits, drop_privileges=drop, cgroup=cgroup)
    with open(home / "stdout.txt", "wb") as out, open(home / "stderr.txt", "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-I", str(home / "runner.py"), str(home / "request.json")],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            close_fds=True,
            **popen_kwargs(spec, str(home)),
        )
    return _Running(index, proc, cgroup, home)


def _read_result(path: Path) -> Any:
    try:
        if path.stat().st_size > MAX_RESULT_BYTES:
            return {"ok": False, "kind": failures.INVALID_OUTPUT, "message": "result larger than the limit"}
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        return {"ok": False, "kind": failures.INVALID_OUTPUT, "message": f"unreadable result: {exc}"}


def _tail(path: Path) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - TAIL_BYTES))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""
