"""The live page in a real headless Chromium, driven through its DevTools protocol (tests/cdp.py),
against a LIVE steerable run (`adrs run --steerable`, a real engine in its own process, the toy
problem, the local OpenAI-protocol server as its LLM) served with `--steer`:

- the page shows each new evaluation soon after its archive write: measured per program from the
  write's timestamp (`evaluated_at`) to the moment its row appears in the DOM (a MutationObserver
  stamps it; browser and engine read the same clock);
- a hint typed into the page's textbox (real key input) and sent with a real click appears in the
  next prompt the endpoint receives;
- pressing pause in the page stops new proposals: after the request under way, none reaches the
  endpoint, the child of the one under way is still evaluated, and the terminal says "paused by
  the dashboard"; pressing resume brings proposals back.

Skipped where no chromium is on PATH (CI installs Debian's `chromium`; nothing downloads one).
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adrs.archive.store import Archive, ArchiveError
from adrs.serve.server import open_server, serve_archive
from tests.cdp import Browser, chromium_path
from tests.fake_openai import FakeOpenAI
from tests.test_steering import Rewrites

pytestmark = [
    pytest.mark.slow,  # about 40 s: a live run, paused for several seconds
    pytest.mark.skipif(chromium_path() is None, reason="no chromium on PATH (Debian: apt-get install -y chromium)"),
]

FRESH_S = 2.0  # the claim: a new evaluation is on the page within 2 s of its archive write
LATENCY_S = 1.0  # the endpoint's answer time: a proposal is under way for this long
HINT = "Order by processing time over weight (Smith's rule) & keep <ties> stable."
OBSERVER = """(() => {
  window.__seen = {};
  const mark = () => {
    for (const row of document.querySelectorAll('[data-part="recent"] [data-id], #recent [data-id]'))
      if (!(row.dataset.id in window.__seen)) window.__seen[row.dataset.id] = Date.now();
  };
  new MutationObserver(mark).observe(document.body, {childList: true, subtree: true});
  mark();
  return Date.now();
})()"""


def _click(browser: Browser, element_id: str) -> None:
    """A real mouse click in the middle of the element (DevTools input events, not element.click())."""
    box = browser.evaluate(
        f"(() => {{ const e = document.getElementById('{element_id}'); e.scrollIntoView({{block: 'center'}});"
        " const r = e.getBoundingClientRect();"
        " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
    )
    for kind in ("mousePressed", "mouseReleased"):
        browser.send("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)


def _epoch(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _pending(archive: Path) -> int:
    store = Archive.open(archive, create=False, read_only=True)
    try:
        return store.status_counts(store.run().id).get("pending", 0)
    finally:
        store.close()


def _when_fresh_request(server: FakeOpenAI, timeout_s: float = 120.0) -> int:
    """Wait until a proposal's request has just arrived (it is answered LATENCY_S later); its index."""
    deadline = time.monotonic() + timeout_s
    seen = len(server.completions)
    while time.monotonic() < deadline:
        count = len(server.completions)
        if count > seen and server.in_flight == 1 and time.monotonic() - server.completions[-1].at < 0.2:
            return count - 1
        seen = count
        time.sleep(0.01)
    raise TimeoutError("no proposal reached the endpoint")


