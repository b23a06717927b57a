"""Pipeline overlap: does the engine keep its evaluation slots busy when each proposal takes seconds?

    .venv/bin/python benchmarks/pipeline_overlap.py
    .venv/bin/python benchmarks/pipeline_overlap.py --budget 120 --latency 2 --concurrency 8 --eval-s 1 --workers 2

A simulated endpoint (tests/fake_openai.py, every completion answered after `--latency` seconds
with a new valid SEARCH/REPLACE edit) drives the real LLM source through the real openai client,
`--concurrency` calls at once; an evaluator that sleeps `--eval-s` seconds runs in the real
sandboxed worker on `--workers` slots. The ideal rate is min(concurrency / latency, workers /
eval_s) evaluations per second: 2/s = 120/min for the defaults.

Reported, for the steady state (from the first to the last LLM child's evaluation, which leaves
out the start-up: the check call, the initial program's evaluation and the first reply):
  - evaluations/min achieved, and that over the ideal;
  - slot use: evaluation wall time (sandbox start-up included) over workers x elapsed, which
    isolates the overlap from the sandbox's own per-evaluation overhead;
  - the same run with one call at a time (`--sequential-budget`, 0 to skip), for contrast.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adrs import api  # noqa: E402
from adrs.archive.store import Archive  # noqa: E402
from tests.fake_openai import FakeOpenAI, Reply  # noqa: E402

INITIAL = '''"""A trivial policy for the pipeline benchmark."""


# EVOLVE-BLOCK-START
def policy(x):
    return x
# EVOLVE-BLOCK-END
'''

EVALUATOR = """
import time


def evaluate(program_path, *, stage, workdir, seed):
    time.sleep(SLEEP)
    return {"score": float(len(open(program_path).read()) % 97)}
"""


def make_problem(root: Path, eval_s: float) -> Path:
    problem = root / "pipeline"
    problem.mkdir()
    (problem / "problem.toml").write_text('[problem]\nname = "pipeline"\n\n[[stages]]\nname = "full"\ntimeout_s = 60\n')
    (problem / "initial.py").write_text(INITIAL)
    (problem / "evaluator.py").write_text(EVALUATOR.replace("SLEEP", repr(eval_s)))
    return problem


def responder():
    counter = itertools.count(1)

    def respond(_body) -> Reply:
        n = next(counter)
        return Reply(
            f"Idea: variant {n}\n<<<<<<< SEARCH\n    return x\n=======\n    _v = {n}\n    return x\n>>>>>>> REPLACE\n"
        )

    return respond


def measure(problem: Path, workdir: Path, *, budget: int, latency: float, concurrency: int, workers: int) -> dict:
    archive_path = workdir / f"c{concurrency}.sqlite"
    with FakeOpenAI(responder=responder(), latency_s=latency) as server:
        llm = {"models": [{"name": "fake-coder", "base_url": server.url}], "concurrency": concurrency}
        started = time.monotonic()
        summary = api.evolve(
            problem, archive=archive_path, budget=budget, workers=workers, islands=1, evaluate_holdout=False, llm=llm
        )
        wall = time.monotonic() - started
        most_in_flight = server.max_in_flight
    archive = Archive.open(archive_path)
    children = {p.id for p in archive.programs(summary.run_id) if p.mutator.startswith("llm:")}
    rows = [e for e in archive.stored_evaluations(summary.run_id) if e.program_id in children]
    rows.sort(key=lambda e: e.created_at)
    archive.close()
    ends = [r.created_at.timestamp() for r in rows]
    durations = [r.duration_s for r in rows]
    # steady state: from the end of the first child's evaluation to the end of the last one
    span = ends[-1] - ends[0]
    rate = (len(ends) - 1) / span if span > 0 else 0.0
    busy = sum(durations[1:])
    return {
        "evaluated": summary.evaluated,
        "children": len(rows),
        "wall_s": wall,
        "per_min": 60 * rate,
        "overall_per_min": 60 * summary.evaluated / wall,
        "slot_use": busy / (workers * span) if span > 0 else 0.0,
        "mean_eval_s": sum(durations) / len(durations),
        "most_in_flight": most_in_flight,
        "stop": summary.stop_reason,
    }


def report(name: str, result: dict, ideal_per_min: float) -> None:
    print(
        f"{name}: {result['children']} LLM children in {result['wall_s']:.1f} s; steady state "
        f"{result['per_min']:.1f} evaluations/min = {100 * result['per_min'] / ideal_per_min:.1f} % of the ideal "
        f"{ideal_per_min:.0f}/min; slot use {100 * result['slot_use']:.1f} %; "
        f"mean evaluation {result['mean_eval_s']:.2f} s "
        f"(sandbox start-up included); whole run {result['overall_per_min']:.1f}/min; "
        f"at most {result['most_in_flight']} calls in flight; stopped: {result['stop']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--latency", type=float, default=2.0, help="seconds per completion")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--eval-s", type=float, default=1.0, help="seconds the evaluator sleeps")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--sequential-budget", type=int, default=12, help="budget of the one-call-at-a-time contrast run"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="adrs-pipeline-") as tmp:
        workdir = Path(tmp)
        problem = make_problem(workdir, args.eval_s)
        ideal = 60 * min(args.concurrency / args.latency, args.workers / args.eval_s)
        print(
            f"ideal: min({args.concurrency} calls / {args.latency:g} s, {args.workers} slots / {args.eval_s:g} s) "
            f"= {ideal:.0f} evaluations/min"
        )
        result = measure(
            problem,
            workdir,
            budget=args.budget,
            latency=args.latency,
            concurrency=args.concurrency,
            workers=args.workers,
        )
        report(f"concurrency {args.concurrency}", result, ideal)
        if args.sequential_budget:
            ideal_one = 60 * min(1 / args.latency, args.workers / args.eval_s)
            one = measure(
                problem,
                workdir,
                budget=args.sequential_budget,
                latency=args.latency,
                concurrency=1,
                workers=args.workers,
            )
            report("concurrency 1 (contrast)", one, ideal)
            print(
                f"  (one call at a time cannot exceed {ideal_one:.0f}/min = "
                f"{100 * ideal_one / ideal:.0f} % of the ideal)"
            )


if __name__ == "__main__":
    main()
