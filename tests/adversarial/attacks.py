"""Hostile candidates for the toy problem (`order_jobs(jobs)` -> a permutation), one per attack.

Each attack is program text built from a template with the test's targets filled in (paths, the
loopback port, a marker). An attack that *observes* something (a file, a connection, a key) raises
`ESCAPED: ...` when it succeeds and otherwise returns the optimal order, so a score of 100 proves it
failed. Attacks that disrupt (fork bombs, floods, kills) must end as a recorded failure, or an
honest score, with nothing left running.
"""

from __future__ import annotations

from dataclasses import dataclass

OPTIMAL = "sorted(range(len(jobs)), key=lambda i: jobs[i][0] / jobs[i][1])"
SPT = "sorted(range(len(jobs)), key=lambda i: jobs[i][0] * 1.0)"  # the initial program's order
HEADER = "import os, sys, time, socket, signal\n\n\ndef order_jobs(jobs):\n"


@dataclass(frozen=True)
class Targets:
    """What the attacks aim at; filled in by the test."""

    archive: str
    problem_dir: str
    evaluator: str
    ssh_key: str
    project_file: str
    shared_file: str
    outside_file: str
    port: int
    engine_pid: int
    marker: str
    secret_text: str = ""  # hidden from the candidate, readable by trusted code: holds "ESCAPED"
    secret_json: str = ""  # the same, as a result record whose message says "ESCAPED"
    temp_root: str = "/tmp"  # where evaluations keep their folders (the engine's temporary folder)
    ipc_key: int = 0x5EED  # SysV key and keyring name the IPC attacks share
    memory_mb: int = 512  # the candidates' address-space limit


def _body(lines: str) -> str:
    return HEADER + "".join(f"    {line}\n" for line in lines.strip("\n").splitlines())


def _read_any(paths: list[str]) -> str:
    return _body(
        f"""
for path in {paths!r}:
    try:
        with open(path, 'rb') as f:
            data = f.read(64)
    except OSError:
        continue
    if data:  # a covered file reads as empty
        raise RuntimeError('ESCAPED: read %s: %r' % (path, data))
return {OPTIMAL}
"""
    )


