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
for path in [{t.outside_file!r}, {t.problem_dir + '/planted.py'!r}, '/usr/adrs-planted']:
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
    }
