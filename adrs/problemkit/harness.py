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
import select
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from adrs.candidate import RUNNER_SCRIPT
from adrs.problemkit import failures
from adrs.problemkit.failures import CandidateError
from adrs.problemkit.outputs import Captures
from adrs.sandbox import Backend, Handle, Launch, ProcessLimits, View
from adrs.sandbox import current as current_backend
from adrs.sandbox import get as get_backend
from adrs.sandbox.process import scrubbed_env
from adrs.sandbox.seccomp import candidate_filter_hex
from adrs.sandbox.views import driver_import_paths, secret_paths


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
    return run_candidates(
        program_path, driver, [payload], limits=limits, workdir=workdir, files=files, sandbox=sandbox
    )[0]


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
    if os.environ.get("ADRS_CANDIDATE_GPUS") == "1" and not limits.gpus:
        limits = replace(limits, gpus=True)  # the problem declares GPUs: its candidates see them
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
            _sleep_until_one_may_end(running)
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
            run.captures.close()
            run.close_ready()
    return [r for r in results if r is not None]


def _sleep_until_one_may_end(running: list[_Running]) -> None:
    """Sleep until a running candidate says its result is in, ends or reaches its time limit: on the
    handles' exit descriptors where each has one (a long candidate costs no polling CPU) and the
    runs' result sockets, else a 2 ms tick."""
    fds = [run.handle.exit_fd() for run in running]
    if not fds or None in fds:
        time.sleep(0.002)
        return
    now = time.monotonic()
    left = min(run.limits.timeout_s - (now - run.started) for run in running)
    waiter = select.poll()
    for fd in [*fds, *(run.ready.fileno() for run in running if run.ready is not None)]:
        waiter.register(fd, select.POLLIN)
    waiter.poll(1000 * min(max(left, 0.0), 1.0))


def candidate_view(driver: str | os.PathLike, backend: Backend) -> View:
    """What the candidate may see: the driver's imports; what it must not: the engine's hidden paths."""
    hidden = [Path(p) for p in os.environ.get("ADRS_HIDDEN_PATHS", "").split(os.pathsep) if p]
    return View(readonly=driver_import_paths(driver), hidden=(*hidden, *secret_paths()))


