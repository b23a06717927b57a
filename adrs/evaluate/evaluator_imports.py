"""The modules a problem's evaluator imports at its top level, imported once by its warm server.

A stage's worker is a fresh fork of the problem's warm server (adrs/evaluate/warm_server.py), so a
module the server imported before forking is one the worker finds loaded. The evaluator's own
helpers are the costly imports of most problems (evaluators.prism ≈ 6 ms, evaluators.txn_scheduling
≈ 9 ms of every stage: docs/benchmarks.md, "The evaluator's imports preloaded"). Owns: reading which
modules an evaluator imports at module level and which driver files beside it it names (its source
parsed, never run), importing those modules into the server before it forks any worker, and having
the drivers' candidate views worked out there too (adrs/sandbox/views.py, remember_driver_view: the
closure of project modules a driver imports, which each worker otherwise parsed again at each stage,
2-14 ms for the built-in drivers).

What keeps a worker what it was:

- The evaluator module itself still runs in each worker, for its stage, in the stage's environment,
  folder and limits (adrs/evaluate/worker.py); only what it imports was imported earlier, once per
  server, in the server's (the same variables less the stage's tag and folder). A worker changes
  its copy of a helper's state, never the server's: the next worker is forked from the untouched one.
- A server must stay single-threaded to fork, and a worker closes every descriptor but its stage's.
  A forked trial child imports the modules first (in a session of its own, killed with everything
  it started once it answered) and reports which imported and whether it is left as it was: one
  thread, no descriptor and no child process more, the drivers' views worked out too (which
  imports their packages). The server imports only after a trial that answered in time and so,
  and only what imported there; a module that starts a thread, keeps a
  file open or starts a process at import is imported by each worker, as before. What still fails
  in the server is taken out of sys.modules again, with everything it brought in.
- Nothing is written into the problem's folder (no bytecode), as in a worker.
- A helper edited during a run is seen by the next server, not the next stage; so is a module a
  driver imports (a driver file itself that changes is worked out again: its view is kept for its
  identity only).

Not for peer folders (OpenEvolve, ShinkaEvolve): their evaluators import stand-ins the worker
installs (adrs/formats/in_worker.py); the runner names no evaluator for them. `ADRS_NO_PRELOAD=1`
turns this off with the numpy preload (adrs/sandbox/preload.py).

Must not: run the evaluator module; import anything in the server that its trial did not import;
be used anywhere but in a warm server before it forks.
"""

from __future__ import annotations

import ast
import contextlib
import ctypes
import functools
import importlib
import json
import os
import select
import signal
import sys
import time

from adrs.sandbox.preload import import_all_or_none
from adrs.sandbox.process import PR_SET_PDEATHSIG
from adrs.sandbox.views import remember_driver_view

# A trial that has not answered by then is killed and nothing is preloaded: the trial and the
# server's own imports then fit in the engine's wait for its first worker (warm.FORK_REPLY_S, 60 s).
TRIAL_S = 20.0
MAX_SOURCE_BYTES = 1 << 20  # an evaluator larger than this is not parsed for its imports


@functools.lru_cache(maxsize=2)
def _parsed(source: str) -> ast.Module | None:
    """The evaluator's syntax tree, parsed once for its imports and the drivers it names (read only)."""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        return None


def top_level_imports(source: str) -> list[str]:
    """Absolute names of the modules `source` imports in statements at its top level, in order (`from
    a import b` also names a.b, which may be a submodule). Relative imports, __future__ and imports
    inside functions, classes or blocks are left out: a worker imports those itself, if it reaches them."""
    tree = _parsed(source)
    if tree is None:
        return []
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module != "__future__":
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names if alias.name != "*"]
    return list(dict.fromkeys(names))


def drivers_named(source: str, evaluator: str) -> list[str]:
    """The files beside `evaluator` whose names its source holds as a string (`DRIVER =
    Path(__file__).with_name("driver.py")`): the drivers its candidates run with, most likely."""
    tree = _parsed(source)
    if tree is None:
        return []
    folder = os.path.dirname(os.path.abspath(evaluator))
    names = {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.endswith(".py")
    }
    found = [os.path.join(folder, name) for name in sorted(names) if os.path.basename(name) == name]
    return [path for path in found if os.path.isfile(path) and not os.path.samefile(path, evaluator)]


