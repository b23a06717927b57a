"""Large texts are stored once and compressed against a similar text; older archives keep working.

A program's code, its diff, an evaluation's feedback, an LLM call's prompt and reply go into the
`texts` table by sha256 (archive/texts.py): a duplicate or a migrant adds no text, a child costs
about what it changed, and every text reads back exactly as written. An archive an older adrs wrote
(tests/fixtures/archive_schema2.sqlite, made by schema version 2's code: texts inline, no `texts`
table) is read as it is by the read-only commands, byte for byte untouched, and resumed.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from adrs import api
from adrs.archive.store import Archive, NewProgram
from adrs.evaluate.result import Evaluation

FIXTURE = Path(__file__).parent / "fixtures" / "archive_schema2.sqlite"
ADRS = [sys.executable, "-m", "adrs.cli"]

PARENT = "def policy(jobs):\n" + "".join(f"    step_{i} = jobs[{i}] * {i}  # a line of the policy\n" for i in range(80))


def _texts(path: Path) -> list[tuple[bytes, str, bytes | None, int, int]]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return db.execute("SELECT digest, compression, base, depth, length(data) FROM texts").fetchall()


def _column(path: Path, table: str, column: str) -> list[str]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return [value for (value,) in db.execute(f"SELECT {column} FROM {table} ORDER BY id")]


def _is_reference(value: str) -> bool:
    """A row's reference to a stored text: \\x01 and 16 bytes of its sha256 in unpadded base64url."""
    return re.fullmatch("\x01[A-Za-z0-9_-]{22}", value) is not None


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()[:16]


def test_a_program_text_is_stored_once_and_a_child_costs_what_it_changed(tmp_path):
    path = tmp_path / "a.sqlite"
    archive = Archive.open(path)
    run = archive.create_run("toy", "/toy", "f" * 16, 0, {})
    parent = archive.add_program(run.id, NewProgram(PARENT, "h0", 0, "initial"))
    children = []
    for k in range(1, 6):
        code = PARENT.replace(f"step_{k * 7} = ", f"step_{k * 7} = 1 + ")
        diff = f"--- parent\n+++ child\n-    step_{k * 7} = ...\n+    step_{k * 7} = 1 + ...\n" * 3
        children.append(archive.add_program(run.id, NewProgram(code, f"h{k}", k, "offline", parent.id, diff=diff)))
    twin = archive.add_program(run.id, NewProgram(PARENT, "h0-twin", 6, "offline", parent.id))  # the same text
    evaluated = archive.record_evaluations(parent.id, [Evaluation("full", True, 1.0, {"score": 1.0})], True)
    migrant = archive.add_migrant(evaluated, 1, evaluated.proposal_index)
    archive.close()

    rows = {digest: (compression, base, depth, size) for digest, compression, base, depth, size in _texts(path)}
    codes = {PARENT, *(c.code for c in children)}
    assert {_digest(c) for c in codes} <= rows.keys()
    assert len([d for d in rows if d in {_digest(c) for c in codes}]) == 6  # the twin and the migrant add none
    for child in children:
        compression, base, depth, size = rows[_digest(child.code)]
        assert (compression, base, depth) == ("zlib", _digest(PARENT), 1)  # compressed against its parent
        assert size < len(child.code) / 20, size
    # every row holds a reference, and every record reads back the text as written
    assert all(_is_reference(value) for value in _column(path, "programs", "code"))
    reader = Archive.open(path, read_only=True)
    try:
        stored = {p.id: p for p in reader.programs(run.id)}
    finally:
        reader.close()
    assert stored[twin.id].code == stored[migrant.id].code == stored[parent.id].code == PARENT
    assert [stored[c.id].code for c in children] == [c.code for c in children]
    assert [stored[c.id].diff for c in children] == [c.diff for c in children]
    assert all(c.code == stored[c.id].code for c in children)  # the records add_program returned were whole


