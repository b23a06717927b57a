"""Trusted evaluator of llm_sql: runs the candidate's table layout policy and scores its prefix hits.

Per stage (see evaluators.llm_sql.workloads): each table is written to a JSON file in `workdir`
and handed to its own sandboxed candidate process (run_candidates, files=...), where driver.py
calls solve(). What comes back is a plan of row and field indices; the trusted side checks it is a
true reordering (every row once, every field once per row, merge groups adjacent), builds each
prompt from its own copy of the table, and computes hit rates and the leaderboard formula itself.
Any table whose process fails or whose plan is invalid fails the whole evaluation with its kind.
Must not import or call the candidate itself, and must not read anything the candidate printed.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path

from adrs.problemkit import INVALID_OUTPUT, NONZERO_EXIT, CandidateError, default_limits, run_candidates
from evaluators.llm_sql.hitrate import hit_rate
from evaluators.llm_sql.plan import PlanError, check_plan, original_order, prompt_strings
from evaluators.llm_sql.score import TableResult, stage_score
from evaluators.llm_sql.table import Table
from evaluators.llm_sql.workloads import stage_tables

DRIVER = Path(__file__).with_name("driver.py")
# The original's GGR knobs, passed to solve() unchanged (one_way_dep=[] and parallel are dropped).
PARAMS = {"early_stop": 100_000, "row_stop": 4, "col_stop": 2, "distinct_value_threshold": 0.7}
# Threads count against the candidate's process limit (a pids cgroup). The leaderboard's GGR
# programs nest thread pools in their recursion (~100-200 threads on beer.csv).
CANDIDATE_PROCESSES = 512


def evaluate(
    program_path: str, *, stage: str = "full", workdir: str | None = None, data_dir: str | None = None
) -> dict:
    """Score `program_path` on the stage's tables; a broken candidate raises CandidateError."""
    tables, source = stage_tables(stage, data_dir)
    base = Path(workdir or tempfile.mkdtemp(prefix="llm-sql-"))
    base.mkdir(parents=True, exist_ok=True)
    files, payloads = [], []
    for i, table in enumerate(tables):
        path = base / f"table_{i}.json"
        path.write_text(json.dumps(table.to_json()))
        files.append(path)
        payloads.append({"table_file": path.name, "params": PARAMS})
    limits = dataclasses.replace(default_limits(), processes=CANDIDATE_PROCESSES)
    runs = run_candidates(program_path, DRIVER, payloads, limits=limits, workdir=base / "runs", files=files)
    results = [_score_table(table, run) for table, run in zip(tables, runs, strict=True)]
    total = stage_score(results)
    lines = [
        f"{stage} ({source} tables): hit rate {total.hit_rate:.2%} vs baseline {total.baseline_hit_rate:.2%}, "
        f"mean process time {total.runtime_s:.2f} s"
    ]
    lines += [
        f"{r.name}: {r.rows} rows, hit {r.hit_rate:.2%} (baseline {r.baseline_hit_rate:.2%}), "
        f"{r.wall_s:.2f} s, {r.field_orders} distinct field orders"
        for r in results
    ]
    if total.runtime_s > 10:
        lines.append("over 10 s per table: the runtime term (5 % of the score) is 0")
    metrics = {
        "hit_rate": total.hit_rate,
        "baseline_hit_rate": total.baseline_hit_rate,
        "hit_score": total.hit_score,
        "runtime_s": total.runtime_s,
        "runtime_score": total.runtime_score,
        **{f"hit_rate[{r.name}]": r.hit_rate for r in results},
    }
    field_orders = sum(r.field_orders for r in results) / len(results)
    return {
        "score": total.score,
        "metrics": metrics,
        "feedback": "\n".join(lines),
        "features": {"field_orders": field_orders},
    }


def _score_table(table: Table, run) -> TableResult:
    if not run.ok:
        raise CandidateError(run.error_kind or NONZERO_EXIT, f"{table.name}: {run.error}")
    value = run.value
    if isinstance(value, dict) and isinstance(value.get("malformed"), str):
        raise CandidateError(INVALID_OUTPUT, f"{table.name}: {value['malformed']}")
    if not isinstance(value, dict) or "plan" not in value:
        raise CandidateError(INVALID_OUTPUT, f"{table.name}: the driver's record is malformed")
    try:
        plan = check_plan(table, value["plan"])
    except PlanError as exc:
        raise CandidateError(INVALID_OUTPUT, f"{table.name}: {exc}") from None
    return TableResult(
        name=table.name,
        rows=table.n_rows,
        hit_rate=hit_rate(prompt_strings(table, plan)),
        baseline_hit_rate=hit_rate(prompt_strings(table, original_order(table))),
        wall_s=run.wall_s,
        field_orders=len({tuple(fields) for _, fields in plan}),
    )
