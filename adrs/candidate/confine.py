"""Confines a candidate's process before any candidate code runs (the `process` backend).

Standalone: imports nothing from adrs. The backend (adrs/sandbox/process.py) copies it into the
candidate's folder and starts `python -I confine.py CONFIG.json runner.py ARGS...`: it confines
this very interpreter, then runs the harness's runner.py (adrs/candidate/runner.py) as __main__
in it (no second interpreter start).
It runs as root, as PID 1 of a fresh PID namespace, in a private mount namespace, all made by
unshare(1). It covers the hidden paths (archive, problem directory, data, credentials) with empty
read-only mounts, gives the candidate a private /dev/shm, makes every other mount read-only (per
mount point, never the shared superblock) except the candidate's home, shields /proc/sys and
/proc/sysrq-trigger, then drops every capability, locks the secure bits and sets no_new_privs.

Must not: run or import candidate code; fail open (any step that fails raises, and the runner then
refuses to load the candidate).
"""

import ctypes
import json
import os
import runpy
import sys

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MS_RELATIME = 0x200000
_OPTION_FLAGS = {
    "nosuid": MS_NOSUID,
    "nodev": MS_NODEV,
    "noexec": MS_NOEXEC,
    "noatime": MS_NOATIME,
    "nodiratime": MS_NODIRATIME,
    "relatime": MS_RELATIME,
}
PR_CAPBSET_DROP = 24
PR_SET_SECUREBITS = 28
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
# SECBIT_NOROOT, SECBIT_NO_SETUID_FIXUP, SECBIT_KEEP_CAPS_LOCKED, SECBIT_NO_CAP_AMBIENT_RAISE and
# their locks: uid 0 gains nothing from exec, and the bits cannot be changed back.
SECURE_BITS = 0x1 | 0x2 | 0x4 | 0x8 | 0x20 | 0x40 | 0x80
CAPABILITY_VERSION_3 = 0x20080522
SHIELDED_PROC_FILES = ("/proc/sysrq-trigger",)

_libc = ctypes.CDLL(None, use_errno=True)


def _bytes(text):
    return None if text is None else os.fsencode(text)


def _mount(source, target, fstype, flags, data=None):
    if _libc.mount(_bytes(source), _bytes(target), _bytes(fstype), ctypes.c_ulong(flags), _bytes(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount on {target}: {os.strerror(err)}")


def _unescape(field):
    """mountinfo escapes space, tab, newline and backslash as octal."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and len(field[i + 1 : i + 4]) == 3 and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mount_points():
    """(mount point, per-mount flags) of every mount in this namespace, parents first."""
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            flags = 0
            for option in fields[5].split(","):
                flags |= _OPTION_FLAGS.get(option, 0)
            points.append((_unescape(fields[4]), flags))
    return points


def _inside(path, folder):
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _hide(path, home):
    if _inside(home, path) or not os.path.lexists(path):
        return  # never cover the candidate's own folder (or what holds it)
    if os.path.isdir(path) and not os.path.islink(path):
        _mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0555")
    else:
        _mount("/dev/null", os.path.realpath(path), None, MS_BIND)


def _drop_capabilities():
    if _libc.prctl(PR_SET_SECUREBITS, SECURE_BITS, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECUREBITS) failed")
    for cap in range(64):
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            break  # EINVAL past the last capability the kernel knows
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    if _libc.capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    with open("/proc/self/status") as f:
        effective = next(line.split()[1] for line in f if line.startswith("CapEff:"))
    if int(effective, 16) != 0:
        raise OSError(1, f"capabilities remain after dropping them: {effective}")


def apply(config):
    home = os.path.realpath(config["home"])
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    covered = []
    for path in config.get("hidden", []):
        path = os.path.realpath(path)
        _hide(path, home)
        if os.path.isdir(path) and not _inside(home, path):
            covered.append(path)
    _mount(home, home, None, MS_BIND | MS_REC)  # its own mount point: stays writable below
    os.chdir(home)  # the old working directory still points into the mount that turns read-only
    if os.path.isdir("/dev/shm"):
        _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=256m,mode=1777")
    _mount("/proc/sys", "/proc/sys", None, MS_BIND | MS_REC)
    for path in SHIELDED_PROC_FILES:
        if os.path.exists(path):
            _mount("/dev/null", path, None, MS_BIND)
    for point, flags in mount_points():
        if _inside(point, home) or point in ("/proc", "/dev/shm"):
            continue
        if any(_inside(point, folder) and point != folder for folder in covered):
            continue  # beneath a covered folder: out of sight (and out of reach)
        # MS_BIND makes this a per-mount change: without it the remount would turn the shared
        # filesystem read-only for every process on the machine.
        try:
            _mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags)
        except OSError:
            if point == "/" or _inside(home, point):
                raise
            _mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags | MS_NOSUID | MS_NODEV)
    _drop_capabilities()


def apply_file(path):
    with open(path) as f:
        apply(json.load(f))


def main():
    try:
        apply_file(sys.argv[1])
    except Exception as exc:  # noqa: BLE001 - fail closed: no candidate code runs unconfined
        sys.stderr.write(f"adrs: the sandbox could not be set up, the candidate was not run: {exc}\n")
        os._exit(125)
    runner = sys.argv[2]
    sys.argv = sys.argv[2:]
    runpy.run_path(runner, run_name="__main__")


if __name__ == "__main__":
    main()