class _Running:
    """One live candidate process, and our end of the socket on which its runner says that the
    result is in (None where the backend cannot pass one, or once it was read)."""

    def __init__(
        self,
        index: int,
        handle: Handle,
        home: Path,
        captures: Captures,
        limits: ProcessLimits,
        ready: socket.socket | None,
    ):
        self.index = index
        self.handle = handle
        self.home = home
        self.captures = captures
        self.limits = limits
        self.ready = ready
        self.started = time.monotonic()

    def poll(self, limits: ProcessLimits) -> CandidateRun | None:
        elapsed = time.monotonic() - self.started
        code = self.handle.poll()
        record = self._said_record() if code is None else None
        if record is not None:
            # Taken now, while the runner waits for it to be read, rather than after the exit, the
            # reap and the zygote's report (≈ 1 ms); then the process is let go (killed).
            try:
                return self._finish(None, "", elapsed, record)
            finally:
                self.handle.abandon()
                self.close_ready()
        if code is None and elapsed < limits.timeout_s:
            return None
        if code is None:
            self.abort()
            return self._finish(failures.TIMEOUT, f"exceeded the {limits.timeout_s:g} s wall-clock limit", elapsed)
        self.handle.release()  # grandchildren left behind die with the run
        return self._finish(None, "", elapsed)

    def _said_record(self) -> dict | None:
        """The result record, where the runner said it is in and a complete one is there (its
        runner waits meanwhile); None while nothing was said. Said once: a socket that ends
        without the byte, or a record that is not complete (the process wrote the byte itself),
        is let go (the runner goes on) and the run ends by its exit, as any other."""
        if self.ready is None:
            return None
        try:
            said = self.ready.recv(1)
        except BlockingIOError:
            return None
        except OSError:
            said = b""
        record = self.captures.result() if said else None
        if isinstance(record, dict) and "ok" in record:
            return record
        self.close_ready()
        return None

    def close_ready(self) -> None:
        if self.ready is not None:
            self.ready.close()
            self.ready = None

    def abort(self) -> None:
        self.handle.kill()
        self.handle.wait(5)
        self.handle.release()

    def _finish(self, kind: str | None, message: str, elapsed: float, record: Any = None) -> CandidateRun:
        try:
            return self._outcome(kind, message, elapsed, record)
        finally:
            self.captures.close()
            self.close_ready()

    def _outcome(self, kind: str | None, message: str, elapsed: float, record: Any = None) -> CandidateRun:
        captures = self.captures
        run = CandidateRun(
            ok=False, wall_s=elapsed, stdout_tail=captures.tail("stdout.txt"), stderr_tail=captures.tail("stderr.txt")
        )
        if kind is not None:
            run.error_kind, run.error = kind, message
            return run
        if record is None:  # else the record read when the runner said it was in: not read again
            record = captures.result()
        if record is None:
            exit_kind, sentence = self.handle.exit_description()
            if exit_kind == failures.OUTPUT_LIMIT and not self._output_at_limit():
                exit_kind = failures.NONZERO_EXIT  # SIGXFSZ sent by the candidate, not by the limit
            if "MemoryError" in run.stderr_tail:
                exit_kind = failures.MEMORY
            if self._disk_full():
                exit_kind, sentence = failures.OUTPUT_LIMIT, f"{sentence}: the evaluation's disk space is full"
            run.error_kind = exit_kind
            run.error = f"the candidate process {sentence} without a result. stderr: {run.stderr_tail[-800:]}"
        elif not isinstance(record, dict) or "ok" not in record:
            run.error_kind, run.error = failures.INVALID_OUTPUT, "malformed result record"
        elif record["ok"]:
            run.ok, run.value = True, record.get("value")
        else:
            # Written inside the candidate's process: only kinds a candidate may report about itself.
            run.error_kind, run.error = failures.recorded_claim(record.get("kind"), str(record.get("message", "")))
        return run

    def _disk_full(self) -> bool:
        """The evaluation's space (a tmpfs of [limits] disk_mb, see adrs/sandbox/scratch.py) is used up:
        measured here, after the candidate ended, on the folder the harness made."""
        try:
            space = os.statvfs(self.home)
        except OSError:
            return False
        return space.f_blocks > 0 and space.f_bavail * space.f_frsize < (1 << 20)

    def _output_at_limit(self) -> bool:
        limit = self.limits.file_size_mb << 20
        return any(self.captures.size(name) >= limit for name in ("stdout.txt", "stderr.txt"))


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
        "seccomp": candidate_filter_hex(),  # installed by the runner before the driver or candidate loads
    }
    (home / "request.json").write_text(json.dumps(request))
    captures = Captures(home)
    # The runner's socket to say its result is in, where the backend can pass a descriptor.
    ready, said = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM) if backend.passes_descriptors else (None, None)
    if ready is not None:
        ready.setblocking(False)
    launch = Launch(
        # -B: nothing to gain from writing the driver's bytecode into a home that lives for one run
        argv=[sys.executable, "-I", "-B", str(home / "runner.py"), str(home / "request.json")],
        home=home,
        limits=limits,
        stdout=home / "stdout.txt",
        stderr=home / "stderr.txt",
        env=scrubbed_env(str(home)),
        view=view,
        tag=os.environ.get("ADRS_SANDBOX_TAG", ""),
        channel_fd=None if said is None else said.fileno(),
    )
    try:
        handle = backend.launch(launch)
    except BaseException:
        captures.close()
        if ready is not None:
            ready.close()
        raise
    finally:
        if said is not None:
            said.close()  # the process holds its own copy
    return _Running(index, handle, home, captures, limits, ready)
