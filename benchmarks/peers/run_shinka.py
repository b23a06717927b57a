"""Run ShinkaEvolve 0.0.7 on prism with the mutation server as its model (run in Shinka's own venv).

    $PEERS_HOME/shinka/bin/python benchmarks/peers/run_shinka.py --port P --budget 100 \
        --workers 2 --seed 0 --out WORK/shinka --result WORK/shinka.json

Configuration: the "full" patch type only (the server answers with whole programs), the model as
Shinka's local OpenAI-compatible form `local/offline-mutator@http://127.0.0.1:P/v1`, no meta
recommendations, no novelty judge, no embeddings (those would need a real model), 3 islands,
`workers` concurrent evaluations (each a local job: `python prism_eval.py --program_path ...`)
and as many concurrent proposals. Generations = budget (generation 0 is the initial program).
Writes the wall time of the run and Shinka's best correct score as JSON.

Must not: evaluate or score anything itself (prism_eval.py does, through prism's evaluator).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import time
from pathlib import Path

from shinka.core import EvolutionConfig, ShinkaEvolveRunner
from shinka.database import DatabaseConfig
from shinka.launch import LocalJobConfig

HERE = Path(__file__).resolve().parent
PRISM = HERE.parents[1] / "problems" / "prism"


def best_correct_score(db_path: Path) -> float | None:
    if not db_path.exists():
        return None
    with sqlite3.connect(db_path) as db:
        row = db.execute("SELECT max(combined_score) FROM programs WHERE correct = 1").fetchone()
    return None if row is None else row[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--result", type=Path, required=True)
    args = parser.parse_args()
    os.environ["PEERS_ENGINE"] = "shinka"
    os.environ.setdefault("LOCAL_OPENAI_API_KEY", "not-needed")
    args.out.mkdir(parents=True, exist_ok=True)
    evo = EvolutionConfig(
        patch_types=["full"],
        patch_type_probs=[1.0],
        num_generations=args.budget,
        language="python",
        llm_models=[f"local/offline-mutator@http://127.0.0.1:{args.port}/v1"],
        llm_dynamic_selection=None,
        llm_kwargs={"temperatures": [0.7], "max_tokens": 4096},
        meta_rec_interval=None,
        embedding_model=None,
        novelty_llm_models=None,
        init_program_path=str(PRISM / "initial.py"),
        results_dir=str(args.out),
    )
    db = DatabaseConfig(num_islands=3, archive_size=40)  # Shinka keeps its database at results_dir/programs.sqlite
    job = LocalJobConfig(eval_program_path=str(HERE / "prism_eval.py"), python_executable=sys.executable)
    runner = ShinkaEvolveRunner(
        evo_config=evo,
        job_config=job,
        db_config=db,
        verbose=False,
        max_evaluation_jobs=args.workers,
        max_proposal_jobs=args.workers,
    )
    started = time.time()
    runner.run()
    ended = time.time()
    args.result.write_text(
        json.dumps(
            {
                "engine": "shinka",
                "t_start": started,
                "t_end": ended,
                "wall_s": ended - started,
                "best_score": best_correct_score(args.out / "programs.sqlite"),
                "generations": args.budget,
                "workers": args.workers,
            }
        )
    )


if __name__ == "__main__":
    main()
