"""Interactive candidate sessions: the trusted side decides what a candidate sees and when, and times it.

`run_candidate` hands a candidate its whole payload at once and gets one answer back; whatever the
payload holds (every test case, a whole availability trace, every future input) sits in the
candidate's process, and any time the driver measures there is the candidate's to forge. A
session instead keeps the candidate process alive and talks to it:

    with open_session(program_path, DRIVER, setup_payload) as session:
        reply = session.call({"case": 3, ...}, timeout_s=10.0)   # SessionReply: value, seconds

- The trusted side makes a socket pair *before* the launch; the candidate's end reaches the
  sandboxed process (adrs/sandbox/: inherited, or handed over once for docker) and
  adrs/candidate/runner.py serves it: after importing the candidate (and `driver.start`), it sends
  a ready frame, then answers each message with `driver.handle(candidate, message)`.
- Each call is timed here, from sending the message to the reply's last byte (`SessionReply.seconds`):
  the interpreter start, the imports and `driver.start` are outside every call. A call that runs
  past its limit is ended by killing the process (what the candidate does to its own timers,
  signals or clocks changes nothing); the session is then over, and the caller may open another.
- The candidate holds only what it has been sent so far: feed it data in the order a real
  decision maker would see it.

`SessionGroup` runs several sessions with the same settings side by side (threads: the work is in
the candidate processes) and makes sure none outlives the group.

Replies are untrusted JSON, as a `CandidateRun`'s value. Must not: score anything, read files the
candidate can write (only its stdout/stderr tails, through the harness), or unpickle anything.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from adrs.candidate import RUNNER_SCRIPT
from adrs.problemkit import failures
from adrs.problemkit.failures import CandidateError
from adrs.problemkit.harness import candidate_view, default_limits
from adrs.problemkit.outputs import Captures
from adrs.sandbox import Backend, Handle, Launch, ProcessLimits
from adrs.sandbox import current as current_backend
from adrs.sandbox import get as get_backend
from adrs.sandbox.process import scrubbed_env
from adrs.sandbox.seccomp import candidate_filter_hex

HEADER = struct.Struct(">I")
POLL_S = 0.2  # how often a wait for a reply checks that the process still lives
CLOSE_GRACE_S = 2.0  # a closed session's process may take this long to exit by itself

Task = TypeVar("Task")
Result = TypeVar("Result")


@dataclass
class SessionReply:
    """One answer of a session. `value` is untrusted JSON; `seconds` was measured here."""

    ok: bool
    value: Any = None
    error_kind: str | None = None
    error: str = ""
    seconds: float = 0.0  # from sending the message to the reply's last byte, on the trusted side

    def raise_for_failure(self) -> Any:
        """Return the value, or raise CandidateError so the evaluation is recorded as failed."""
        if not self.ok:
            raise CandidateError(self.error_kind or failures.NONZERO_EXIT, self.error)
        return self.value


class CandidateSession:
    """One live candidate process answering messages; open it with `open_session` or a group."""

    def __init__(
        self, handle: Handle, channel: socket.socket, captures: Captures, limits: ProcessLimits, max_reply: int
    ):
        self._handle = handle
        self._channel = channel
        self._captures = captures  # stdout/stderr opened before the launch: never read by name
        self._limits = limits
        self._max_reply = max_reply
        self._lock = threading.Lock()
        self.started = time.monotonic()
        self.ended: SessionReply | None = None  # why the session is over, once it is
        self.ready: Any = None  # what driver.start returned (untrusted)
        self.calls = 0

    @property
    def alive(self) -> bool:
        return self.ended is None

    @property
    def wall_s(self) -> float:
        return time.monotonic() - self.started

    def _await_ready(self) -> None:
        limit = f"the candidate process did not start within its {self._limits.timeout_s:g} s wall-clock limit"
        reply = self._receive(self.started + self._limits.timeout_s, limit)
        if not reply.ok:
            raise CandidateError(reply.error_kind or failures.NONZERO_EXIT, reply.error)
        self.ready = reply.value

    def call(self, message: Any, *, timeout_s: float | None = None) -> SessionReply:
        """Send `message`, wait for the reply; past `timeout_s` (or the process's wall-clock limit,
        whichever comes first) the process is killed and the reply is a `timeout` failure."""
        if self.ended is not None:
            ended = self.ended
            return SessionReply(False, error_kind=ended.error_kind, error=f"the session has ended: {ended.error}")
        body = json.dumps(message, separators=(",", ":")).encode()
        process_deadline = self.started + self._limits.timeout_s
        if timeout_s is not None and time.monotonic() + timeout_s < process_deadline:
            deadline = time.monotonic() + timeout_s
            limit = f"the call exceeded its {timeout_s:g} s limit"
        else:
            deadline = process_deadline
            limit = f"the candidate process exceeded its {self._limits.timeout_s:g} s wall-clock limit"
        self.calls += 1
        sent = time.perf_counter()
        try:
            self._channel.settimeout(max(deadline - time.monotonic(), 0.001))
            self._channel.sendall(HEADER.pack(len(body)) + body)
        except TimeoutError:
            return self._end(failures.TIMEOUT, f"{limit} (it stopped reading its messages)")
        except OSError:
            return self._ended_by_process()
        reply = self._receive(deadline, limit)
        reply.seconds = time.perf_counter() - sent
        return reply

    def _receive(self, deadline: float, limit: str) -> SessionReply:
        header = self._read(HEADER.size, deadline, limit)
        if isinstance(header, SessionReply):
            return header
        size = HEADER.unpack(header)[0]
        if size > self._max_reply:
            return self._end(failures.OUTPUT_LIMIT, f"a reply of {size} bytes exceeds the {self._max_reply}-byte limit")
        body = self._read(size, deadline, limit)
        if isinstance(body, SessionReply):
            return body
        try:
            record = json.loads(body)
        except ValueError as exc:
            return self._end(failures.INVALID_OUTPUT, f"a reply is not JSON: {exc}")
        if not isinstance(record, dict) or not isinstance(record.get("ok"), bool):
            return self._end(failures.INVALID_OUTPUT, "malformed reply frame")
        if record["ok"]:
            return SessionReply(True, record.get("value"))
        # Failure kinds come from trusted code only: the candidate cannot call itself an evaluator error,
        # nor say it ran out of time; a claimed driver fault is verified on the trusted side.
        kind, error = failures.recorded_claim(record.get("kind"), str(record.get("message", ""))[-4000:])
        return SessionReply(False, error_kind=kind, error=error)

    def _read(self, size: int, deadline: float, limit: str) -> bytes | SessionReply:
        chunks: list[bytes] = []
        left = size
        while left:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return self._end(failures.TIMEOUT, limit)
            try:
                self._channel.settimeout(min(remaining, POLL_S))
                chunk = self._channel.recv(min(left, 1 << 20))
            except TimeoutError:
                if self._handle.poll() is not None:
                    return self._ended_by_process()
                continue
            except OSError:
                return self._ended_by_process()
            if not chunk:
                return self._ended_by_process()
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _ended_by_process(self) -> SessionReply:
        self._handle.wait(CLOSE_GRACE_S)
        kind, sentence = self._handle.exit_description()
        stderr = self.stderr_tail()
        if "MemoryError" in stderr:
            kind = failures.MEMORY
        return self._end(kind, f"the candidate process {sentence} without answering. stderr: {stderr[-800:]}")

    def _end(self, kind: str, message: str) -> SessionReply:
        self.kill()
        self.ended = SessionReply(False, error_kind=kind, error=message)
        return SessionReply(False, error_kind=kind, error=message)

    def kill(self) -> None:
        """End the process now (idempotent)."""
        with self._lock:
            self._handle.kill()
            self._handle.wait(5)
            self._handle.release()
            self._channel.close()
            self._captures.close()

    def close(self) -> None:
        """Close the channel (the runner then exits by itself), then make sure the process is gone."""
        if self.ended is None:
            self.ended = SessionReply(False, error_kind=failures.NONZERO_EXIT, error="the session was closed")
            self._channel.close()
            self._handle.wait(CLOSE_GRACE_S)
        self.kill()

    def stderr_tail(self) -> str:
        return self._captures.tail("stderr.txt")

    def __enter__(self) -> CandidateSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class SessionGroup:
    """Sessions of one program and driver with shared settings; none outlives the group."""

    def __init__(
        self,
        program_path: str | os.PathLike,
        driver: str | os.PathLike,
        *,
        limits: ProcessLimits | None = None,
        workdir: str | os.PathLike | None = None,
        files: Sequence[str | os.PathLike] = (),
        sandbox: str | None = None,
        max_reply_bytes: int = Captures.MAX_RESULT_BYTES,
    ):
        self.program_path = Path(program_path)
        self.driver = Path(driver)
        self.limits = limits or default_limits()
        self.base = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="adrs-session-"))
        self.base.mkdir(parents=True, exist_ok=True)
        self.files = [Path(f) for f in files]
        self.backend: Backend = get_backend(sandbox) if sandbox else current_backend()
        self.backend.require()
        self.view = candidate_view(driver, self.backend)
        self.max_reply_bytes = max_reply_bytes
        self._sessions: list[CandidateSession] = []
        self._lock = threading.Lock()
        self._count = 0
        self._stopped = False

    def open(self, payload: Any = None) -> CandidateSession:
        """Start a candidate process and wait until it is ready (candidate imported, driver.start
        done). A candidate that cannot start raises CandidateError (syntax, import, ...)."""
        with self._lock:
            if self._stopped:
                raise RuntimeError("the session group was stopped")
            index = self._count
            self._count += 1
        home = Path(tempfile.mkdtemp(prefix=f"s{index}-", dir=self.base))
        shutil.copyfile(self.program_path, home / "candidate.py")
        shutil.copyfile(self.driver, home / "driver.py")
        shutil.copyfile(RUNNER_SCRIPT, home / "runner.py")
        for f in self.files:
            shutil.copyfile(f, home / f.name)
        (home / "payload.json").write_text(json.dumps(payload))
        request = {
            "program": str(home / "candidate.py"),
            "driver": str(home / "driver.py"),
            "payload": str(home / "payload.json"),
            "session": True,
            "seccomp": candidate_filter_hex(),  # installed by the runner before the driver or candidate loads
        }
        (home / "request.json").write_text(json.dumps(request))
        captures = Captures(home)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            launch = Launch(
                argv=[sys.executable, "-I", "-B", str(home / "runner.py"), str(home / "request.json")],
                home=home,
                limits=self.limits,
                stdout=home / "stdout.txt",
                stderr=home / "stderr.txt",
                env=scrubbed_env(str(home)),
                view=self.view,
                tag=os.environ.get("ADRS_SANDBOX_TAG", ""),
                channel_fd=theirs.fileno(),
            )
            handle = self.backend.launch(launch)
        except BaseException:
            ours.close()
            captures.close()
            raise
        finally:
            theirs.close()  # the child holds its own copy; EOF reaches us when it dies
        session = CandidateSession(handle, ours, captures, self.limits, self.max_reply_bytes)
        with self._lock:
            self._sessions.append(session)
        try:
            session._await_ready()
        except BaseException:
            session.kill()
            raise
        return session

    def map(
        self, converse: Callable[[Task], Result], tasks: Iterable[Task], *, parallel: int | None = None
    ) -> list[Result]:
        """`converse(task)` for every task on `parallel` threads (default: CPUs), results in order.
        On the first exception every open session is killed (so the other tasks stop early) and,
        once all threads have stopped, that first exception is raised."""
        tasks = list(tasks)
        workers = max(1, min(parallel or os.cpu_count() or 1, len(tasks) or 1))
        first: list[BaseException] = []

        def guarded(task: Task) -> Result | None:
            if first:
                return None
            try:
                return converse(task)
            except BaseException as exc:
                with self._lock:
                    if not first:
                        first.append(exc)
                self.kill_all()
                return None

        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(guarded, tasks))
        if first:
            raise first[0]
        return results  # type: ignore[return-value]

    def kill_all(self) -> None:
        """Kill every session of the group; none can be opened afterwards."""
        self._stopped = True
        sessions = list(self._sessions)
        for session in sessions:
            session.kill()

    def close(self) -> None:
        with self._lock:
            sessions, self._sessions = list(self._sessions), []
        for session in sessions:
            session.close()

    def __enter__(self) -> SessionGroup:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_session(
    program_path: str | os.PathLike,
    driver: str | os.PathLike,
    payload: Any = None,
    *,
    limits: ProcessLimits | None = None,
    workdir: str | os.PathLike | None = None,
    files: Sequence[str | os.PathLike] = (),
    sandbox: str | None = None,
    max_reply_bytes: int = Captures.MAX_RESULT_BYTES,
) -> CandidateSession:
    """One session (see the module docstring); close it, or use it as a context manager."""
    group = SessionGroup(
        program_path,
        driver,
        limits=limits,
        workdir=workdir,
        files=files,
        sandbox=sandbox,
        max_reply_bytes=max_reply_bytes,
    )
    return group.open(payload)
