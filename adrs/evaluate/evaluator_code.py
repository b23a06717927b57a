"""The problem's evaluator compiled once by the engine, so a worker does not compile it at every stage.

A worker is a fresh process per stage (forked by the warm server, or started cold) that must not
write bytecode into the problem folder (a user's tree, read-only perhaps), so it compiled the
evaluator's source at every stage: ≈ 0.3-0.8 ms for the built-in evaluators, 2-3x that in a freshly
forked process. The engine compiles it once per run (per version of the file) and sends the code
in the stage's request, which travels on the worker's stdin pipe from the engine: nothing a
candidate could have touched. The worker runs that code only where the file is still the one that
was compiled (device, inode, size and modification time in nanoseconds, as the engine saw them)
and the interpreter reads the same bytecode (its magic number, no optimisation); otherwise it
compiles the file as before.

Owns: `for_request` (engine side) and `load` (worker side). Must not: read anything but the
evaluator file, or write anything.
"""

from __future__ import annotations

import functools
import importlib.util
import marshal
import os
import sys
from pathlib import Path
from types import CodeType
from typing import Any


def _identity(stat: os.stat_result) -> list[int]:
    return [stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns]


def for_request(path: Path) -> dict[str, Any] | None:
    """What a stage's request carries of the evaluator at `path`: its code, the file's identity
    and the bytecode's magic number; None where the file cannot be read or does not compile (the
    worker then reports that as it always did)."""
    try:
        identity = _identity(os.stat(path))
    except OSError:
        return None
    return _compiled(str(path), tuple(identity))


@functools.lru_cache(maxsize=16)
def _compiled(path: str, identity: tuple[int, ...]) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as f:
            source = f.read()
            if _identity(os.fstat(f.fileno())) != list(identity):
                return None  # changed since it was looked at: the worker compiles what it finds
        # As SourceFileLoader compiles it (the path as the worker's spec names it), unoptimised.
        code = compile(source, path, "exec", dont_inherit=True, optimize=0)
    except (OSError, SyntaxError, ValueError):
        return None
    return {"identity": list(identity), "magic": importlib.util.MAGIC_NUMBER.hex(), "code": marshal.dumps(code).hex()}


def load(entry: Any, path: str) -> CodeType | None:
    """In the worker: the engine's code for the evaluator at `path`, or None where there is none,
    the file changed since, or this interpreter reads other bytecode."""
    if not isinstance(entry, dict) or sys.flags.optimize != 0:
        return None
    if entry.get("magic") != importlib.util.MAGIC_NUMBER.hex():
        return None
    try:
        if _identity(os.stat(path)) != entry.get("identity"):
            return None
        code = marshal.loads(bytes.fromhex(entry["code"]))
    except (OSError, KeyError, TypeError, ValueError, EOFError):
        return None
    return code if isinstance(code, CodeType) and code.co_filename == path else None
