"""`adrs serve --steer`: steering actions over real HTTP on a real archive, behind the server's token;
every refusal leaves the archive byte-for-byte as it was, and without --steer nothing can be posted."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from adrs.archive.store import Archive, NewProgram
from adrs.evaluate.result import Evaluation
from adrs.serve.server import ArchiveServer, open_server, serve_archive


def _dump(path: Path) -> list[str]:
    connection = sqlite3.connect(path)
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


def _call(url: str, body: object | None = None, token: str | None = None) -> tuple[int, dict | str]:
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")
    if token is not None:
        request.add_header("X-Adrs-Token", token)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            raw, status, kind = response.read().decode(), response.status, response.headers["Content-Type"]
    except urllib.error.HTTPError as exc:
        raw, status, kind = exc.read().decode(), exc.code, exc.headers["Content-Type"]
    return status, json.loads(raw) if kind == "application/json" else raw


class Served:
    def __init__(self, archive: Path, steer: bool):
        self.server: ArchiveServer = open_server(archive, port=0, steer=steer)
        self.thread = threading.Thread(target=serve_archive, args=(self.server,), daemon=True)
        self.thread.start()
        self.url = self.server.url

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=60)


@pytest.fixture
def two_runs(tmp_path) -> tuple[Path, int, int, int]:
    """An archive with a steerable run (one evaluated program) and a run not started --steerable."""
    path = tmp_path / "a.sqlite"
    store = Archive.open(path)
    try:
        plain = store.create_run("toy", "/toy", "f" * 16, 0, {"budget": 3})
        steerable = store.create_run("toy", "/toy", "f" * 16, 0, {"budget": 3, "steerable": True})
        program = store.add_program(steerable.id, NewProgram("x = 1\n", "1" * 64, 0, "initial"))
        store.record_evaluations(program.id, [Evaluation("full", True, 2.0, {"score": 2.0})], complete=True)
    finally:
        store.close()
    return path, plain.id, steerable.id, program.id


def test_steering_needs_the_token_and_a_steerable_run_and_refusals_write_nothing(two_runs):
    path, plain, steerable, program = two_runs
    before, main_file = _dump(path), path.read_bytes()
    served = Served(path, steer=True)
    try:
        token = served.server.steering.token
        assert served.server.page_url == f"{served.url}?token={token}" and len(token) >= 32
        steer = served.url + "api/steer"
        hint = {"run": steerable, "action": "hint", "text": "<img src=x onerror=alert(1)> use a heap"}
        refusals = [
            (403, hint, None, "valid token"),
            (403, hint, "", "valid token"),
            (403, hint, token[:-1] + ("A" if token[-1] != "A" else "B"), "valid token"),
            (400, b"{not json", token, "not JSON"),
            (400, [1, 2], token, "JSON object"),
            (404, {"run": 99, "action": "pause"}, token, "no run with id 99"),
            (409, {"run": plain, "action": "pause"}, token, "not started --steerable"),
            (400, {"run": steerable, "action": "jump"}, token, "unknown steering action"),
            (400, {"run": steerable, "action": "pin", "program_id": "x1"}, token, "whole number"),
            (400, {"run": steerable, "action": "pin", "program_id": 999}, token, "no program with id 999"),
        ]
        for status, body, given, message in refusals:
            answer = _call(steer, body, given)
            assert answer[0] == status and message in answer[1]["error"], (body, given, answer)
        assert _dump(path) == before and path.read_bytes() == main_file  # refused: nothing written, nothing opened

        status, state = _call(steer, hint, token)
        assert status == 200 and state["state"]["hints"][0]["text"] == hint["text"]
        assert _call(steer, {"run": steerable, "action": "pin", "program_id": str(program)}, token)[0] == 200
        assert _call(steer, {"run": steerable, "action": "pause"}, token)[0] == 200
        status, shown = _call(served.url + f"api/steering?id={steerable}")
        assert status == 200 and shown["enabled"] and shown["steerable"]
        assert shown["state"]["paused"] and shown["state"]["pinned"] == [program]
        assert shown["state"]["hints"][0]["text"] == hint["text"] and shown["state"]["hints"][0]["at"]
        status, other = _call(served.url + f"api/steering?id={plain}")
        assert status == 200 and not other["steerable"] and other["state"]["version"] == 0
        status, script = _call(served.url + "steer.js")
        assert status == 200 and "X-Adrs-Token" in script and "innerHTML" not in script.split("panel.innerHTML")[1]
    finally:
        served.close()
    store = Archive.open(path, create=False, read_only=True)
    try:
        assert [e.action for e in store.steering_log(steerable)] == ["hint", "pin", "pause"]
        assert store.steering_log(plain) == []
    finally:
        store.close()


def test_without_steer_nothing_can_be_posted_even_with_a_token_like_header(two_runs):
    path, _plain, steerable, _program = two_runs
    before, main_file = _dump(path), path.read_bytes()
    served = Served(path, steer=False)
    try:
        assert served.server.page_url == served.url and served.server.steering is None
        status, _answer = _call(served.url + "api/steer", {"run": steerable, "action": "pause"}, "anything")
        assert status == 405
        status, shown = _call(served.url + f"api/steering?id={steerable}")
        assert status == 200 and shown["steerable"] and not shown["enabled"]
    finally:
        served.close()
    assert _dump(path) == before and path.read_bytes() == main_file


def test_the_command_prints_the_address_with_its_token(two_runs):
    path = two_runs[0]
    command = [sys.executable, "-m", "adrs.cli", "serve", str(path), "--port", "0", "--steer"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as server:
        try:
            line = server.stdout.readline()
        finally:
            server.terminate()
            server.wait(timeout=60)
    assert "Serving" in line and "http://127.0.0.1:" in line and "/?token=" in line, line
