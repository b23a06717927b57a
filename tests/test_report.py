"""`adrs report`: built from real small runs of the toy problem, through the real CLI.

The page must be one file whose figures are embedded PNGs, --compare must put two runs on the
same plots, baselines are scored (on the scoring and the holdout stage) once and then read from
the user's cache (the archive is only read, never written), a failed baseline score is never
cached, a missing matplotlib is a clear message, and headless Chromium must load the page, decode
every figure and show the baselines' scores.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

pytest.importorskip("matplotlib", reason="adrs report needs the optional extra adrs[report] (matplotlib)")

from adrs import api  # noqa: E402
from adrs.archive.store import Archive  # noqa: E402
from adrs.problem import load_problem  # noqa: E402
from adrs.report.data import load_run_data  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FIGURE_ALTS = {
    "best score over evaluations",
    "best score over wall-clock time",
    "Pareto front",
    "MAP-Elites coverage per island",
    "lineage of the best program",
    "outcome of each evaluation over time",
    "evaluation time per stage",
}
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class Page(HTMLParser):
    """The parts of a report page the tests look at."""

    def __init__(self, text: str):
        super().__init__()
        self.images: list[dict[str, str]] = []
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.external: list[str] = []
        self.body: dict[str, str] = {}
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if "id" in values:
            self.ids.add(values["id"])
        if tag == "img":
            self.images.append(values)
        if tag == "a" and values.get("href", "").startswith("#"):
            self.links.append(values["href"][1:])
        if tag == "body":
            self.body = values
        for key in ("src", "href"):
            target = values.get(key, "")
            if target and not target.startswith(("#", "data:")):
                self.external.append(f"<{tag} {key}={target}>")


def _table_row(text: str, first_cell: str) -> list[str]:
    """The cells (text only) of the first table row whose first cell is `first_cell`."""
    for row in re.findall(r"<tr>(.*?)</tr>", text, flags=re.S):
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, flags=re.S)]
        if cells and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no table row starts with {first_cell!r}")


def decoded_pngs(page: Page) -> list[bytes]:
    out = []
    for image in page.images:
        prefix = "data:image/png;base64,"
        assert image["src"].startswith(prefix), image["src"][:60]
        data = base64.b64decode(image["src"][len(prefix) :], validate=True)
        assert data.startswith(PNG_SIGNATURE)
        out.append(data)
    return out


def adrs(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "adrs.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path, Path]:
    """Two real offline runs of the toy problem (seeds 0 and 1) in a scratch folder."""
    work = tmp_path_factory.mktemp("report")
    problem = work / "toy"
    shutil.copytree(ROOT / "adrs" / "templates" / "skeleton", problem, ignore=shutil.ignore_patterns("__pycache__"))
    (problem / "problem.toml").write_text((problem / "problem.toml").read_text().replace("{name}", "toy"))
    first, second = work / "a.sqlite", work / "b.sqlite"
    api.evolve(problem, archive=first, budget=15, seed=0, workers=2, mutator="offline")
    api.evolve(problem, archive=second, budget=10, seed=1, workers=2, mutator="offline", evaluate_holdout=False)
    return work, first, second


def test_extracted_series_match_the_archive(runs):
    _, first, _ = runs
    store = Archive.open(first, create=False)
    try:
        run = store.run()
        data = load_run_data(store, run, load_problem(run.problem_root), "a")
    finally:
        store.close()
    with sqlite3.connect(first) as db:
        landed = db.execute(
            "SELECT count(*) FROM programs WHERE migrated_from IS NULL AND status != 'pending'"
        ).fetchone()[0]
        failed = db.execute(
            "SELECT count(*) FROM programs WHERE migrated_from IS NULL AND status = 'failed'"
        ).fetchone()[0]
        best_score = db.execute("SELECT max(score) FROM programs WHERE complete").fetchone()[0]
        initial = db.execute("SELECT id FROM programs WHERE mutator = 'initial'").fetchone()[0]
    assert landed == 15 and len(data.timeline) == 15
    assert [p.index for p in data.timeline] == list(range(1, 16))
    assert (
        sum(1 for p in data.timeline if p.outcome not in ("complete",) and not p.outcome.startswith("below")) == failed
    )
    assert data.best_score == pytest.approx(best_score)
    assert data.lineage[0].program_id == initial and data.lineage[-1].program_id == data.best_id
    assert data.dollars == 0 and data.llm_calls == 0
    assert sum(len(g.elite_scores) for g in data.grids) >= 3  # the initial program is copied to every island
    assert data.holdout_score is not None  # the engine scored the final best on the holdout stage


def test_report_is_one_file_with_embedded_figures_and_linked_diffs(runs):
    work, first, _ = runs
    out = work / "one.html"
    done = adrs("report", str(first), "-o", str(out), cwd=work)
    assert "scoring 1 baseline" in done.stdout and str(out) in done.stdout
    text = out.read_text()
    page = Page(text)
    assert not page.external, page.external  # nothing is fetched from elsewhere
    assert len(decoded_pngs(page)) == len(FIGURE_ALTS)
    assert {image["alt"] for image in page.images} == FIGURE_ALTS
    assert "Best score over dollars: not drawn" in text and "offline mutator" in text
    assert "fifo" in text  # the baseline is on the page, with its scores (a run stores sandbox: null)
    assert "unknown sandbox backend" not in text
    baseline = _table_row(text, "fifo")
    assert re.fullmatch(r"-?[0-9.]+(e-?\d+)?", baseline[1]) and re.fullmatch(r"-?[0-9.]+(e-?\d+)?", baseline[2]), (
        baseline
    )
    assert re.search(r"(beats|does not beat) fifo \(", text)  # did the run beat the baseline?
    assert "Its change against the initial program:" in text or "The best program is the initial program" in text
    program_links = [link for link in page.links if link.startswith("r0-p")]
    assert program_links and set(program_links) <= page.ids  # every program link lands on an embedded diff
    assert '<pre class="diff">' in text
    # a second report reads the baseline scores from the cache instead of evaluating again, and
    # neither report wrote to the archive
    before = (first.read_bytes(), first.stat().st_mtime_ns)
    again = adrs("report", str(first), "-o", str(work / "again.html"), cwd=work)
    assert "scoring" not in again.stdout
    assert (first.read_bytes(), first.stat().st_mtime_ns) == before
    with sqlite3.connect(f"file:{first}?mode=ro", uri=True) as db:
        assert db.execute("SELECT count(*) FROM state WHERE key LIKE 'report.%'").fetchone()[0] == 0


def test_compare_puts_both_runs_on_the_same_plots(runs):
    work, first, second = runs
    out = work / "compare.html"
    adrs("report", "--compare", str(first), str(second), "-o", str(out), "--no-baselines", cwd=work)
    text = out.read_text()
    page = Page(text)
    assert len(decoded_pngs(page)) == len(FIGURE_ALTS)
    assert "A: a.sqlite" in text and "B: b.sqlite" in text
    assert any(i.startswith("r0-p") for i in page.ids) and any(i.startswith("r1-p") for i in page.ids)
    assert "baselines not scored (--no-baselines)" in text
    one = adrs("report", "--compare", str(first), cwd=work, check=False)
    assert one.returncode == 1 and "two or more" in one.stdout


def test_dollars_plot_appears_when_llm_calls_cost_money(runs, tmp_path):
    work, first, _ = runs
    copy = tmp_path / "priced.sqlite"
    shutil.copyfile(first, copy)
    store = Archive.open(copy, create=False)
    try:
        run = store.run()
        for program in store.programs(run.id):
            if program.mutator == "offline" and program.evaluated_at is not None:
                store.add_llm_call(
                    run.id,
                    program_id=program.id,
                    model="priced",
                    cost_usd=0.01,
                    created_at=program.evaluated_at - timedelta(milliseconds=1),
                )
    finally:
        store.close()
    out = tmp_path / "priced.html"
    adrs("report", str(copy), "-o", str(out), "--no-baselines", cwd=work)
    text = out.read_text()
    page = Page(text)
    assert "best score over dollars" in {image["alt"] for image in page.images}
    assert len(decoded_pngs(page)) == len(FIGURE_ALTS) + 1
    assert "not drawn" not in text


def test_a_run_where_every_evaluation_failed_still_gets_a_page(toy_problem, tmp_path):
    from adrs.archive.store import NewProgram
    from adrs.evaluate.result import Evaluation
    from adrs.program import normalized_hash

    problem = load_problem(toy_problem)
    archive = tmp_path / "failed.sqlite"
    store = Archive.open(archive)
    try:
        run = store.create_run(problem.name, str(problem.root), problem.fingerprint(), 0, {"islands": 2})
        for index, kind in enumerate(("exception", "timeout", "exception")):
            code = problem.initial_code().replace("* 1.0", f"* {index + 2}.0")
            new = NewProgram(code=code, code_hash=normalized_hash(code), proposal_index=index, mutator="offline")
            program = store.add_program(run.id, new)
            store.record_evaluations(program.id, [Evaluation.failure("quick", kind, "boom", 0.2)], complete=False)
    finally:
        store.close()
    out = tmp_path / "failed.html"
    adrs("report", str(archive), "-o", str(out), "--no-baselines", cwd=tmp_path)
    text = out.read_text()
    assert "no program passed every evolution stage" in text
    assert "exception 2" in text and "timeout 1" in text
    assert _table_row(text, "exception")[1:3] == ["boom", "2"]  # failures grouped by cause
    assert len(decoded_pngs(Page(text))) == len(FIGURE_ALTS)


def test_the_best_programs_diff_is_inline(toy_problem, tmp_path):
    from adrs.archive.store import NewProgram
    from adrs.evaluate.result import Evaluation
    from adrs.program import normalized_hash, unified_diff

    problem = load_problem(toy_problem)
    archive = tmp_path / "best.sqlite"
    store = Archive.open(archive)
    try:
        run = store.create_run(problem.name, str(problem.root), problem.fingerprint(), 0, {"islands": 1})
        initial_code = problem.initial_code()
        better = initial_code.replace("jobs[i][0] * 1.0", "jobs[i][0] / jobs[i][1]")
        parent = None
        for index, (code, score) in enumerate(((initial_code, 50.0), (better, 90.0))):
            new = NewProgram(
                code=code,
                code_hash=normalized_hash(code),
                proposal_index=index,
                mutator="initial" if parent is None else "offline",
                parent_id=parent,
                diff="" if parent is None else unified_diff(initial_code, code),
            )
            program = store.add_program(run.id, new)
            stages = [
                Evaluation(s.name, True, score, {"score": score, "weighted_completion": 1.0})
                for s in problem.evolution_stages
            ]
            store.record_evaluations(program.id, stages, complete=True)
            parent = program.id
    finally:
        store.close()
    out = tmp_path / "best.html"
    adrs("report", str(archive), "-o", str(out), "--no-baselines", cwd=tmp_path)
    text = out.read_text()
    section = text[text.index('id="best"') : text.index('id="progress"')]
    assert "Its change against the initial program:" in section
    assert "jobs[i][0] / jobs[i][1]" in section  # the added line, shown without a click


def test_without_matplotlib_the_report_names_the_extra(runs):
    work, first, _ = runs
    out = work / "never.html"
    snippet = (
        "import sys\n"
        "sys.modules['matplotlib'] = None  # as if the extra were not installed\n"
        "from adrs.cli import main\n"
        f"sys.exit(main(['report', {str(first)!r}, '-o', {str(out)!r}]))\n"
    )
    done = subprocess.run([sys.executable, "-c", snippet], cwd=work, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "adrs[report]" in done.stdout and "matplotlib" in done.stdout
    assert not out.exists()


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_headless_chromium_loads_the_page_and_decodes_every_figure(runs):
    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install -y chromium); the page's images are checked above")
    work, first, second = runs
    out = work / "browser.html"
    adrs("report", "--compare", str(first), str(second), "-o", str(out), cwd=work)
    with tempfile.TemporaryDirectory(prefix="adrs-chromium-") as profile:
        done = subprocess.run(
            [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", out.resolve().as_uri()],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    dom = Page(done.stdout)
    assert len(decoded_pngs(dom)) == len(FIGURE_ALTS)
    # the page's load handler counts the images the browser actually decoded
    assert dom.body.get("data-images-decoded") == f"{len(FIGURE_ALTS)}/{len(FIGURE_ALTS)}", dom.body
    # the baselines as the browser shows them: scored, for both runs, with the verdict against them
    assert done.stdout.count("<td>fifo</td>") == 2
    fifo = _table_row(done.stdout, "fifo")
    assert fifo[1] != "–" and not fifo[3], fifo
    assert len(re.findall(r"(beats|does not beat) fifo \(", done.stdout)) == 2


def _baseline_cache(archive: Path) -> Path:
    """The user-cache file that holds the baseline scores of the archive's run."""
    from adrs.report.baselines import cache_file

    store = Archive.open(archive, create=False, read_only=True)
    try:
        run = store.run()
    finally:
        store.close()
    return cache_file(run, load_problem(run.problem_root))


