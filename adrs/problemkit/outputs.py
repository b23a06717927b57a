"""Reading what a candidate process left in its folder, without letting it choose what is read.

A candidate can replace any file in its folder before it exits: with a symbolic link to a file only
the trusted side may read (a holdout file, another process's environment), a FIFO that blocks the
reader for ever, a device, or a file larger than the reader expects. Trusted code that reads a
candidate's file therefore opens it here: relative to the folder's own descriptor, never following
a link (O_NOFOLLOW), never blocking on a FIFO (O_NONBLOCK), and only when what was opened is a
regular file within the size it allows (`open_output`, for the files an evaluator asks its driver
to write: tensors, markers). The harness reads the candidate's stdout, stderr and result through
descriptors it opened before the candidate ran (`Captures`).

Must not: parse or judge what it reads.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any, BinaryIO

from adrs.problemkit.failures import INVALID_OUTPUT

_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class CandidateFileError(ValueError):
    """A file the candidate was to write is missing, a link, not a regular file, or too large."""


def open_output(folder: str | os.PathLike, name: str, max_bytes: int) -> BinaryIO:
    """The regular file `name` directly inside `folder`, opened for reading (binary).

    Raises FileNotFoundError when it is absent and CandidateFileError when it is anything else
    than a regular file of at most `max_bytes` bytes.
    """
    if not name or "/" in name or name in (".", ".."):
        raise CandidateFileError(f"{name!r} is not a plain file name")
    folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        try:
            fd = os.open(name, _OPEN_FLAGS, dir_fd=folder_fd)
        except OSError as exc:
            if isinstance(exc, FileNotFoundError):
                raise
            raise CandidateFileError(f"{name} cannot be opened as a plain file ({exc.strerror})") from None
    finally:
        os.close(folder_fd)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise CandidateFileError(f"{name} is not a regular file")
        if info.st_size > max_bytes:
            raise CandidateFileError(f"{name} holds {info.st_size} bytes, more than the {max_bytes} allowed")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_output(folder: str | os.PathLike, name: str, max_bytes: int) -> bytes:
    """The bytes of the regular file `name` in `folder` (see open_output); at most `max_bytes`."""
    with open_output(folder, name, max_bytes) as f:
        return f.read(max_bytes + 1)[:max_bytes]


def stat_output(folder: str | os.PathLike, name: str) -> os.stat_result:
    """lstat of `name` in `folder`, which must be a regular file (a link's target is never looked at)."""
    if not name or "/" in name:
        raise CandidateFileError(f"{name!r} is not a plain file name")
    info = os.stat(os.path.join(folder, name), follow_symlinks=False)
    if not stat.S_ISREG(info.st_mode):
        raise CandidateFileError(f"{name} is not a regular file")
    return info


def read_fd_tail(fd: int, limit: int) -> bytes:
    """The last `limit` bytes of the file open as `fd` (read with pread: the offset is not shared)."""
    size = os.fstat(fd).st_size
    start = max(0, size - limit)
    return os.pread(fd, size - start, start)


def read_fd_all(fd: int, limit: int) -> bytes | None:
    """The whole file open as `fd`, or None when it holds more than `limit` bytes."""
    size = os.fstat(fd).st_size
    if size > limit:
        return None
    chunks, offset = [], 0
    while offset < size:
        chunk = os.pread(fd, min(1 << 20, size - offset), offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


class Captures:
    """The candidate's stdout, stderr and result files, created empty and opened by the harness
    before the candidate starts. Reading them back goes through these descriptors only: whatever
    the candidate does to the names in its folder (a symbolic link to a hidden file, a FIFO), the
    harness reads the files it created, which hold what the candidate process wrote to them."""

    NAMES = ("stdout.txt", "stderr.txt", "result.json")
    TAIL_BYTES = 4000
    MAX_RESULT_BYTES = 256 * 1024 * 1024

    def __init__(self, home: Path):
        self.fds: dict[str, int] = {}
        try:
            for name in self.NAMES:
                flags = os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
                self.fds[name] = os.open(home / name, flags, 0o644)
        except BaseException:
            self.close()
            raise

    def tail(self, name: str) -> str:
        try:
            return read_fd_tail(self.fds[name], self.TAIL_BYTES).decode("utf-8", "replace")
        except (OSError, KeyError):  # KeyError: already closed
            return ""

    def size(self, name: str) -> int:
        try:
            return os.fstat(self.fds[name]).st_size
        except OSError:
            return 0

    def result(self) -> Any:
        """The result record the runner wrote, None when it wrote none."""
        try:
            data = read_fd_all(self.fds["result.json"], self.MAX_RESULT_BYTES)
        except OSError as exc:
            return {"ok": False, "kind": INVALID_OUTPUT, "message": f"unreadable result: {exc}"}
        if data is None:
            return {"ok": False, "kind": INVALID_OUTPUT, "message": "result larger than the limit"}
        if not data:
            return None
        try:
            return json.loads(data)
        except ValueError as exc:
            return {"ok": False, "kind": INVALID_OUTPUT, "message": f"unreadable result: {exc}"}

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds = {}
