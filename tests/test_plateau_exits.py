"""benchmarks/plateau_exits.py: the neighbourhoods it lists (which pairs are coupled, which guards
are inserted) and its run end to end on a real problem's stage.

The figures it produces live in docs/benchmarks.md; here only what it lists and that it scores
them through the real evaluation path.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import plateau_exits  # noqa: E402
from test_guards import PROGRAM  # noqa: E402  (a function with a decision, and one value nothing reads)

from adrs.mutate.offline.guards import guard_edits  # noqa: E402
from adrs.mutate.offline.neighbours import control_pairs, single_edits  # noqa: E402
from adrs.mutate.offline.sites import Analysis  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _listed():
    analysis = Analysis.of(PROGRAM)
    assert analysis is not None
    edits = [edit for _, edit in single_edits(analysis)]
    return analysis, edits


def test_coupled_pairs_link_an_assignment_to_the_test_that_reads_it() -> None:
    analysis, edits = _listed()
    pairs = plateau_exits.coupled_pairs(analysis, edits)
    described = {(edits[i].description, edits[j].description) for i, j in pairs}
    assert any("line 8" in a and "line 9" in b for a, b in described)  # `spare = ...` feeds `if spare > 3`
    # `other = load * 2` is read by nothing: none of its edits is paired
    assert not any("line 11" in a or "line 11" in b for a, b in described)
    # never two edits of one site
    sites = plateau_exits.sites(analysis)
    for i, j in pairs:
        assert plateau_exits.site_of(edits[i], sites) != plateau_exits.site_of(edits[j], sites)


TOY = """\
# EVOLVE-BLOCK-START
def order_jobs(jobs):
    n = len(jobs)
    few = 2
    order = list(range(n))
    if n > few:
        if n > 2 * few:
            order = sorted(order, key=lambda i: -jobs[i][1] / jobs[i][0])
    return order


# EVOLVE-BLOCK-END
"""


def test_it_scores_every_neighbour_through_the_real_evaluation_path(toy_problem: Path, tmp_path: Path) -> None:
    program, out = tmp_path / "program.py", tmp_path / "exits.json"
    program.write_text(TOY)
    done = subprocess.run(
        [sys.executable, "benchmarks/plateau_exits.py", str(toy_problem), "--program", str(program)]
        + ["--guards", "3", "--workers", "2", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    singles, pairs, controlled, guards = report["neighbourhoods"]
    analysis = Analysis.of(TOY)
    assert analysis is not None
    edits = [edit for _, edit in single_edits(analysis)]
    assert singles["children"] == len(edits)
    assert pairs["children"] == len(plateau_exits.coupled_pairs(analysis, edits)) > 0
    assert controlled["children"] == len(control_pairs(analysis, edits)) > 0  # `if n > few` and the test nested in it
    assert guards["children"] == 3 and report["guard_insertions"] == len(guard_edits(analysis))
    assert report["base"] > 0
    # the scores are real: some edits break the ordering (worse or failed), some keep it
    assert singles["neutral"] > 0 and singles["neutral"] + singles["gaining"] < singles["children"]
    assert "single edits:" in done.stdout


def test_a_missing_archive_is_one_line_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "none.sqlite"
    done = subprocess.run(
        [sys.executable, "benchmarks/plateau_exits.py", "problems/prism", "--archive", str(missing)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert str(missing) in done.stderr and len(done.stderr.strip().splitlines()) == 1