def _cached_baselines(archive: Path) -> dict:
    cache = _baseline_cache(archive)
    return json.loads(cache.read_text()) if cache.exists() else {}


def test_a_cached_failure_is_scored_again(runs, tmp_path):
    """A cache an older adrs wrote may hold a failure ("unknown sandbox backend 'None'"): the next
    report scores that baseline again instead of showing the failure for ever."""
    work, first, _ = runs
    copy = tmp_path / "stale.sqlite"
    shutil.copyfile(first, copy)
    adrs("report", str(copy), "-o", str(tmp_path / "fresh.html"), cwd=work)
    cached = _cached_baselines(copy)
    assert [e["name"] for e in cached["scores"]] == ["fifo"]
    stale = {
        **cached,
        "scores": [
            {
                "name": "fifo",
                "score": None,
                "objectives": {},
                "descriptors": {},
                "error": "evaluator: unknown sandbox backend 'None'",
            }
        ],
    }
    _baseline_cache(copy).write_text(json.dumps(stale))
    done = adrs("report", str(copy), "-o", str(tmp_path / "again.html"), cwd=work)
    assert "scoring 1 baseline" in done.stdout
    text = (tmp_path / "again.html").read_text()
    assert "unknown sandbox backend" not in text and _table_row(text, "fifo")[1] != "–"


