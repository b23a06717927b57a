"""Libraries the warm server imports once, so each evaluation worker it forks finds them loaded.

The warm server (adrs/evaluate/warm_server.py) forks one evaluation worker per stage from a
pristine copy of its own memory, so whatever it imports before serving is imported once per server
instead of once per stage. numpy is the one library worth it: a dependency of adrs, imported by the
built-in evaluators (through evaluators/) and by most others, and ≈ 55 ms of CPU to import plus
≈ 10 ms for numpy.random, more than the rest of a forked worker's start (docs/benchmarks.md,
"numpy imported once per warm server").

What keeps a forked worker what a fresh import would have made:

- Threads: a process that forks must be single-threaded (the server refuses to fork otherwise),
  and numpy's BLAS starts its thread pool at import unless told to use one thread. So numpy is
  preloaded only where the environment asks for one BLAS/OpenMP thread (ADRS_THREADS_PER_EVAL
  unset or 1, which the scrubbed environment passes down as OMP_NUM_THREADS, MKL_NUM_THREADS and
  OPENBLAS_NUM_THREADS): the setting a worker's own import would have seen.
- Random state: a fresh import seeds numpy's global RandomState from the operating system's
  entropy; a forked copy would share the server's. `reseed_in_child` draws fresh entropy in each
  child, as CPython's `random` does for itself after a fork.
- Memory: numpy maps ≈ 95 MB of address space (OpenBLAS's buffers), which RLIMIT_AS counts. A
  worker gets its limit raised by what the preload mapped (what `preload` returns; the server
  itself is started with PRELOAD_ALLOWANCE_MB more), so an evaluator that never imports
  numpy keeps the headroom it had cold.

Candidates are not preloaded: the candidate zygote (adrs/sandbox/zygote.py) stays numpy-free, since
a candidate's memory limit is part of what it is scored under and it must not depend on how the
candidate was started. `ADRS_NO_PRELOAD=1` turns this off (benchmarks compare; warm.py passes it
down).

`import_all_or_none` is shared with the warm server's import of the evaluator's own modules
(adrs/evaluate/evaluator_imports.py, which decides what those are and whether they are safe).

Must not: import (in `preload`) anything but the libraries named in PRELOADED; import problem,
evaluator or candidate code of its own accord; start threads.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterable

PRELOADED = ("numpy", "numpy.random")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
NO_PRELOAD_ENV = "ADRS_NO_PRELOAD"
PRELOAD_ALLOWANCE_MB = 256  # added to the server's own address-space limit, so the preload fits


def preload_turned_off() -> bool:
    """Whether the user turned the preload off (`ADRS_NO_PRELOAD=1`)."""
    return os.environ.get(NO_PRELOAD_ENV) == "1"


def preload_wanted() -> bool:
    """Whether this process may preload: not turned off, and one BLAS/OpenMP thread asked for."""
    return not preload_turned_off() and all(os.environ.get(name) == "1" for name in THREAD_VARIABLES)


def preload() -> int:
    """Import PRELOADED where wanted and installed; the address space that mapped, in MiB rounded
    up (0 where nothing was preloaded). A library that fails to import (missing, or the
    address-space limit too small) is taken out of sys.modules again, so no child finds it half
    loaded; nothing is preloaded then."""
    if not preload_wanted():
        return 0
    before = address_space()
    if not import_all_or_none(PRELOADED):
        return 0
    return -(-max(0, address_space() - before) // (1 << 20))


def import_all_or_none(names: Iterable[str]) -> bool:
    """Import `names` in order; where one fails (missing, the address-space limit too small, an
    error at import), take every module they brought in out of sys.modules again, so no child
    finds one half loaded (each imports, or misses, it as it would have), and say False."""
    before = set(sys.modules)
    try:
        for name in names:
            importlib.import_module(name)
    except BaseException:  # noqa: BLE001 - a SystemExit at import too: this process goes on
        for name in set(sys.modules) - before:
            del sys.modules[name]
        return False
    return True


def reseed_in_child() -> None:
    """In a freshly forked child: fresh entropy for numpy's global random state, as a fresh import
    would have (no-op where numpy.random was not preloaded)."""
    random = sys.modules.get("numpy.random")
    if random is not None:
        random.seed()


def address_space() -> int:
    """This process's mapped address space in bytes (VmSize: what RLIMIT_AS counts)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0