def preload_imports(evaluator: str, problem_root: str) -> list[str]:
    """Import into this process the modules `evaluator` imports at its top level that are not loaded
    yet, and work out the views of the drivers it names (views.remember_driver_view), where a trial
    child showed that safe (above); the modules imported. The problem's folder is on sys.path
    meanwhile, as a worker puts it."""
    try:
        with open(evaluator, "rb") as f:
            raw = f.read(MAX_SOURCE_BYTES + 1)
    except OSError:
        return []
    if len(raw) > MAX_SOURCE_BYTES:
        return []
    source = raw.decode("utf-8", "replace")
    wanted = [name for name in top_level_imports(source) if name not in sys.modules]
    drivers = drivers_named(source, evaluator)
    if not wanted and not drivers:
        return []
    with _problem_on_path(problem_root):
        safe = _trial(wanted, drivers)
        if safe is None:
            return []
        if not import_all_or_none(safe):
            return []
        _remember_views(drivers)
        return safe


def _remember_views(drivers: list[str]) -> None:
    for driver in drivers:
        with contextlib.suppress(Exception):  # not remembered: each worker works it out, as before
            remember_driver_view(driver)


@contextlib.contextmanager
def _problem_on_path(problem_root: str):
    """The problem's folder first on sys.path, no bytecode written, for the imports; sys.path as it
    was afterwards (a worker puts the folder there itself)."""
    was = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    sys.path.insert(0, problem_root)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(problem_root)
        sys.dont_write_bytecode = was


def _import_each(names: list[str]) -> list[str]:
    """Import each of `names` that imports (a.b where b is a function, not a module, does not)."""
    imported = []
    for name in names:
        try:
            importlib.import_module(name)
        except BaseException:  # noqa: BLE001, S112 - not preloaded: the worker imports it, or fails, as before
            continue
        imported.append(name)
    return imported


def _state() -> dict[str, int]:
    """What a process about to fork must not have gained: threads (it forks with one), descriptors
    (a worker closes all but its stage's: a module holding one would find it gone), child processes."""
    try:
        with open(f"/proc/self/task/{os.getpid()}/children") as f:
            children = len(f.read().split())
    except OSError:
        children = -1
    return {
        "threads": len(os.listdir("/proc/self/task")),
        "fds": len(os.listdir("/proc/self/fd")),
        "children": children,
    }


def _trial(names: list[str], drivers: list[str]) -> list[str] | None:
    """In a forked child: which of `names` import, and whether, with the views of `drivers` worked
    out too (which imports their packages), the child is left as it was (one thread, no descriptor
    or child process more). The names that imported where the child answered in time and clean,
    else None."""
    read_end, write_end = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    server = os.getpid()
    pid = os.fork()
    if pid == 0:  # the trial child: never returns
        try:
            os.close(read_end)
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # dies with the server
            if os.getppid() != server:  # the server died before that
                os._exit(0)
            os.setsid()  # whatever an import starts is in this session, killed with it
            before = _state()
            imported = _import_each(names)
            _remember_views(drivers)
            after = _state()
            left = after["threads"] == 1 and after["fds"] <= before["fds"] and after["children"] == before["children"]
            os.write(write_end, json.dumps({"imported": imported, "clean": left}).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        answer = _read_answer(read_end, time.monotonic() + TRIAL_S)
    finally:
        os.close(read_end)
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)  # its session: whatever an import started
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)  # where it had no session of its own yet
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    if not isinstance(answer, dict) or answer.get("clean") is not True:
        return None
    imported = answer.get("imported")
    return [name for name in names if isinstance(imported, list) and name in imported]


def _read_answer(fd: int, deadline: float) -> object:
    """The trial child's JSON answer, or None where it gave none in time: read until it parses,
    not until end of file, which a process an import forked could hold off."""
    data = b""
    while (left := deadline - time.monotonic()) > 0 and select.select([fd], [], [], left)[0]:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
        with contextlib.suppress(ValueError):
            return json.loads(data)
    return None
