"""The evaluation's writable space: a size-limited tmpfs on the worker's folder.

Owns: mounting a tmpfs of `[limits] disk_mb` on an evaluation's folder before its worker starts,
and removing it when the stage ends. Everything the evaluation writes lives there: the worker's
files and every candidate's home (RLIMIT_FSIZE bounds one file, this bounds them all, and their
number). The pages count as memory, bounded by the same size. The mount is in the host's mount
namespace, so the docker daemon sees the homes it binds; the engine's reaper (reaper.py) removes
what a killed engine left mounted, and should the reaper be gone too, the next engine's first mount
detaches those whose engine process no longer exists (each mount names its engine's pid). Root
only: elsewhere `mount_scratch` returns False and the backend's description says the disk is
bounded per file only.

Must not: start processes, or read what is written there.
"""

from __future__ import annotations

import ctypes
import functools
import os
import shutil
from pathlib import Path

from adrs.sandbox.reaper import forget_mount, watch_mount

MS_NOSUID = 0x2
MS_NODEV = 0x4
MNT_DETACH = 2
SOURCE = "adrs-scratch"  # the mount's source is SOURCE-<pid of the engine that mounted it>


@functools.cache
def scratch_available() -> bool:
    if os.geteuid() != 0 or os.environ.get("ADRS_NO_SCRATCH") == "1":
        return False
    _detach_orphans()
    return True


def _detach_orphans() -> None:
    """Detach the tmpfs of engines that died with their reaper (a pid reused since is left alone)."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return
    for line in lines:
        fields = line.split(" - ", 1)
        if len(fields) != 2:
            continue
        fstype, source, *_ = fields[1].split()
        owner = source.removeprefix(SOURCE + "-")
        if fstype != "tmpfs" or owner == source or not owner.isdigit() or _alive(int(owner)):
            continue
        unmount_scratch(Path(_unescape(fields[0].split()[4])), tell_reaper=False)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes."""
    for char in (" ", "\t", "\n", "\\"):
        field = field.replace(f"\\{ord(char):03o}", char)
    return field


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def mount_scratch(path: Path, size_mb: int) -> bool:
    """Mount a tmpfs of `size_mb` MiB (mode 0700) on the empty folder `path`; False where it cannot."""
    if not scratch_available():
        return False
    watch_mount(str(path))  # told first: an engine killed right after the mount still has it removed
    libc = _libc()
    flags = ctypes.c_ulong(MS_NOSUID | MS_NODEV)
    data = f"size={int(size_mb)}m,mode=0700".encode()
    if libc.mount(f"{SOURCE}-{os.getpid()}".encode(), os.fsencode(path), b"tmpfs", flags, data) != 0:
        forget_mount(str(path))
        return False
    return True


def unmount_scratch(path: Path, tell_reaper: bool = True) -> None:
    """Detach the tmpfs (its pages are freed once nothing holds a file open in it)."""
    libc = _libc()
    libc.umount2(os.fsencode(path), ctypes.c_int(MNT_DETACH))
    if tell_reaper:
        forget_mount(str(path))
    else:
        shutil.rmtree(path, ignore_errors=True)