def test_a_failed_baseline_is_reported_and_never_cached(toy_problem, tmp_path):
    (toy_problem / "baselines" / "broken.py").write_text(
        "def order_jobs(jobs):\n    raise RuntimeError('no order today')\n"
    )
    archive = tmp_path / "a.sqlite"
    api.evolve(toy_problem, archive=archive, budget=3, seed=0, workers=1, mutator="offline", evaluate_holdout=False)
    first = adrs("report", str(archive), "-o", str(tmp_path / "one.html"), cwd=tmp_path)
    assert "scoring 2 baseline" in first.stdout
    broken = _table_row((tmp_path / "one.html").read_text(), "broken")
    assert broken[1] == "–" and "no order today" in broken[3], broken
    assert [e["name"] for e in _cached_baselines(archive)["scores"]] == ["fifo"]  # the failure is not kept
    again = adrs("report", str(archive), "-o", str(tmp_path / "two.html"), cwd=tmp_path)
    assert "scoring 1 baseline" in again.stdout  # only the failed one is tried again


def test_noise_bands_follow_the_scores_uncertainty(runs, tmp_path):
    """Where records carry a score's standard error (noise-aware verdicts), the curves get a band."""
    import dataclasses

    from adrs.report.build import render

    _, first, _ = runs
    store = Archive.open(first, create=False)
    try:
        run = store.run()
        data = load_run_data(store, run, load_problem(run.problem_root), "a")
    finally:
        store.close()
    assert all(p.uncertainty is None for p in data.timeline)  # today's records carry none
    assert "standard error" not in render([data])
    data.timeline = [dataclasses.replace(p, uncertainty=0.5) for p in data.timeline]
    assert "Shaded: one standard error" in render([data])
