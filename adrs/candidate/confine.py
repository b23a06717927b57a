"""Confines a candidate's process before any candidate code runs (the `process` backend).

Standalone: imports nothing from adrs. The backend (adrs/sandbox/process.py) writes its bytecode
into the candidate's folder and starts `python -I -B confine.pyc CONFIG.json runner.py ARGS...`:
it confines this very interpreter, then runs the harness's runner.py (adrs/candidate/runner.py)
as __main__ in it (no second interpreter start), from the runner.pyc the backend wrote beside it.
It imports only what an interpreter has loaded anyway or costs next to nothing (each import is
paid at every candidate start).
It runs as root, as PID 1 of fresh PID, mount, IPC and UTS namespaces made by unshare(1) (the
network namespace comes from the backend). It builds a new root on a small tmpfs, the same view
bwrap gives: read-only binds of the folders the config names (/usr, the Python runtime, the
packages the driver imports), the merged-/usr links, the candidate's home (the one writable
folder), a fresh /proc with /proc/sys and the kernel's trigger files shielded, a minimal /dev
(null, zero, full, random, urandom, no terminal; GPU nodes only when the config lists them), and
size-limited private /tmp and /dev/shm. It pivots into that root and detaches the host's, so no
other folder of the host (sibling evaluations, the project tree, data) is reachable. Then it drops
every capability, locks the secure bits and sets no_new_privs.

Every step is an in-process system call, so the candidate zygote (adrs/sandbox/zygote.py) runs them
in each child it forks (`confine_and_run`, with the config from the launch message): all of them
after the launch (`apply`), or, for a child forked one launch ahead, the root built before its
launch (`build_root`, without the home, which is a host folder that may not exist yet) and the rest
after it (`finish`), where the home arrives as a detached mount the trusted side cloned with
open_tree(2) and is attached with move_mount(2). Must not: run or import candidate code; fail open
(any step that fails raises, and the candidate is not run).
"""

import _frozen_importlib_external  # already loaded by every interpreter: the bytecode magic
import ctypes
import json
import marshal
import os
import sys

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MNT_DETACH = 2
PR_CAPBSET_DROP = 24
PR_SET_SECUREBITS = 28
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
# SECBIT_NOROOT, SECBIT_NO_SETUID_FIXUP, SECBIT_KEEP_CAPS_LOCKED, SECBIT_NO_CAP_AMBIENT_RAISE and
# their locks: uid 0 gains nothing from exec, and the bits cannot be changed back.
SECURE_BITS = 0x1 | 0x2 | 0x4 | 0x8 | 0x20 | 0x40 | 0x80
CAPABILITY_VERSION_3 = 0x20080522
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "ppc64le": 203, "s390x": 217, "riscv64": 41}
# Read-only in the candidate's /proc (writable by uid 0 without capabilities, or telling too much).
PROC_READONLY = ("sys", "bus", "fs", "irq")
PROC_COVERED = ("sysrq-trigger", "kcore", "keys", "timer_list", "sched_debug", "latency_stats", "kmsg")
DEV_LINKS = (("/proc/self/fd", "fd"), ("/proc/self/fd/0", "stdin"), ("/proc/self/fd/1", "stdout"),
             ("/proc/self/fd/2", "stderr"))  # fmt: skip
# The mount API's calls have these numbers on every architecture (added after the numbers unified).
SYS_OPEN_TREE, SYS_MOVE_MOUNT = 428, 429
OPEN_TREE_CLONE = 1
MOVE_MOUNT_F_EMPTY_PATH = 0x4
AT_FDCWD = -100
BUILD_BASE = "/tmp"  # any folder: the new root is assembled on a tmpfs mounted over it
OLD, NEW = "/oldroot", "/newroot"

_libc = ctypes.CDLL(None, use_errno=True)


def _bytes(text):
    return None if text is None else os.fsencode(text)


def _check(result, what):
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source, target, fstype, flags, data=None):
    _check(_libc.mount(_bytes(source), _bytes(target), _bytes(fstype), ctypes.c_ulong(flags), _bytes(data)),
           f"mount on {target}")  # fmt: skip


def _pivot_root(new_root, put_old):
    machine = os.uname().machine  # not platform.machine(): `platform` costs milliseconds of imports per candidate
    number = SYS_PIVOT_ROOT.get(machine)
    if number is None:
        raise OSError(38, f"pivot_root: unknown system call number on {machine}")
    _check(_libc.syscall(ctypes.c_long(number), _bytes(new_root), _bytes(put_old)), "pivot_root")


