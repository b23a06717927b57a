"""The evaluation's writable space: a size-limited tmpfs on the worker's folder.

Owns: mounting a tmpfs of `[limits] disk_mb` on an evaluation's folder before its worker starts,
and removing it when the stage ends. Everything the evaluation writes lives there: the worker's
files and every candidate's home (RLIMIT_FSIZE bounds one file, this bounds them all, and their
number). The pages count as memory, bounded by the same size. The mount is in the host's mount
namespace, so the docker daemon sees the homes it binds; the engine's reaper (reaper.py) removes
what a killed engine left mounted. Root only: elsewhere `mount_scratch` returns False and the
backend's description says the disk is bounded per file only.

Must not: start processes, or read what is written there.
"""

from __future__ import annotations

import ctypes
import functools
import os
from pathlib import Path

from adrs.sandbox.reaper import forget_mount, watch_mount

MS_NOSUID = 0x2
MS_NODEV = 0x4
MNT_DETACH = 2
SOURCE = "adrs-scratch"


@functools.cache
def scratch_available() -> bool:
    return os.geteuid() == 0 and os.environ.get("ADRS_NO_SCRATCH") != "1"


def mount_scratch(path: Path, size_mb: int) -> bool:
    """Mount a tmpfs of `size_mb` MiB (mode 0700) on the empty folder `path`; False where it cannot."""
    if not scratch_available():
        return False
    watch_mount(str(path))  # told first: an engine killed right after the mount still has it removed
    libc = ctypes.CDLL(None, use_errno=True)
    flags = ctypes.c_ulong(MS_NOSUID | MS_NODEV)
    data = f"size={int(size_mb)}m,mode=0700".encode()
    if libc.mount(SOURCE.encode(), os.fsencode(path), b"tmpfs", flags, data) != 0:
        forget_mount(str(path))
        return False
    return True


def unmount_scratch(path: Path) -> None:
    """Detach the tmpfs (its pages are freed once nothing holds a file open in it)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.umount2(os.fsencode(path), ctypes.c_int(MNT_DETACH))
    forget_mount(str(path))
