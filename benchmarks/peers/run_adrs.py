"""Run adrs on prism for the peer benchmark (run in the project's venv).

    .venv/bin/python benchmarks/peers/run_adrs.py --port P --budget 100 --workers 2 --seed 0 \
        --work WORK --result WORK/adrs-endpoint.json          # proposals from the mutation server
    .venv/bin/python benchmarks/peers/run_adrs.py --in-process ...   # the offline mutator, no HTTP

The problem is a copy of problems/prism whose evaluator.py calls the same trusted evaluator and
adds the seconds spent inside it as the metric `evaluator_s` (prism_eval.write_timed_problem), so
the archive records evaluator time exactly as prism_eval.py logs it for the peers. With --port,
proposals come from the mutation server through adrs's LLM mutator (full-rewrite format,
`workers` calls in flight), which is the setting the peers get. The holdout stage is skipped (the
peers have none). Writes the wall time of the run as JSON; the per-evaluation figures are read
from the archive by run_peers.py.

Must not: evaluate or score anything itself.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from adrs import api

sys.path.insert(0, str(Path(__file__).resolve().parent))
from prism_eval import write_timed_problem  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--port", type=int, help="the mutation server's port")
    source.add_argument("--in-process", action="store_true", help="adrs's own offline mutator, no server")
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--result", type=Path, required=True)
    args = parser.parse_args()
    label = "adrs-in-process" if args.in_process else "adrs-endpoint"
    problem = write_timed_problem(args.work / "prism_timed")
    archive = args.work / f"{label}.sqlite"
    archive.unlink(missing_ok=True)
    settings = {
        "budget": args.budget,
        "seed": args.seed,
        "workers": args.workers,
        "islands": 3,
        "evaluate_holdout": False,
    }
    if args.in_process:
        settings["mutator"] = "offline"
    else:
        settings["mutator"] = "llm"
        settings["llm"] = {
            "models": [{"name": "offline-mutator", "base_url": f"http://127.0.0.1:{args.port}/v1"}],
            "edit_format": "rewrite",
            "concurrency": args.workers,
        }
    started = time.time()
    summary = api.evolve(problem, archive=archive, **settings)
    ended = time.time()
    args.result.write_text(
        json.dumps(
            {
                "engine": label,
                "t_start": started,
                "t_end": ended,
                "wall_s": ended - started,
                "best_score": None if summary.best is None else summary.best.score,
                "archive": str(archive),
                "stop_reason": summary.stop_reason,
                "workers": args.workers,
            }
        )
    )


if __name__ == "__main__":
    main()
