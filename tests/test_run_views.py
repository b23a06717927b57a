"""What a user sees of a run: the live view (terminal and log line), and `adrs status`'s stop reason.

The live view shows LLM calls in flight, failed and paid for, the time since the best changed and
the time left; it names no Pareto front on a single-objective problem; and Ctrl-C typed on a real
terminal (a pseudo-terminal here, 80 columns, with the tty echoing control characters) leaves one
progress bar on the screen, not two; a terminal that stops showing output (Ctrl-S) does not stop the
run.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import pty
import re
import select
import signal
import sqlite3
import struct
import subprocess
import sys
import termios
import time
from collections import Counter
from pathlib import Path

from rich.console import Console

import adrs
from adrs.progress import LLMActivity, Progress
from adrs.ui import LiveView

ADRS = [sys.executable, "-m", "adrs.cli"]
ROOT = Path(__file__).resolve().parents[1]


def _rendered(view: LiveView, progress: Progress) -> str:
    out = io.StringIO()
    Console(file=out, width=120, color_system=None).print(view.table(progress))
    return out.getvalue()


def test_the_table_shows_llm_calls_the_last_improvement_and_the_time_left():
    console = Console(file=io.StringIO(), force_terminal=False)
    view = LiveView(console, "toy", budget=100)
    progress = Progress(
        budget=100,
        evaluated=20,
        objectives=1,
        best_id=7,
        best_score=3.0,
        initial_score=1.0,
        failures=Counter({"timeout": 2}),
    )
    progress.started = time.monotonic() - 60  # 20 evaluations in a minute: 80 more take ~4 minutes
    progress.best_changed = time.monotonic() - 125
    progress.llm = LLMActivity(in_flight=3, calls=17, failed=2, dollars=0.1234, cap=5.0)
    text = _rendered(view, progress)
    assert "3 in flight, 17 answered, 2 failed; $0.1234 spent of $5.00" in text
    assert re.search(r"best changed\s+2m 0[45]s ago \(program 7\)", text), text
    assert re.search(r"time left\s+~(3m 5\ds|4m 0\ds) \(budget of 100 evaluations\)", text), text
    assert "Pareto" not in text and re.search(r"archive\s+\d+ programs", text)
    line = view.line(progress)
    assert "LLM 3 in flight" in line and "ETA ~" in line and "front" not in line


def test_a_wall_clock_budget_shorter_than_the_pace_is_the_eta():
    view = LiveView(Console(file=io.StringIO()), "toy", budget=1000)
    progress = Progress(budget=1000, evaluated=10, objectives=2, max_time_s=90.0, front_size=4)
    progress.started = time.monotonic() - 30
    text = _rendered(view, progress)
    assert re.search(r"time left\s+~(59|1m 0\d)s? \(time limit of 90 s\)|time left\s+~1m 00s", text), text
    assert re.search(r"archive / Pareto front\s+0 programs / 4", text)  # two objectives: the front means something
    assert "LLM" not in text  # the offline mutator makes no calls


def test_an_llm_run_counts_its_calls_in_the_progress(toy_problem, tmp_path):
    sys.path.insert(0, str(Path(__file__).parent))
    from fake_openai import FakeOpenAI, Reply

    seen: list[LLMActivity] = []
    edit = (
        "<<<<<<< SEARCH\n    return sorted(range(len(jobs)), key=lambda i: jobs[i][0] * 1.0)\n=======\n"
        "    return sorted(range(len(jobs)), key=lambda i: jobs[i][0] / jobs[i][1])\n>>>>>>> REPLACE\n"
    )
    with FakeOpenAI(script=[Reply(content=edit), Reply(status=500), Reply(status=500), Reply(status=500)]) as server:
        llm = {
            "models": [{"name": "fake-coder", "base_url": server.url, "price_in": 1.0, "price_out": 2.0}],
            "max_retries": 0,
            "concurrency": 1,
            "backoff_s": 0.01,
        }
        adrs.evolve(
            toy_problem,
            archive=tmp_path / "a.sqlite",
            budget=4,
            workers=1,
            llm=llm,
            evaluate_holdout=False,
            on_progress=lambda p: seen.append(LLMActivity(**vars(p.llm))),
        )
    assert seen and seen[-1].calls >= 2 and seen[-1].failed >= 1 and seen[-1].dollars > 0
    assert all(0 <= s.in_flight <= 1 for s in seen)  # concurrency 1: never more, and never negative


def test_status_says_why_the_run_stopped(toy_problem, tmp_path):
    archive = tmp_path / "a.sqlite"
    adrs.evolve(toy_problem, archive=archive, budget=3, workers=1, evaluate_holdout=False)
    status = adrs.run_status(archive)
    assert status.stopped == "budget spent after 3 evaluations in its last session"
    done = subprocess.run([*ADRS, "status", str(archive)], capture_output=True, text=True, timeout=120)
    assert "stopped: budget spent after 3 evaluations" in done.stdout
    assert "Pareto front: " in done.stdout  # the toy problem has two objectives
    with sqlite3.connect(archive) as db:  # an engine killed outright leaves a session with no end
        db.execute("INSERT INTO events (run_id, kind, payload, created_at) VALUES (1, 'resumed', '{}', '2030-01-01')")
        db.execute("UPDATE runs SET status = 'running'")
    assert "killed before it could record why" in adrs.run_status(archive).stopped


def _screen(data: str, columns: int) -> list[str]:
    """What a terminal of `columns` shows after `data`: enough of a VT100 for rich's live display
    (carriage return, line feed, erase line, cursor up, automatic wrap; colours ignored)."""
    rows: list[list[str]] = [[]]
    row = col = 0
    i = 0
    while i < len(data):
        char = data[i]
        if char == "\x1b":
            match = re.match(r"\x1b\[([0-9;?]*)([A-Za-z])", data[i:])
            if match:
                if match.group(2) == "A":
                    row = max(0, row - int(match.group(1) or 1))
                elif match.group(2) == "K":
                    rows[row] = rows[row][:col] if match.group(1) in ("", "0") else []
                i += len(match.group(0))
                continue
        elif char == "\r":
            col = 0
        elif char == "\n":
            row += 1
        elif char >= " ":
            if col >= columns:
                row, col = row + 1, 0
            while len(rows) <= row:
                rows.append([])
            line = rows[row]
            line.extend(" " * (col - len(line)))
            if col < len(line):
                line[col] = char
            else:
                line.append(char)
            col += 1
        while len(rows) <= row:
            rows.append([])
        i += 1
    return ["".join(line) for line in rows]


def _evaluated(archive: Path) -> int:
    try:
        with sqlite3.connect(f"file:{archive}?mode=ro", uri=True, timeout=30) as db:
            return db.execute("SELECT count(*) FROM programs WHERE status != 'pending'").fetchone()[0]
    except sqlite3.Error:
        return 0


def _run_on_a_terminal(toy_problem: Path, archive: Path) -> tuple[int, int]:
    """`adrs run` on a pseudo-terminal of 80 columns that echoes control characters (the default),
    sends SIGINT on Ctrl-C and stops its output on Ctrl-S: the child's pid and the terminal's end."""
    pid, master = pty.fork()
    if pid == 0:
        try:
            attributes = termios.tcgetattr(0)
            attributes[0] |= termios.IXON
            attributes[3] |= termios.ECHO | termios.ECHOCTL | termios.ISIG
            termios.tcsetattr(0, termios.TCSANOW, attributes)
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 80, 0, 0))
            os.environ.pop("COLUMNS", None)
            os.environ["TERM"] = "xterm"
            os.chdir(ROOT)
            os.execv(
                sys.executable,
                [*ADRS, "run", str(toy_problem), "--budget", "200", "--workers", "2", "--archive", str(archive)],
            )
        finally:
            os._exit(127)
    return pid, master


def _read(master: int, output: bytearray) -> bool:
    """What the terminal shows next (waiting at most 50 ms); False once the run closed it."""
    ready, _, _ = select.select([master], [], [], 0.05)
    if not ready:
        return True
    try:
        chunk = os.read(master, 65536)
    except OSError:
        return False
    output += chunk
    return bool(chunk)


def _finish(pid: int, master: int, output: bytearray) -> int:
    """The run's exit status, once it ended: its output is let through again (Ctrl-Q) and read to
    the end; a run still there after a minute is killed, so a failing test never hangs."""
    with contextlib.suppress(OSError):
        os.write(master, b"\x11")
    end = time.monotonic() + 60
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        _read(master, output)
    else:
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    os.close(master)
    return os.waitstatus_to_exitcode(status)


def test_ctrl_c_on_a_terminal_leaves_one_progress_bar(toy_problem, tmp_path):
    archive = tmp_path / "a.sqlite"
    pid, master = _run_on_a_terminal(toy_problem, archive)
    output = bytearray()
    deadline = time.monotonic() + 300  # generous: a busy machine starts slowly
    type_at: float | None = None
    typed = False
    try:
        while _read(master, output):
            if type_at is None and _evaluated(archive) >= 2:
                type_at = time.monotonic() + 1.0  # a few refreshes of the live view, read as they come
            if not typed and type_at is not None and time.monotonic() >= type_at:
                os.write(master, b"\x03")  # Ctrl-C, typed: the tty sends SIGINT
                typed = True
            assert time.monotonic() < deadline, "the run neither started nor stopped"
    finally:
        status = _finish(pid, master, output)
    assert typed and status == 130
    screen = _screen(output.decode("utf-8", "replace"), 80)
    bars = [line for line in screen if "/200" in line]
    assert len(bars) == 1, "\n".join(screen[-14:])
    assert any("Interrupted." in line for line in screen)


def test_a_terminal_that_stops_reading_does_not_stop_the_run(toy_problem, tmp_path):
    """Ctrl-S (or a terminal that falls behind) blocks whoever writes to it: the view's thread, not
    the engine's. An engine that drew its own frames stalled once the terminal's buffer (~12 KB) was
    full: at 4 evaluations here, for as long as the output stayed stopped."""
    archive = tmp_path / "a.sqlite"
    pid, master = _run_on_a_terminal(toy_problem, archive)
    output = bytearray()
    deadline = time.monotonic() + 300
    stopped_at: int | None = None
    try:
        while stopped_at is None and _read(master, output):
            if _evaluated(archive) >= 2:
                os.write(master, b"\x13")  # Ctrl-S: the terminal shows nothing more; writes to it block
                stopped_at = _evaluated(archive)
            assert time.monotonic() < deadline, "the run did not start"
        while _evaluated(archive) < stopped_at + 80:
            time.sleep(0.2)  # nothing is read from the terminal meanwhile
            assert time.monotonic() < deadline, f"the run stalled at {_evaluated(archive)} evaluations"
        os.write(master, b"\x11\x03")  # Ctrl-Q, Ctrl-C
    finally:
        status = _finish(pid, master, output)
    assert status in (0, 130)
    assert any("/200" in line for line in _screen(output.decode("utf-8", "replace"), 80))
