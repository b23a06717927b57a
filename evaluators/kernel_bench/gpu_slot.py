"""GPU slots: at most one candidate benchmarks on a GPU at a time, so timings do not interfere.

A slot is an exclusive `flock` on `<lock dir>/gpu-<index>.lock`, one file per visible GPU. The lock
dir is $ADRS_GPU_LOCK_DIR, else <system temp>/adrs-gpu-locks; every evaluation worker on a machine
must see the same directory (a sandbox with a private /tmp needs ADRS_GPU_LOCK_DIR pointing at a
shared path). The trusted evaluator holds the slot for the whole benchmark: the candidate process,
then the trusted reference recomputation. The kernel drops a flock when its holder dies, so a
killed worker never leaves a GPU locked. `<index>` counts the GPUs this process sees (after
CUDA_VISIBLE_DEVICES); workers that see different GPU sets must use different lock dirs.

CPU benchmarks take the slot "cpu" only when ADRS_KERNEL_BENCH_CPU_SLOT=1 (then parallel CPU
evaluations time one after the other; by default they run side by side and timings are noisier).

Must not: pick devices for anything other than kernel benchmarks, or hold a slot across evaluations.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


class SlotTimeout(TimeoutError):
    """No slot became free in time."""


def lock_dir() -> Path:
    chosen = os.environ.get("ADRS_GPU_LOCK_DIR") or str(Path(tempfile.gettempdir()) / "adrs-gpu-locks")
    path = Path(chosen)
    path.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(PermissionError):
        path.chmod(0o1777)  # shared by workers running as different users
    return path


@contextlib.contextmanager
def slot(names: list[str], wait_s: float = 3600.0, poll_s: float = 0.05) -> Iterator[str]:
    """Hold an exclusive lock on one of `names` (the first free one); yield its name."""
    if not names:
        raise ValueError("no slot names given")
    folder = lock_dir()
    handles = [open(folder / f"{name}.lock", "a+") for name in names]  # noqa: SIM115 - closed below
    deadline = time.monotonic() + wait_s
    held: int | None = None
    try:
        start = os.getpid() % len(names)  # spread concurrent workers over the GPUs
        order = [(start + i) % len(names) for i in range(len(names))]
        while held is None:
            for index in order:
                try:
                    fcntl.flock(handles[index].fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    held = index
                    break
                except BlockingIOError:
                    continue
            if held is None:
                if time.monotonic() > deadline:
                    raise SlotTimeout(f"no free slot among {names} after {wait_s:g} s (lock dir {folder})")
                time.sleep(poll_s)
        handles[held].seek(0)
        handles[held].truncate()
        handles[held].write(f"{os.getpid()}\n")  # who holds it, for people looking at the lock dir
        handles[held].flush()
        yield names[held]
    finally:
        if held is not None:
            fcntl.flock(handles[held].fileno(), fcntl.LOCK_UN)
        for handle in handles:
            handle.close()


@contextlib.contextmanager
def device_slot(wait_s: float = 3600.0) -> Iterator[str]:
    """Yield the torch device to benchmark on ("cuda:N" under its GPU slot, or "cpu")."""
    import torch

    if torch.cuda.is_available() and torch.cuda.device_count() > 0:
        names = [f"gpu-{i}" for i in range(torch.cuda.device_count())]
        with slot(names, wait_s) as name:
            yield f"cuda:{name.removeprefix('gpu-')}"
    elif os.environ.get("ADRS_KERNEL_BENCH_CPU_SLOT") == "1":
        with slot(["cpu"], wait_s):
            yield "cpu"
    else:
        yield "cpu"