def test_the_page_follows_a_live_run_and_steers_it(toy_problem, tmp_path):
    archive = tmp_path / "live.sqlite"
    replies = Rewrites((toy_problem / "initial.py").read_text())
    with FakeOpenAI(responder=replies, latency_s=LATENCY_S) as endpoint:
        config = tmp_path / "llm.toml"
        config.write_text(f'[llm]\nconcurrency = 1\n[[llm.models]]\nname = "fake-coder"\nbase_url = "{endpoint.url}"\n')
        log = tmp_path / "engine.log"
        command = [
            sys.executable,
            "-m",
            "adrs.cli",
            "run",
            str(toy_problem),
            "--steerable",
            "--budget",
            "200",
            "--llm-config",
            str(config),
            "--workers",
            "1",
            "--islands",
            "1",
            "--archive",
            str(archive),
        ]
        env = {**os.environ, "COLUMNS": "300"}
        with open(log, "w") as out:
            engine = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        server = browser = None
        try:
            deadline = time.monotonic() + 300
            while server is None:
                assert engine.poll() is None, log.read_text()
                try:
                    server = open_server(archive, port=0, steer=True)
                except ArchiveError:
                    assert time.monotonic() < deadline, "the run never appeared in the archive"
                    time.sleep(0.2)
            threading.Thread(target=serve_archive, args=(server,), daemon=True).start()
            browser = Browser.start()
            browser.navigate(server.page_url)
            browser.wait_for("document.readyState === 'complete' && !!document.getElementById('steer-hint')", 120)
            browser.wait_for("document.getElementById('steer-state').textContent === 'running'", 120)
            observed_from = browser.evaluate(OBSERVER) / 1000.0

            # 1. freshness: every evaluation that lands while we watch, from its write to its row in the DOM
            browser.wait_for(f"Object.values(window.__seen).filter(t => t > {observed_from * 1000}).length >= 6", 300)
            seen = {int(k): v / 1000.0 for k, v in browser.evaluate("window.__seen").items()}
            store = Archive.open(archive, create=False, read_only=True)
            try:
                programs = store.programs(store.run().id)
                landed = {p.id: _epoch(p.evaluated_at) for p in programs if p.evaluated_at is not None}
            finally:
                store.close()
            delays = [seen[i] - landed[i] for i in seen if landed.get(i, 0) > observed_from + 0.05]
            assert len(delays) >= 5, (seen, landed)
            print(
                f"\nwrite-to-DOM delay over {len(delays)} evaluations: median {statistics.median(delays):.2f} s, "
                f"max {max(delays):.2f} s (poll every 1 s; os.getloadavg {os.getloadavg()})"
            )
            assert all(d > -0.05 for d in delays), delays  # never before the write: the clocks agree
            assert max(delays) < FRESH_S, delays

            # 2. a hint typed in the page reaches the next prompt: sent while a proposal is under way,
            # so the next proposal is launched after the hint is stored
            under_way = _when_fresh_request(endpoint)
            browser.evaluate("document.getElementById('steer-hint').focus()")
            browser.send("Input.insertText", text=HINT)
            _click(browser, "steer-hint-add")
            browser.wait_for(f"document.getElementById('steer-hints').textContent.includes({HINT!r})", 60)
            assert browser.evaluate("document.getElementById('steer-hint').value") == ""
            stored_at = time.monotonic()
            deadline = time.monotonic() + 120
            while len(endpoint.completions) < under_way + 2:
                assert time.monotonic() < deadline, "no proposal after the hint"
                time.sleep(0.05)
            assert stored_at < endpoint.completions[under_way].at + LATENCY_S, "hint stored after the reply"
            assert HINT not in endpoint.completions[under_way].prompt
            assert HINT in endpoint.completions[under_way + 1].prompt  # the next prompt carries it, as typed

            # 3. pause stops new proposals after the one under way; resume brings them back
            under_way = _when_fresh_request(endpoint)
            _click(browser, "steer-pause")
            browser.wait_for("document.getElementById('steer-state').textContent.startsWith('paused')", 60)
            paused_at = time.monotonic()
            assert paused_at < endpoint.completions[under_way].at + LATENCY_S, "pause stored after the reply"
            # the one under way is answered, stored and evaluated, and the queue drains; nothing new is asked
            deadline = time.monotonic() + 300
            while _pending(archive):
                assert time.monotonic() < deadline, "the evaluations under way never landed"
                time.sleep(0.2)
            time.sleep(LATENCY_S + 3.0)
            assert len(endpoint.completions) == under_way + 1, "a proposal reached the endpoint while paused"
            assert _pending(archive) == 0
            assert browser.evaluate("document.getElementById('steer-pause').textContent") == "resume"
            _click(browser, "steer-pause")
            deadline = time.monotonic() + 120
            while len(endpoint.completions) < under_way + 3:
                assert time.monotonic() < deadline, "resume did not bring proposals back"
                time.sleep(0.05)
            assert browser.evaluate("document.getElementById('steer-error').textContent") == ""
        finally:
            if browser is not None:
                browser.close()
            if server is not None:
                server.shutdown()
            if engine.poll() is None:
                engine.send_signal(signal.SIGINT)  # the run stops as interrupted: resumable
                try:
                    engine.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    engine.kill()
                    engine.wait()
    assert "paused by the dashboard" in log.read_text()