def _umount(target):
    _check(_libc.umount2(_bytes(target), ctypes.c_int(MNT_DETACH)), f"umount {target}")


def _inside(path, folder):
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _mount_point(target, is_dir):
    """Create an empty folder or file at `target` (inside the new root) to mount on."""
    if is_dir:
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.lexists(target):
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT, 0o444))


def _bind(path, readonly, flags=MS_NOSUID | MS_NODEV, where=None):
    """Show the host's `path` (a real path: links resolve against the host's root only in the
    trusted caller) at `where` (default: the same place) in the new root."""
    source, target = OLD + path, NEW + (where or path)
    _mount_point(target, os.path.isdir(source))
    _mount(source, target, None, MS_BIND)
    _mount(None, target, None, MS_REMOUNT | MS_BIND | flags | (MS_RDONLY if readonly else 0))


def _tmpfs(target, size, mode, flags=MS_NOSUID | MS_NODEV):
    os.makedirs(target, exist_ok=True)
    _mount("tmpfs", target, "tmpfs", flags, f"size={size},mode={mode}")


def _cover(path):
    """Hide a path that lies inside a shown folder: an empty read-only tmpfs, or /dev/null."""
    target = NEW + path
    if os.path.isdir(target) and not os.path.islink(target):
        _tmpfs(target, "4k", "0555", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
    elif os.path.lexists(target) and not os.path.islink(target):
        _mount(OLD + "/dev/null", target, None, MS_BIND)


def _build_proc():
    _mount_point(NEW + "/proc", True)
    _mount("proc", NEW + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for name in PROC_READONLY:
        target = f"{NEW}/proc/{name}"
        if os.path.isdir(target):
            _mount(target, target, None, MS_BIND | MS_REC)
            _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for name in PROC_COVERED:
        target = f"{NEW}/proc/{name}"
        if os.path.exists(target):
            _mount(OLD + "/dev/null", target, None, MS_BIND)


def _build_dev(config):
    dev = NEW + "/dev"
    _tmpfs(dev, "64k", "0755", MS_NOSUID)
    for name in config.get("device_nodes", ()):
        _mount_point(f"{dev}/{name}", False)
        _mount(f"{OLD}/dev/{name}", f"{dev}/{name}", None, MS_BIND)
    for path in config.get("devices", ()):  # GPU nodes, for problems that declare them
        _mount_point(NEW + path, False)
        _mount(OLD + path, NEW + path, None, MS_BIND)
    for target, name in DEV_LINKS:
        os.symlink(target, f"{dev}/{name}")
    size = f"{int(config.get('tmpfs_mb', 64))}m"
    _tmpfs(f"{dev}/shm", size, "1777")
    _mount(None, dev, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID)


def apply(config):
    """Confine this process as `config` says: the new root with the home bound in it, then `finish`."""
    build_root(config, config["home"])
    finish(config["home"])


def build_root(config, home=None):
    """Build the new root and pivot into it, the host's detached: everything but the last steps
    (`finish`). With `home` None the home is not bound here: a process built ahead of its launch
    (adrs/sandbox/zygote.py) gets it later as a mount tree (`finish`), and every hidden path is
    covered (its caller makes sure the home lies in none)."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    # Step onto a scratch tmpfs so the host's root can be reached at /oldroot while the new one is built.
    _tmpfs(BUILD_BASE, "1m", "0755")
    os.mkdir(BUILD_BASE + NEW)
    os.mkdir(BUILD_BASE + OLD)
    os.chdir(BUILD_BASE)
    _pivot_root(".", "." + OLD)
    os.chdir("/")
    _tmpfs(NEW, "1m", "0755")
    size = f"{int(config.get('tmpfs_mb', 64))}m"
    _tmpfs(NEW + "/tmp", size, "1777")  # first: what is shown below /tmp (the home) is bound inside it
    for path, where in config.get("shown", ()):
        if os.path.lexists(OLD + path):
            _bind(path, readonly=True, where=where)
    for target, path in config.get("links", ()):
        os.symlink(target, NEW + path)
    for path in config.get("hidden", ()):
        if home is None or not _inside(os.path.realpath(home), path):
            _cover(path)
    if home is not None:
        _bind(os.path.realpath(home), readonly=False)
    if config.get("sys"):
        _bind("/sys", readonly=True, flags=MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _build_proc()
    _build_dev(config)
    _umount(OLD)
    os.chdir(NEW)
    _pivot_root(".", ".")  # the scratch root lands on top of the new one: detach it
    _umount(".")
    os.chdir("/")


def finish(home, home_tree=None):
    """The last steps, in the new root: the home (from `home_tree`, a detached mount of it the
    trusted side made with open_tree, where the root was built without it), the root read-only,
    the home as working folder, no capabilities."""
    home = os.path.realpath(home) if home_tree is None else home
    if home_tree is not None:
        _attach(home_tree, home)
    _mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chdir(home)
    _drop_capabilities()


def _attach(tree, target):
    """Mount the detached tree `tree` (a descriptor, closed here) at `target`, writable, as `_bind`
    would have shown it."""
    try:
        _mount_point(target, True)
        moved = _libc.syscall(ctypes.c_long(SYS_MOVE_MOUNT), ctypes.c_int(tree), b"", ctypes.c_int(AT_FDCWD),
                              _bytes(target), ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH))  # fmt: skip
        _check(moved, f"move_mount on {target}")
    finally:
        os.close(tree)
    _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV)


def attaches_here(tree, folder):
    """In a throwaway process in a mount namespace of its own: whether the detached mount `tree`
    (closed here) attaches below `folder`, over which a small tmpfs is mounted first (in this
    namespace only). The candidate zygote's probe (adrs/sandbox/zygote_child.py, trees_attach)."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _tmpfs(folder, "64k", "0755")
    _attach(tree, folder + "/home")
    return os.path.isdir(folder + "/home")


def open_tree(path):
    """A detached copy of the mount at `path` (that folder only, not what is mounted below it),
    as a descriptor to hand to a process built ahead (`finish`); OSError where the kernel has no
    open_tree (before 5.2) or refuses it."""
    fd = _libc.syscall(ctypes.c_long(SYS_OPEN_TREE), ctypes.c_int(AT_FDCWD), _bytes(path),
                       ctypes.c_uint(OPEN_TREE_CLONE | os.O_CLOEXEC))  # fmt: skip
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"open_tree {path}: {os.strerror(err)}")
    return fd


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


def apply_file(path):
    with open(path) as f:
        apply(json.load(f))


def main():
    try:
        apply_file(sys.argv[1])
    except Exception as exc:  # noqa: BLE001 - fail closed: no candidate code runs unconfined
        _refuse(exc)
    sys.argv = sys.argv[2:]
    _run_as_main(sys.argv[0])


def confine_and_run(config, argv, home_tree=None, built=False, compiled=None):
    """What `main` does for a process the candidate zygote forked (config and runner's command
    line from its launch message): confined by `apply`, or by `finish` where the root was built
    ahead (`built`: the home comes as `home_tree`); then the runner as __main__, from `compiled`
    (the zygote's own compile of the runner, with its source) where the runner file holds that
    source."""
    try:
        if built:
            finish(config["home"], home_tree)
        else:
            apply(config)
    except Exception as exc:  # noqa: BLE001 - fail closed: no candidate code runs unconfined
        _refuse(exc)
    sys.argv = list(argv)
    _run_as_main(sys.argv[0], compiled)


def _refuse(exc):
    sys.stderr.write(f"adrs: the sandbox could not be set up, the candidate was not run: {exc}\n")
    os._exit(125)


def _run_as_main(path, compiled=None):
    """Run the script at `path` as __main__ in a fresh module (what runpy.run_path does, without
    importing runpy and the import machinery it pulls in: milliseconds of CPU per candidate), from
    `compiled` (a pair: its source, its code) where the file holds that source, else from the
    bytecode the backend wrote beside it where there is one."""
    code = _precompiled(path, compiled) or _bytecode_beside(path)
    if code is None:
        with open(path, "rb") as f:
            code = compile(f.read(), path, "exec")
    module = type(sys)("__main__")
    module.__dict__.update(__file__=path, __builtins__=__builtins__, __loader__=None, __spec__=None, __package__=None)
    sys.modules["__main__"] = module
    exec(code, module.__dict__)


def _precompiled(path, compiled):
    if compiled is None:
        return None
    source, code = compiled
    try:
        with open(path, "rb") as f:
            return code if f.read() == source else None
    except OSError:
        return None


def _bytecode_beside(path):
    """The code in PATH + "c" (written by the trusted backend before this process started; the
    candidate has not run yet), or None when there is none for this interpreter."""
    try:
        with open(path + "c", "rb") as f:
            data = f.read()
    except OSError:
        return None
    if data[:4] != _frozen_importlib_external.MAGIC_NUMBER:
        return None
    return marshal.loads(data[16:])


if __name__ == "__main__":
    main()