def test_texts_read_back_exactly_short_long_odd_or_looking_like_a_reference(tmp_path):
    path = tmp_path / "a.sqlite"
    archive = Archive.open(path)
    run = archive.create_run("toy", "/toy", "f" * 16, 0, {})
    lookalike = "\x01sha256:" + "0" * 64  # a candidate's text shaped like a reference is still its text
    texts = {
        "short": "x = 1\n",
        "long, not ASCII": "# café, naïve, 東京\n" * 40,
        "NUL": "x = '\x00'\n" * 30,
        "lookalike": lookalike,
        "version 4 lookalike": "\x01" + "A" * 43,  # the form references had in schema version 4
        "short lookalike": "\x01" + "A" * 22,  # the form they have since version 5
    }
    ids = {}
    for k, (name, code) in enumerate(texts.items()):
        ids[name] = archive.add_program(run.id, NewProgram(code, f"h{k}", k, "offline")).id
    surrogate = "y = 'caf\udce9'\n" * 20  # a lone surrogate: no database stores it, U+FFFD instead
    odd = archive.add_program(run.id, NewProgram(surrogate, "hs", 9, "offline"))
    feedback = "stage quick: 10 cases, mean 0.5; " * 30
    archive.record_evaluations(
        ids["short"], [Evaluation("quick", False, None, feedback=feedback, error="E" * 500)], True
    )
    call = archive.add_llm_call(run.id, model="m", prompt="P" * 1000, response="R" * 999 + "\x00", error="e")
    assert archive.program(odd.id).code == surrogate.replace("\udce9", "\ufffd")
    for name, code in texts.items():
        assert archive.program(ids[name]).code == code, name
    stage = archive.evaluations(ids["short"])[0]
    assert (stage.feedback, stage.error) == (feedback, "E" * 500)
    assert archive.failed_stages(run.id)[0].error == "E" * 500
    stored_call = archive.llm_call(call)
    assert (stored_call.prompt, stored_call.response, stored_call.error) == ("P" * 1000, "R" * 999 + "\x00", "e")
    archive.close()
    inline = _column(path, "programs", "code")
    assert inline[0] == "x = 1\n"  # short texts stay in their row
    assert inline[3] != lookalike and _is_reference(inline[3])
    assert inline[4] != texts["version 4 lookalike"] and _is_reference(inline[4])
    assert inline[5] != texts["short lookalike"] and _is_reference(inline[5])