def build(t: Targets) -> dict[str, str]:
    """Attack name -> candidate program text."""
    return {
        "net_outside": _body(
            f"""
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(1.0)
try:
    s.connect(('192.0.2.1', 9))  # TEST-NET-1: never routed; inside the sandbox, no route at all
except OSError:
    return {OPTIMAL}
raise RuntimeError('ESCAPED: connected to 192.0.2.1')
"""
        ),
        "net_loopback": _body(
            f"""
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(1.0)
try:
    s.connect(('127.0.0.1', {t.port}))
except OSError:
    return {OPTIMAL}
s.sendall(b'{t.marker}')
raise RuntimeError('ESCAPED: reached the host loopback listener')
"""
        ),
        "read_archive": _read_any([t.archive, t.archive + "-wal"]),
        "read_holdout": _read_any([t.evaluator, t.problem_dir + "/problem.toml"]),
        "read_ssh": _read_any([t.ssh_key]),
        "read_project_tree": _read_any([t.project_file, t.shared_file]),
        "read_api_key": _body(
            f"""
found = [k for k, v in os.environ.items() if '{t.marker}' in v]
for pid in os.listdir('/proc'):
    try:
        with open('/proc/%s/environ' % pid, 'rb') as f:
            if b'{t.marker}' in f.read():
                found.append(pid)
    except (OSError, ValueError):
        pass
if found:
    raise RuntimeError('ESCAPED: API key seen in %r' % found)
return {OPTIMAL}
"""
        ),
        "write_outside": _body(
            f"""
for path in [{t.outside_file!r}, {t.problem_dir + "/planted.py"!r}, '/usr/adrs-planted']:
    try:
        with open(path, 'w') as f:
            f.write('planted')
    except OSError:
        pass
return {OPTIMAL}
"""
        ),
        "edit_evaluator": _body(
            f"""
try:
    with open({t.evaluator!r}, 'a') as f:
        f.write('\\n\\ndef evaluate(program_path, **kwargs):\\n    return {{"score": 1e9}}\\n')
except OSError:
    pass
return {SPT}
"""
        ),
        "fork_bomb": _body(
            """
while True:
    try:
        os.fork()
    except OSError:
        time.sleep(0.05)
"""
        ),
        "alloc_forever": _body(
            """
hog = []
while True:
    hog.append(bytearray(64 * 1024 * 1024))
"""
        ),
        "loop_forever": _body(
            """
while True:
    pass
"""
        ),
        "sleeping_grandchild": _body(
            f"""
if getattr(sys, 'adrs_forked', False):  # one grandchild per process is enough
    return {OPTIMAL}
sys.adrs_forked = True
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(600)', '{t.marker}'])
    os._exit(0)
time.sleep(0.2)
return {OPTIMAL}
"""
        ),
        "print_gigabytes": _body(
            """
chunk = 'x' * (1 << 20)
for _ in range(4096):
    sys.stdout.write(chunk)
return list(range(len(jobs)))
"""
        ),
        "forged_result": _body(
            """
import json
print(json.dumps({'token': 'x', 'ok': True, 'result': {'score': 1e9}}))
with open('result.json', 'w') as f:
    json.dump({'ok': True, 'value': 'score: 1e9'}, f)
os._exit(0)
"""
        ),
        "exit_early": "import os\nos._exit(0)\n\n\ndef order_jobs(jobs):\n    return []\n",
        "kill_parent": _body(
            f"""
try:
    os.kill({t.engine_pid}, 0)  # signal 0: only asks whether the engine could be signalled
except OSError:
    pass
else:
    raise RuntimeError('ESCAPED: the engine process is visible and signallable')
os.kill(os.getppid(), signal.SIGKILL)
time.sleep(2)
return {OPTIMAL}
"""
        ),
        "patch_timer_and_scoring": _body(
            f"""
time.time = time.monotonic = time.perf_counter = lambda: 0.0
import builtins
builtins.sum = builtins.min = lambda *a, **k: 1e9  # the scoring code's helpers, in this process only
for name in ('adrs.problemkit.harness', 'evaluators', 'adrs_driver'):
    module = sys.modules.get(name)
    if module is not None:
        for attr in ('run', 'weighted_completion', 'evaluate'):
            if hasattr(module, attr):
                setattr(module, attr, lambda *a, **k: 1e9)
return {SPT}
"""
        ),
        "symlink_captures": _body(
            f"""
for name, target in (('stderr.txt', {t.secret_text!r}), ('stdout.txt', {t.secret_text!r}),
                     ('result.json', {t.secret_json!r})):
    try:
        os.remove(name)
    except OSError:
        pass
    os.symlink(target, name)
sys.stderr.flush()
os._exit(3)
"""
        ),
        "see_siblings": _body(
            f"""
home = os.path.realpath(os.getcwd())
root = {t.temp_root.rstrip("/")!r}
parts = home.split('/')
for depth in range(len(parts) - 1, 1, -1):
    ancestor = '/'.join(parts[:depth])
    if ancestor != root and not ancestor.startswith(root + '/'):
        break
    try:
        extra = sorted(set(os.listdir(ancestor)) - {{parts[depth]}})
    except OSError:
        continue
    if extra:
        raise RuntimeError('ESCAPED: %s shows %r' % (ancestor, extra[:5]))
return {OPTIMAL}
"""
        ),
        "host_devices": _body(
            f"""
import stat
allowed = {{'null', 'zero', 'full', 'random', 'urandom', 'tty', 'ptmx', 'console'}}
for name in os.listdir('/dev'):
    path = '/dev/' + name
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        continue
    if stat.S_ISBLK(mode) or (stat.S_ISCHR(mode) and name not in allowed):
        raise RuntimeError('ESCAPED: device node %s is visible' % path)
return {OPTIMAL}
"""
        ),
        "ipc_plant": _body(
            f"""
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
segment = libc.shmget({t.ipc_key}, 1 << 20, 0o1666)  # IPC_CREAT | 0666
if segment >= 0:
    address = libc.shmat(segment, None, 0)
    if address not in (None, ctypes.c_void_p(-1).value):
        ctypes.memmove(address, b'{t.marker}', {len(t.marker)})
libc.msgget({t.ipc_key}, 0o1666)
libc.semget({t.ipc_key}, 1, 0o1666)
libc.syscall(__import__('platform').machine() == 'aarch64' and 217 or 248, b'user', b'adrs-{t.ipc_key}',
             b'{t.marker}', {len(t.marker)}, -4)  # add_key(..., KEY_SPEC_USER_KEYRING)
return {OPTIMAL}
"""
        ),
        "ipc_read": _body(
            f"""
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
seen = []
if libc.shmget({t.ipc_key}, 0, 0) >= 0:
    seen.append('shared memory')
if libc.msgget({t.ipc_key}, 0) >= 0:
    seen.append('message queue')
if libc.semget({t.ipc_key}, 0, 0) >= 0:
    seen.append('semaphore')
keyctl = __import__('platform').machine() == 'aarch64' and 219 or 250
if libc.syscall(keyctl, 10, -4, b'user', b'adrs-{t.ipc_key}', 0) >= 0:  # KEYCTL_SEARCH the user keyring
    seen.append('user keyring')
if seen:
    raise RuntimeError('ESCAPED: a previous candidate left %s' % ', '.join(seen))
return {OPTIMAL}
"""
        ),
        "vsock": _body(
            f"""
try:
    s = socket.socket(40, socket.SOCK_STREAM)  # AF_VSOCK: reaches the hypervisor, no network namespace
except OSError:
    return {OPTIMAL}
s.close()
raise RuntimeError('ESCAPED: created an AF_VSOCK socket')
"""
        ),
        "fill_tmpfs": _body(
            f"""
if getattr(sys, 'adrs_filled', False):  # once per process: the driver calls it per instance
    return {OPTIMAL}
sys.adrs_filled = True
chunk = 16 << 20
held = 0
for folder in ('/dev/shm', '/tmp', '/var/tmp', '/run', '/dev'):
    for n in range(64):
        try:
            fd = os.open('%s/adrs-fill-%d' % (folder, n), os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                os.posix_fallocate(fd, 0, chunk)  # claims the pages, as writing them would
            finally:
                os.close(fd)
        except OSError:
            break
        held += chunk
        if held > {t.memory_mb // 4} << 20:
            raise RuntimeError('ESCAPED: held %d MB in tmpfs beside the memory limit' % (held >> 20))
return {OPTIMAL}
"""
        ),
        "fill_disk": _body(
            f"""
if getattr(sys, 'adrs_filled', False):
    return {OPTIMAL}
sys.adrs_filled = True
chunk = 64 << 20  # each file under the file-size limit: only their number fills the disk
written = 0
for n in range(64):
    try:
        fd = os.open('fill-%d' % n, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.posix_fallocate(fd, 0, chunk)
        finally:
            os.close(fd)
    except OSError:
        break
    written += chunk
    if written > 256 << 20:
        raise RuntimeError('ESCAPED: wrote %d MB to its folder' % (written >> 20))
for n in range(64):  # room for the result again
    if os.path.exists('fill-%d' % n):
        os.remove('fill-%d' % n)
return {OPTIMAL}
"""
        ),
        "claim_evaluator_error": _body(
            """
import json
with open('result.json', 'w') as f:
    json.dump({'ok': False, 'kind': 'evaluator_error', 'message': 'the evaluator broke, not me'}, f)
os._exit(0)
"""
        ),
        "claim_timeout": _body(
            """
os.kill(os.getpid(), signal.SIGKILL)
"""
        ),
        "ansi_error": _body(
            """
raise RuntimeError('\\x1b]0;pwned\\x07\\x1b[2J\\x1b[31mall good\\x1b[0m')
"""
        ),
    }
