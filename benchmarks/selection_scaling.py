"""The in-memory part of a proposal at 1,000, 10,000 and 100,000 programs: adding a result, choosing a parent.

    .venv/bin/python benchmarks/selection_scaling.py --programs 1000 10000 100000

No engine and no archive: an `Elites` is filled with random evaluated programs (scores with ties,
some incomplete, three islands, MAP-Elites features), then, per selection strategy, the CPU time of
`select` (parent and inspirations, what the proposer does before every proposal) is measured over
a few hundred draws, and that of `Elites.add` over the last 1,000 programs added. This is the part
of benchmarks/archive_scaling.py's per-evaluation work that the archive's size does not reach:
run it on two checkouts (PYTHONPATH) to compare them at sizes the full benchmark takes hours for.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import cast

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adrs.archive.elites import Elites  # noqa: E402
from adrs.archive.records import ProgramRecord  # noqa: E402
from adrs.archive.select import SelectionConfig, select  # noqa: E402
from adrs.problem import Feature, Objective, Problem  # noqa: E402

STRATEGIES = ("mixed", "rank", "tournament", "hill", "adaptive", "weighted")


class _Shape:
    """What `Elites` reads of a problem: its features and objectives."""

    features = (Feature("a", (0.2, 0.4, 0.6, 0.8)), Feature("b", (0.2, 0.4, 0.6, 0.8)))
    objectives = (Objective("score", "max"),)


def _program(pid: int, rng: random.Random, islands: int) -> ProgramRecord:
    score = float(rng.randrange(1000)) / 10
    return ProgramRecord(
        id=pid,
        run_id=1,
        proposal_index=pid,
        code=f"x = {pid}\n",
        code_hash=f"{pid:x}",
        parent_id=rng.randrange(1, pid) if pid > 1 else None,
        inspiration_ids=[],
        island=rng.randrange(islands),
        generation=0,
        mutator="initial" if pid == 1 else "offline",
        description="",
        diff="",
        status="evaluated",
        migrated_from=None,
        score=score,
        complete=rng.random() < 0.9,
        stage_reached="full",
        error_kind=None,
        metrics={"score": score},
        features={"a": rng.random(), "b": rng.random()},
        created_at=None,  # type: ignore[arg-type]
        evaluated_at=None,
    )


def measure(programs: int, islands: int, draws: int) -> dict[str, float]:
    """CPU ms per call: `add` over the last 1,000 programs, `select` per strategy over `draws` draws."""
    rng = random.Random(0)
    elites = Elites(cast(Problem, _Shape()), islands)
    records = [_program(pid, rng, islands) for pid in range(1, programs + 1)]
    for record in records[:-1000]:
        elites.add(record)
    began = time.process_time()
    for record in records[-1000:]:
        elites.add(record)
    out = {"add": 1000 * (time.process_time() - began) / 1000}
    for strategy in STRATEGIES:
        config = SelectionConfig(strategy=strategy)
        began = time.process_time()
        for draw in range(draws):
            select(elites, draw % islands, random.Random(draw), config)
        out[strategy] = 1000 * (time.process_time() - began) / draws
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--islands", type=int, default=3)
    parser.add_argument("--draws", type=int, default=200)
    options = parser.parse_args()
    print("CPU ms per call; programs, add, " + ", ".join(STRATEGIES), flush=True)
    for n in options.programs:
        result = measure(n, options.islands, options.draws)
        print(f"{n:>7} " + " ".join(f"{k} {v:8.3f}" for k, v in result.items()), flush=True)


if __name__ == "__main__":
    main()
