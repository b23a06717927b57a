"""llm_sql: the hit-rate metric, plan validation, synthetic tables and the evaluator end to end.

Candidates run through the real harness (sandboxed subprocesses); the evaluator is loaded in-process
with importlib since it is trusted code. Real-data checks skip cleanly without ../shared/data.
"""

from __future__ import annotations

import importlib.util
import random
import textwrap
from pathlib import Path

import pytest

from adrs.problemkit import CandidateError
from evaluators.llm_sql.hitrate import hit_rate, prefix_hits
from evaluators.llm_sql.plan import PlanError, check_plan, original_order, prompt_strings
from evaluators.llm_sql.synth import synthetic_table
from evaluators.llm_sql.table import from_raw, load_csv

PROBLEM = Path(__file__).resolve().parents[2] / "problems" / "llm_sql"
BEER_MERGE = [["beer/beerId", "beer/name"]]


@pytest.fixture(autouse=True)
def _synthetic_by_default(monkeypatch):
    """ADRS_DATA in the environment would switch the evaluator to real data; tests choose explicitly."""
    monkeypatch.delenv("ADRS_DATA", raising=False)


def _evaluator():
    spec = importlib.util.spec_from_file_location("llm_sql_evaluator", PROBLEM / "evaluator.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _program(tmp_path: Path, body: str, name: str = "candidate.py") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return str(path)


def _trie_hits(strings: list[str]) -> list[int]:
    """The original's definition, literally: walk a character trie of all earlier strings."""
    root: dict = {}
    hits = []
    for s in strings:
        node, depth = root, 0
        for ch in s:
            if ch not in node:
                break
            node, depth = node[ch], depth + 1
        hits.append(depth)
        node = root
        for ch in s:
            node = node.setdefault(ch, {})
    return hits


# --- the metric -------------------------------------------------------------------------------


def test_prefix_hits_equal_the_trie_definition_on_random_strings():
    rng = random.Random(5)
    for _ in range(30):
        strings = ["".join(rng.choice("ab") for _ in range(rng.randint(0, 6))) for _ in range(rng.randint(0, 40))]
        assert prefix_hits(strings) == _trie_hits(strings)


def test_hit_rate_counts_hits_against_any_earlier_row_not_only_the_previous_one():
    assert prefix_hits(["abcd", "xyz", "abce"]) == [0, 0, 3]
    assert hit_rate(["ab", "ab"]) == pytest.approx(0.5)
    assert hit_rate([]) == 0.0


def test_cells_are_converted_like_pandas():
    table = from_raw("t", ["i", "f", "s", "n", "b"], [["007", "4.50", "x", "5", "True"], ["8", "1", "NA", "", "false"]])
    assert table.cells == [["7", "4.5", "x", "5.0", "True"], ["8", "1.0", "", "", "False"]]
    merged = from_raw("t", ["a", "b"], [["x", ""], ["y", "z"]], [["a", "b"]])
    assert merged.cells == [["x", "nan"], ["y", "z"]]  # f"{nan}" inside a merged column, as the original
    numeric = from_raw("t", ["i", "f"], [["5", "1.5"]])
    assert numeric.cells == [["5.0", "1.5"]]  # an all-numeric row is upcast to float


def test_original_order_hit_rates_on_beer_match_the_leaderboard(shared_data):
    table = load_csv(shared_data / "llm_sql" / "beer.csv", BEER_MERGE)
    unmerged = hit_rate(prompt_strings(table, original_order(table, merge=False)))
    merged = hit_rate(prompt_strings(table, original_order(table)))
    assert unmerged == pytest.approx(0.14622030323, abs=1e-9)  # the original trie's figure, 14.62 %
    assert merged == pytest.approx(0.14429368129, abs=1e-9)  # the evaluator's baseline for beer, 14.43 %


# --- plan validation --------------------------------------------------------------------------


def _small_table():
    return from_raw("t", ["a", "b", "c"], [["1", "x", "p"], ["2", "y", "q"], ["3", "z", "r"]], [["b", "c"]])


def test_check_plan_accepts_a_true_reordering_and_builds_prompts_from_trusted_cells():
    table = _small_table()
    plan = check_plan(table, [[2, [1, 2, 0]], [0, [0, 2, 1]], [1, [2, 1, 0]]])
    assert prompt_strings(table, plan) == ["zr3", "1px", "qy2"]


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ([[0, [0, 1, 2]], [0, [0, 1, 2]], [1, [0, 1, 2]]], "appears 2 times"),
        ([[0, [0, 1, 2]], [1, [0, 1, 2]]], "every row must appear exactly once"),
        ([[0, [0, 1, 1]], [1, [0, 1, 2]], [2, [0, 1, 2]]], "not a permutation"),
        ([[0, [0, 1]], [1, [0, 1, 2]], [2, [0, 1, 2]]], "orders 2 fields"),
        ([[0, [1, 0, 2]], [1, [0, 1, 2]], [2, [0, 1, 2]]], "splits the merged column"),
        ([[0, [0, 1, 2]], [1, [0, 1, 2]], [3, [0, 1, 2]]], "row indices"),
        ([[0, [0, 1, 2]], [1, [0, 1, 2]], [2.0, [0, 1, 2]]], "row indices"),
        ([[0, [0, 1, 2]], [1, [0, 1, 2]], [2, [0, True, 2]]], "field indices"),
        ([["1px", ""], [1, [0, 1, 2]], [2, [0, 1, 2]]], "pair"),
        ({"rows": []}, "expected a list"),
    ],
)
def test_check_plan_rejects_anything_but_a_true_reordering(plan, message):
    with pytest.raises(PlanError, match=message):
        check_plan(_small_table(), plan)


