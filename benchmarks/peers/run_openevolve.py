"""Run OpenEvolve 0.4.0 on prism with the mutation server as its model (run in OpenEvolve's own venv).

    $PEERS_HOME/openevolve/bin/python benchmarks/peers/run_openevolve.py --port P --budget 100 \
        --workers 2 --seed 0 --out WORK/openevolve --result WORK/openevolve.json

Configuration: full-rewrite mode (the server answers with whole programs), 3 islands, MAP-Elites
over prism's two descriptors (the evaluator returns them as metrics), `workers` parallel
evaluations (OpenEvolve's process pool: each worker asks the model and evaluates), no LLM
feedback, no artifacts. Iterations = budget - 1: the initial program's evaluation is the first of
the budget, as in adrs. Writes the wall time of `run_evolution` and the best score as JSON.

Must not: evaluate or score anything itself (prism_eval.py does, through prism's evaluator).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from openevolve import run_evolution
from openevolve.config import Config

HERE = Path(__file__).resolve().parent
PRISM = HERE.parents[1] / "problems" / "prism"


def config(port: int, workers: int, seed: int, iterations: int) -> Config:
    return Config.from_dict(
        {
            "max_iterations": iterations,
            "random_seed": seed,
            "language": "python",
            "diff_based_evolution": False,
            "max_code_length": 50000,
            "log_level": "WARNING",
            "llm": {
                "api_base": f"http://127.0.0.1:{port}/v1",
                "api_key": "not-needed",
                "models": [{"name": "offline-mutator", "weight": 1.0}],
                "temperature": 0.7,
                "timeout": 60,
                "retries": 1,
                "retry_delay": 1,
            },
            "database": {
                "num_islands": 3,
                "feature_dimensions": ["pressure_balance", "memory_spread"],
                "random_seed": seed,
                "migration_interval": 25,
            },
            "evaluator": {
                "timeout": 300,
                "cascade_evaluation": False,
                "parallel_evaluations": workers,
                "enable_artifacts": False,
                "use_llm_feedback": False,
            },
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--result", type=Path, required=True)
    args = parser.parse_args()
    os.environ["PEERS_ENGINE"] = "openevolve"
    iterations = args.budget - 1
    started = time.time()
    result = run_evolution(
        initial_program=str(PRISM / "initial.py"),
        evaluator=str(HERE / "prism_eval.py"),
        config=config(args.port, args.workers, args.seed, iterations),
        iterations=iterations,
        output_dir=str(args.out),
        cleanup=False,
    )
    ended = time.time()
    args.result.write_text(
        json.dumps(
            {
                "engine": "openevolve",
                "t_start": started,
                "t_end": ended,
                "wall_s": ended - started,
                "best_score": result.best_score,
                "iterations": iterations,
                "workers": args.workers,
            }
        )
    )


if __name__ == "__main__":
    main()
