"""The trusted harness: how an evaluator runs a candidate without letting it score itself.

An evaluator (trusted) calls `run_candidate(program_path, driver, payload)`. The candidate runs in
a fresh sandboxed process (under the backend the engine chose, see adrs/sandbox/) together with the
problem's *driver*: a small trusted Python file whose `run(candidate_module, payload)` calls the
candidate's entry point and converts what it returns to JSON. The harness copies the driver, the
candidate and adrs/candidate/runner.py into the candidate's private folder, measures wall time from
outside, enforces the limits, and hands back a `CandidateRun`. The value in it is untrusted: the
evaluator must validate it before scoring. Nothing the candidate prints is parsed.

Public names are re-exported by adrs.problemkit; import them from there.
Must not: score anything, or unpickle anything that came out of the candidate process.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adrs.candidate import RUNNER_SCRIPT
from adrs.problemkit import failures
from adrs.problemkit.failures import CandidateError
from adrs.sandbox import Backend, Handle, Launch, ProcessLimits, View
from adrs.sandbox import current as current_backend
from adrs.sandbox import get as get_backend
from adrs.sandbox.process import scrubbed_env
from adrs.sandbox.views import driver_import_paths, secret_paths

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


def default_limits() -> ProcessLimits:
    """Limits of candidate processes: the problem's [limits] candidate_*, which the worker exports
    (ADRS_CANDIDATE_TIMEOUT_S, ADRS_CANDIDATE_MEMORY_MB), else 60 s and 4096 MB."""
    timeout = float(os.environ.get("ADRS_CANDIDATE_TIMEOUT_S", "60"))
    memory = int(os.environ.get("ADRS_CANDIDATE_MEMORY_MB", "4096"))
    return ProcessLimits(timeout_s=timeout, memory_mb=memory)


def run_candidate(
    program_path: str | os.PathLike,
    driver: str | os.PathLike,
    payload: Any,
    *,
    limits: ProcessLimits | None = None,
    workdir: str | os.PathLike | None = None,
    files: Sequence[str | os.PathLike] = (),
    sandbox: str | None = None,
) -> CandidateRun:
    """Run `driver.run(candidate, payload)` in one sandboxed candidate process."""
    return run_candidates(program_path, driver, [payload], limits=limits, workdir=workdir, files=files, sandbox=sandbox)[0]


def run_candidates(
    program_path: str | os.PathLike,
    driver: str | os.PathLike,
    payloads: Sequence[Any],
    *,
    limits: ProcessLimits | None = None,
    workdir: str | os.PathLike | None = None,
    files: Sequence[str | os.PathLike] = (),
    parallel: int | None = None,
    sandbox: str | None = None,
) -> list[CandidateRun]:
    """Run the candidate once per payload, up to `parallel` processes at a time (default: CPUs).

    `files` are copied into each candidate's private directory (read them by their base name).
    `sandbox` names a backend; by default the one the engine chose (ADRS_SANDBOX), else `process`.
    Results come back in payload order.
    """
    limits = limits or default_limits()
    parallel = max(1, parallel or os.cpu_count() or 1)
    base = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="adrs-cand-"))
    base.mkdir(parents=True, exist_ok=True)
    backend = get_backend(sandbox) if sandbox else current_backend()
    backend.require()
    view = candidate_view(driver, backend)
    pending = list(enumerate(payloads))
    running: list[_Running] = []
    results: list[CandidateRun | None] = [None] * len(payloads)
    try:
        while pending or running:
            while pending and len(running) < parallel:
                index, payload = pending.pop(0)
                running.append(_start(backend, view, index, program_path, driver, payload, limits, base, files))
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


def candidate_view(driver: str | os.PathLike, backend: Backend) -> View:
    """What the candidate may see: the driver's imports; what it must not: the engine's hidden paths.

    `process` shows the host's (read-only) file system anyway, so it needs no import closure.
    """
    hidden = [Path(p) for p in os.environ.get("ADRS_HIDDEN_PATHS", "").split(os.pathsep) if p]
    readonly = () if backend.name == "process" else driver_import_paths(driver)
    return View(readonly=readonly, hidden=(*hidden, *secret_paths()))


class _Running:
    """One live candidate process."""

    def __init__(self, index: int, handle: Handle, home: Path):
        self.index = index
        self.handle = handle
        self.home = home
        self.started = time.monotonic()

    def poll(self, limits: ProcessLimits) -> CandidateRun | None:
        elapsed = time.monotonic() - self.started
        code = self.handle.poll()
        if code is None and elapsed < limits.timeout_s:
            return None
        if code is None:
            self.abort()
            return self._finish(failures.TIMEOUT, f"exceeded the {limits.timeout_s:g} s wall-clock limit", elapsed)
        self.handle.release()  # grandchildren left behind die with the run
        return self._finish(None, "", elapsed)

    def abort(self) -> None:
        self.handle.kill()
        self.handle.wait(5)
        self.handle.release()

    def _finish(self, kind: str | None, message: str, elapsed: float) -> CandidateRun:
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
            exit_kind, sentence = self.handle.exit_description()
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
    backend: Backend,
    view: View,
    index: int,
    program_path: str | os.PathLike,
    driver: str | os.PathLike,
    payload: Any,
    limits: ProcessLimits,
    base: Path,
    files: Sequence[str | os.PathLike],
) -> _Running:
    home = Path(tempfile.mkdtemp(prefix=f"c{index}-", dir=base))
    shutil.copyfile(program_path, home / "candidate.py")
    shutil.copyfile(driver, home / "driver.py")
    shutil.copyfile(RUNNER_SCRIPT, home / "runner.py")
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
    launch = Launch(
        argv=[sys.executable, "-I", str(home / "runner.py"), str(home / "request.json")],
        home=home,
        limits=limits,
        stdout=home / "stdout.txt",
        stderr=home / "stderr.txt",
        env=scrubbed_env(str(home)),
        view=view,
        tag=os.environ.get("ADRS_SANDBOX_TAG", ""),
    )
    return _Running(index, backend.launch(launch), home)


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
