"""Which tables each stage of the LLM-SQL problem scores, synthetic or real.

Owns: the fixed seeds and sizes of the synthetic tables, the leaderboard's five datasets with
their merge specs, and the rule that picks real or synthetic tables for a stage.

- synthetic (default): quick = one 4 000-row table (seed 11); full = two beer-sized tables
  (seeds 21, 22; 28 479 rows each); holdout = three beer-sized tables (seeds 31, 32, 33).
- real (`data_dir` given): quick = every 7th row of each dataset present; full = every dataset
  present, whole (the leaderboard's workload, restricted to the files you have); holdout = the
  synthetic holdout tables, since beer.csv is the only real table available here and the full
  stage already shows it.

Must not: run candidates or score anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from adrs.problemkit import find_data
from evaluators.llm_sql.synth import synthetic_table
from evaluators.llm_sql.table import Table, load_csv

PROBLEM_SUBDIR = "llm_sql"
SOURCE_ROWS = 28_479  # beer.csv's size: the synthetic full/holdout tables match it
QUICK_EVERY = 7  # quick stage on real data: a strided sample keeps the table's statistics

# The leaderboard's datasets in its order, with each one's col_merge groups.
DATASETS: dict[str, list[list[str]]] = {
    "movies.csv": [["movieinfo", "movietitle", "rottentomatoeslink"]],
    "beer.csv": [["beer/beerId", "beer/name"]],
    "BIRD.csv": [["PostId", "Body"]],
    "PDMX.csv": [
        ["path", "metadata"],
        ["hasmetadata", "isofficial", "isuserpublisher", "isdraft", "hasannotations", "subsetall"],
    ],
    "products.csv": [["product_title", "parent_asin"]],
}


@dataclass(frozen=True)
class SyntheticSpec:
    seed: int
    rows: int


SYNTHETIC: dict[str, list[SyntheticSpec]] = {
    "quick": [SyntheticSpec(11, 4_000)],
    "full": [SyntheticSpec(21, SOURCE_ROWS), SyntheticSpec(22, SOURCE_ROWS)],
    "holdout": [SyntheticSpec(31, SOURCE_ROWS), SyntheticSpec(32, SOURCE_ROWS), SyntheticSpec(33, SOURCE_ROWS)],
}


def stage_tables(stage: str, data_dir: str | os.PathLike | None = None) -> tuple[list[Table], str]:
    """The tables of `stage` and a word saying where they came from ("synthetic" or "real")."""
    if stage not in SYNTHETIC:
        raise ValueError(f"llm_sql has no stage {stage!r}; stages: {sorted(SYNTHETIC)}")
    real = real_dataset_paths(data_dir)
    if real and stage != "holdout":
        every = QUICK_EVERY if stage == "quick" else 1
        return [load_csv(path, DATASETS[os.path.basename(path)], every=every) for path in real], "real"
    return [synthetic_table(s.seed, s.rows) for s in SYNTHETIC[stage]], "synthetic"


def real_dataset_paths(data_dir: str | os.PathLike | None) -> list[str]:
    """Paths of the leaderboard datasets found under the data folder, in leaderboard order.

    Empty when no data folder was given (then the synthetic tables are used); a folder given but
    holding none of the five files is an error, never a silent fallback.
    """
    found: list[str] = []
    missing_everywhere: FileNotFoundError | None = None
    for name in DATASETS:
        try:
            folder = find_data(data_dir, PROBLEM_SUBDIR, name)
        except FileNotFoundError as exc:
            missing_everywhere = exc
            continue
        if folder is None:
            return []
        found.append(str(folder / name))
    if not found and missing_everywhere is not None:
        raise FileNotFoundError(f"no llm_sql dataset ({', '.join(DATASETS)}) found: {missing_everywhere}")
    return found