def _snapshot(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


def test_an_archive_of_the_previous_layout_is_read_untouched_and_resumed(toy_problem, tmp_path):
    path = tmp_path / "old.sqlite"
    shutil.copyfile(FIXTURE, path)
    with sqlite3.connect(path) as db:  # the fixture's problem folder is long gone: the run names one that never was
        db.execute("UPDATE runs SET problem_root = ?", (str(tmp_path / "moved"),))
    db.close()
    old_codes = _column(path, "programs", "code")
    assert all(len(c) > 160 and not c.startswith("\x01") for c in old_codes)  # inline, as version 2 wrote them
    before = _snapshot(path)
    lost = subprocess.run([*ADRS, "status", str(path)], capture_output=True, text=True, timeout=300)
    assert lost.returncode == 1
    assert lost.stdout.strip().splitlines() == [
        f"error: {tmp_path / 'moved'}: not a directory (the run's problem; if it moved, pass --problem DIR)"
    ]
    shown = {}
    moved = ["--problem", str(toy_problem)]
    for command in (
        ["status", *moved],
        ["show", "4"],
        ["export", "--best", "--out", str(tmp_path / "out"), *moved],
        ["doctor"],
    ):
        done = subprocess.run([*ADRS, command[0], str(path), *command[1:]], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (command, done.stdout + done.stderr)
        shown[command[0]] = done.stdout
    assert _snapshot(path) == before  # read-only commands neither write nor migrate
    assert "texts" not in {
        r
        for (r,) in sqlite3.connect(f"file:{path}?mode=ro", uri=True).execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
        )
    }
    assert old_codes[3].splitlines()[0] in shown["show"]  # program 4's code as it is stored
    exported = (tmp_path / "out").rglob("*.py")
    assert any(p.read_text() in old_codes for p in exported)

    summary = api.resume(path, budget=3, problem_dir=toy_problem, evaluate_holdout=False)
    assert summary.evaluated >= 3 and summary.failure is None
    codes = _column(path, "programs", "code")
    assert codes[: len(old_codes)] == old_codes  # nothing rewritten
    assert all(_is_reference(c) for c in codes[len(old_codes) :])  # new rows: the new layout
    archive = Archive.open(path, read_only=True)
    try:
        programs = archive.programs(archive.run().id)
    finally:
        archive.close()
    assert [p.code for p in programs[: len(old_codes)]] == old_codes
    assert all(p.code.startswith('"""') or "def " in p.code for p in programs)
    assert api.check_archive(path).clean


def test_a_lost_text_reads_as_a_placeholder_and_doctor_names_it(tmp_path):
    path = tmp_path / "a.sqlite"
    archive = Archive.open(path)
    run = archive.create_run("toy", "/toy", "f" * 16, 0, {})
    program = archive.add_program(run.id, NewProgram(PARENT, "h0", 0, "initial"))
    child_code = PARENT.replace("step_7 = ", "step_7 = 1 + ")
    child = archive.add_program(run.id, NewProgram(child_code, "h1", 1, "offline", program.id))
    archive.close()
    assert api.check_archive(path).clean
    with sqlite3.connect(path) as db:  # the parent's code goes; the child's was compressed against it
        db.execute("DELETE FROM texts WHERE digest = ?", (_digest(PARENT),))
    db.close()
    # a fresh process: this one keeps the texts it has seen (a digest names one text only)
    shown = subprocess.run([*ADRS, "show", str(path), str(program.id)], capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert f"text lost from the archive: sha256 {_digest(PARENT).hex()}" in " ".join(shown.stdout.split())
    done = subprocess.run([*ADRS, "doctor", str(path)], capture_output=True, text=True, timeout=300)
    assert "Traceback" not in done.stdout + done.stderr
    assert done.returncode == 2, done.stdout + done.stderr
    report = api.check_archive(path)
    lost = sorted((f.kind, f.program_id, f.repairable, f.detail) for f in report.findings)
    lost_hex = _digest(PARENT).hex()[:16]
    assert lost == [
        ("lost_text", program.id, False, f"programs row {program.id} (program {program.id}): code: text sha256 "
         f"{lost_hex} is not stored"),
        ("lost_text", child.id, False, f"programs row {child.id} (program {child.id}): code: text sha256 "
         f"{_digest(child_code).hex()[:16]} needs base {lost_hex}, not stored"),
    ]  # fmt: skip
    assert api.check_archive(path, repair=True).findings == report.findings  # nothing restores a lost text


def test_a_reply_and_a_diff_are_kept_in_their_row_compressed_against_the_prompt_and_the_code(tmp_path):
    """Schema version 5: no `texts` row, no reference; each costs about what it adds to its base."""
    from adrs.archive.sqlite_reader import open_read_only

    path = tmp_path / "a.sqlite"
    archive = Archive.open(path)
    run = archive.create_run("toy", "/toy", "f" * 16, 0, {})
    parent = archive.add_program(run.id, NewProgram(PARENT, "h0", 0, "initial"))
    code = PARENT.replace("step_7 = ", "step_7 = 1 + ")
    diff = "--- parent\n+++ child\n@@ -8 +8 @@\n-    step_7 = jobs[7] * 7  # a line of the policy\n"
    diff += "+    step_7 = 1 + jobs[7] * 7  # a line of the policy\n"
    marked = "\x02 a diff that begins with the in-row mark, " * 3  # its own text, never taken for the form
    child = archive.add_program(run.id, NewProgram(code, "h1", 1, "llm:m", parent.id, diff=diff))
    odd = archive.add_program(run.id, NewProgram(code + "#\n", "h2", 2, "llm:m", parent.id, diff=marked))
    prompt = "## Current program\n```python\n" + PARENT + "```\nPropose one change.\n" + "context line\n" * 40
    reply = "Idea: step 7 a bit larger\n<<<<<<< SEARCH\n    step_7 = jobs[7] * 7\n=======\n"
    reply += "    step_7 = 1 + jobs[7] * 7\n>>>>>>> REPLACE\n"
    calls = [archive.add_llm_call(run.id, model="m", prompt=prompt, response=text) for text in (reply, "\x02", "")]
    archive.close()

    stored_diffs = _column(path, "programs", "diff")
    stored_replies = _column(path, "llm_calls", "response")
    assert stored_diffs[1].startswith("\x02") and len(stored_diffs[1]) < len(diff) * 0.6
    assert stored_diffs[2].startswith("\x02") and stored_diffs[2] != marked
    assert stored_replies[0].startswith("\x02") and len(stored_replies[0]) < len(reply) * 0.8, stored_replies[0]
    assert stored_replies[1] != "\x02" and stored_replies[2] == ""
    digests = {d for d, *_ in _texts(path)}
    assert digests == {_digest(PARENT), _digest(code), _digest(code + "#\n"), _digest(prompt)}  # no reply, no diff
    for reader in (Archive.open(path, read_only=True), open_read_only(path)):
        try:
            assert [reader.program(p.id).diff for p in (parent, child, odd)] == ["", diff, marked]
            assert [reader.llm_call(c).response for c in calls] == [reply, "\x02", ""]
        finally:
            reader.close()

    with sqlite3.connect(path) as db:  # the prompt's text goes: the reply compressed against it cannot be read
        db.execute("DELETE FROM texts WHERE digest = ?", (_digest(prompt),))
    db.close()
    # a fresh process: this one keeps the texts it has seen
    command = [*ADRS, "show", str(path), "--call", str(calls[0])]
    shown = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0 and "Traceback" not in shown.stdout + shown.stderr, shown.stdout + shown.stderr
    assert "the response compressed against this row's prompt" in " ".join(shown.stdout.split())