# --- synthetic tables -------------------------------------------------------------------------


def test_synthetic_tables_are_seeded_and_follow_beer_statistics():
    first, again, other = synthetic_table(21, 28_479), synthetic_table(21, 28_479), synthetic_table(22, 28_479)
    assert first.cells == again.cells
    assert first.cells != other.cells
    assert first.columns[-1] == "beer/beerId" and first.merge_spec() == BEER_MERGE
    distinct = {c: len({row[j] for row in first.cells}) for j, c in enumerate(first.columns)}
    assert distinct["beer/name"] == distinct["beer/beerId"] == 1423  # as in beer.csv
    assert distinct["review/profileName"] == 4862
    assert distinct["review/overall"] <= 20 and distinct["review/palate"] <= 5
    baseline = hit_rate(prompt_strings(first, original_order(first)))
    assert 0.10 < baseline < 0.18  # beer.csv: 14.43 %


# --- the evaluator through the harness --------------------------------------------------------


def test_quick_stage_scores_the_initial_program_at_the_zero_point(tmp_path):
    result = _evaluator().evaluate(str(PROBLEM / "initial.py"), stage="quick", workdir=str(tmp_path))
    assert result["metrics"]["hit_score"] == 0.0
    assert result["metrics"]["hit_rate"] == pytest.approx(result["metrics"]["baseline_hit_rate"])
    assert 4.0 < result["score"] <= 5.0  # only the runtime term
    assert result["features"]["field_orders"] == 1.0


def test_ggr_baseline_beats_the_initial_program_on_synthetic_tables(tmp_path):
    result = _evaluator().evaluate(str(PROBLEM / "baselines" / "ggr.py"), stage="full", workdir=str(tmp_path))
    assert 0.68 < result["metrics"]["hit_rate"] < 0.76  # beer.csv: 70.74 %
    assert result["score"] > 60.0
    assert "synthetic" in result["feedback"]


def test_ggr_baseline_reproduces_its_beer_hit_rate_through_the_harness(tmp_path, shared_data):
    result = _evaluator().evaluate(
        str(PROBLEM / "baselines" / "ggr.py"), stage="full", workdir=str(tmp_path), data_dir=str(shared_data)
    )
    assert result["metrics"]["hit_rate"] == pytest.approx(0.7073511458, abs=1e-6)  # the original: 70.74 %
    assert result["metrics"]["baseline_hit_rate"] == pytest.approx(0.1442936813, abs=1e-9)
    assert result["metrics"]["hit_score"] == pytest.approx(65.80, abs=0.01)
    assert "beer.csv" in result["feedback"]


HACKS = {
    "one_row_repeated": """
        def solve(columns, rows, col_merge, **kw):
            return [(0, list(range(len(columns)))) for _ in rows]  # identical rows: ~100 % hits
    """,
    "row_dropped": """
        def solve(columns, rows, col_merge, **kw):
            return [(r, list(range(len(columns)))) for r in range(len(rows) - 1)]
    """,
    "merge_ignored": """
        def solve(columns, rows, col_merge, **kw):
            return [(r, list(range(len(columns)))) for r in range(len(rows))]  # the leaderboard's identity
    """,
    "field_duplicated": """
        def solve(columns, rows, col_merge, **kw):
            order = [c for c in range(len(columns)) if c != 2] + [0]
            return [(r, order) for r in range(len(rows))]
    """,
    "values_instead_of_indices": """
        def solve(columns, rows, col_merge, **kw):
            return sorted(rows)
    """,
    "float_indices": """
        def solve(columns, rows, col_merge, **kw):
            return [(float(r), list(range(len(columns)))) for r in range(len(rows))]
    """,
    "forged_result": """
        import json, os
        def solve(columns, rows, col_merge, **kw):
            with open("result.json", "w") as f:  # bypass the driver: the trusted side still checks
                json.dump({"ok": True, "value": {"plan": [[0, [0]]]}}, f)
            os._exit(0)
    """,
}


@pytest.mark.parametrize("name", sorted(HACKS))
def test_reward_hacks_and_invalid_outputs_are_rejected_with_feedback(tmp_path, name):
    program = _program(tmp_path, HACKS[name])
    with pytest.raises(CandidateError) as caught:
        _evaluator().evaluate(program, stage="quick", workdir=str(tmp_path / "work"))
    assert caught.value.kind == "invalid_output"
    assert "synthetic-beer-11-4000" in caught.value.message  # the feedback names the table


@pytest.mark.parametrize(
    ("body", "kind", "text"),
    [
        ("def solve(columns, rows, col_merge, **kw):\n    raise RuntimeError('boom')\n", "exception", "boom"),
        ("def solve(columns, rows, col_merge, **kw)\n    return []\n", "syntax", "line 1"),
        ("def reorder(df):\n    return df\n", "exception", "defines no function solve"),
        ("import time\ndef solve(columns, rows, col_merge, **kw):\n    time.sleep(5)\n", "timeout", "limit"),
    ],
)
def test_a_broken_candidate_is_a_recorded_failure(tmp_path, monkeypatch, body, kind, text):
    monkeypatch.setenv("ADRS_CANDIDATE_TIMEOUT_S", "2")
    program = _program(tmp_path, body)
    with pytest.raises(CandidateError) as caught:
        _evaluator().evaluate(program, stage="quick", workdir=str(tmp_path / "work"))
    assert caught.value.kind == kind
    assert text in caught.value.message


def test_problem_directory_loads():
    problem_module = pytest.importorskip("adrs.problem")
    problem = problem_module.load_problem(PROBLEM)
    assert [s.name for s in problem.stages] == ["quick", "full", "holdout"]
    assert problem.stages[-1].holdout
