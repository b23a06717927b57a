"""A damaged archive (a bad page, a truncated file, garbage) is one clear line pointing to
`adrs doctor` on every command; doctor says which rows are lost, and --repair copies every
readable row into a new archive, leaving the damaged one as it is.

The archive is written with the real store API, then damaged the way a failing disk or an
interrupted copy would: a page of the programs table overwritten, zeroed in part, the file cut
short, or every byte replaced.
"""

from __future__ import annotations

import os
import random
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from adrs.archive.store import Archive, ArchiveDamaged, NewProgram
from adrs.evaluate.result import Evaluation
from adrs.problem import load_problem

ADRS = [sys.executable, "-m", "adrs.cli"]
PROGRAMS = 300


def adrs(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "500"}  # rich wraps at the terminal's width: keep each line whole
    return subprocess.run([*ADRS, *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture
def archive(toy_problem: Path, tmp_path: Path) -> Path:
    """A stopped run of 300 evaluated programs (a few dozen pages of the programs table)."""
    problem = load_problem(toy_problem)
    path = tmp_path / "run.sqlite"
    store = Archive.open(path)
    run = store.create_run(problem.name, str(problem.root), problem.fingerprint(), 0, {"budget": PROGRAMS})
    for index in range(PROGRAMS):
        code = f"# program {index}\n" + "x = 1\n" * 60
        new = NewProgram(code=code, code_hash=f"h{index}", proposal_index=index, mutator="offline")
        program = store.add_program(run.id, new)
        evaluation = Evaluation("quick", True, float(index), {"score": float(index)}, duration_s=0.1)
        store.record_evaluations(program.id, [evaluation], complete=False)
    store.set_run_status(run.id, "stopped")
    store.close()
    return path


def _program_pages(path: Path) -> list[int]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        pages = db.execute("SELECT pageno FROM dbstat WHERE name = 'programs' AND pagetype = 'leaf' ORDER BY pageno")
        return [row[0] for row in pages]


def _page_size(path: Path) -> int:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return db.execute("PRAGMA page_size").fetchone()[0]


def overwrite_a_page(path: Path) -> None:
    """A leaf page of the programs table in the middle of the file becomes noise."""
    pages = _program_pages(path)
    page, size = pages[len(pages) // 2], _page_size(path)
    with open(path, "r+b") as f:
        f.seek((page - 1) * size)
        f.write(random.Random(0).randbytes(size))


def zero_part_of_a_page(path: Path) -> None:
    """Part of a page zeroed: SQLite still reads it, but the rows on it are garbled."""
    pages = _program_pages(path)
    page, size = pages[len(pages) // 2], _page_size(path)
    with open(path, "r+b") as f:
        f.seek((page - 1) * size + size // 2)
        f.write(b"\0" * 500)


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])


def garbage(path: Path) -> None:
    path.write_bytes(random.Random(1).randbytes(path.stat().st_size))


DAMAGES = {"page": overwrite_a_page, "garbled": zero_part_of_a_page, "truncated": truncate, "garbage": garbage}
COMMANDS = {
    "status": ["status", "{db}"],
    "show": ["show", "{db}", "1"],
    "export": ["export", "{db}", "--best", "--out", "{out}"],
    "report": ["report", "{db}", "--no-baselines", "-o", "{out}/r.html"],
    "resume": ["resume", "{db}", "--budget", "1", "--quiet"],
    "run": ["run", "{problem}", "--archive", "{db}", "--budget", "1", "--quiet"],
}


@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_says_one_line_pointing_to_doctor(command, damage, archive, toy_problem, tmp_path):
    DAMAGES[damage](archive)
    before = archive.read_bytes()
    args = [a.format(db=archive, out=tmp_path / "out", problem=toy_problem) for a in COMMANDS[command]]
    done = adrs(*args, cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    errors = [line for line in done.stdout.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "damaged" in errors[0] and f"adrs doctor {archive}" in errors[0], done.stdout
    assert done.stdout.strip().endswith(errors[0])  # (`adrs run` names the archive first)
    assert archive.read_bytes() == before  # nothing written, resume evaluated nothing


def test_doctor_reports_which_rows_are_lost_and_what_can_still_be_read(archive, tmp_path):
    overwrite_a_page(archive)
    before = archive.read_bytes()
    done = adrs("doctor", str(archive), cwd=tmp_path)
    said = done.stdout
    assert done.returncode == 2, done.stdout + done.stderr
    assert "damaged_archive" in said and "unreadable_rows programs: rows with ids" in said
    assert re.search(r"rows still readable: runs 1, (texts \d+, )?(metric_names \d+, )?programs \d+", said), said
    assert "--repair` copies every readable row" in said
    assert archive.read_bytes() == before


def test_repair_copies_every_readable_row_into_a_new_archive_and_keeps_the_damaged_one(archive, tmp_path):
    overwrite_a_page(archive)
    before = archive.read_bytes()
    done = adrs("doctor", str(archive), "--repair", cwd=tmp_path)
    said = done.stdout
    recovered = tmp_path / "run.recovered.sqlite"
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"into {recovered}" in said and "lost: programs: rows with ids" in said
    assert archive.read_bytes() == before  # the damaged file is left as it was
    with sqlite3.connect(recovered) as db:
        ids = [row[0] for row in db.execute("SELECT id FROM programs ORDER BY id")]
        evaluated = db.execute("SELECT count(*) FROM programs WHERE status = 'evaluated'").fetchone()[0]
    lost = sorted(set(range(1, PROGRAMS + 1)) - set(ids))
    assert 0 < len(lost) < 40 and lost == list(range(lost[0], lost[-1] + 1))  # one page's rows, no more
    assert evaluated == len(ids)  # every copied program kept its evaluation
    status = adrs("status", str(recovered), cwd=tmp_path)
    assert status.returncode == 0, status.stdout + status.stderr
    again = adrs("doctor", str(archive), "--repair", cwd=tmp_path)
    assert again.returncode == 0 and (tmp_path / "run.recovered-2.sqlite").exists()  # never overwrites a copy


def test_a_truncated_archive_gives_back_the_rows_before_the_cut(archive, tmp_path):
    truncate(archive)
    done = adrs("doctor", str(archive), "--repair", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    with sqlite3.connect(tmp_path / "run.recovered.sqlite") as db:
        ids = [row[0] for row in db.execute("SELECT id FROM programs ORDER BY id")]
    assert ids and ids == list(range(1, len(ids) + 1)) and len(ids) < PROGRAMS


def test_garbage_is_reported_as_unreadable_without_a_copy(archive, tmp_path):
    garbage(archive)
    done = adrs("doctor", str(archive), "--repair", cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "unreadable_archive" in done.stdout and "Traceback" not in done.stdout + done.stderr
    assert not (tmp_path / "run.recovered.sqlite").exists()


def test_damage_met_after_opening_is_an_archive_error_not_a_database_traceback(archive):
    store = Archive.open(archive, create=False, read_only=True)
    try:
        overwrite_a_page(archive)
        with pytest.raises(ArchiveDamaged, match="adrs doctor"):
            store.programs(1)
    finally:
        store.close()
