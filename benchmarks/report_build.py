"""Build time of `adrs report` on a synthetic archive of N programs (no evaluation is run).

    .venv/bin/python benchmarks/report_build.py --programs 1000

Writes a run of problems/prism into a scratch SQLite archive through the Archive API: N programs
on 4 islands, each a small edit of a random earlier program (so every one has a diff against its
parent and the initial program), about 15 % failed (three kinds), 10 % stopped below the quick
stage's threshold, the rest complete with scores, features and two stage rows each, plus holdout
rows for a few of the best. Then times `adrs.write_report` on it without baselines (their cost is
one evaluation each, paid once) and prints the phases: extraction from the archive, the figures,
the page, each as wall time and CPU time (on a busy machine the wall time measures the machine's
load more than the report; the CPU time is what an idle core would take). For docs/benchmarks.md;
the aim is under 5 s for 1,000 programs. `adrs report` as a command adds the interpreter and
import time (time it with `/usr/bin/time adrs report ARCHIVE --no-baselines`).
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

from adrs.archive.store import Archive, NewProgram
from adrs.evaluate.result import Evaluation
from adrs.problem import load_problem
from adrs.program import normalized_hash, unified_diff

ROOT = Path(__file__).resolve().parents[1]
FAILURE_KINDS = ("exception", "timeout", "invalid_output")


def _mutate(code: str, rng: random.Random, serial: int) -> str:
    """A unique child: a tweaked constant line plus a marker comment inside the EVOLVE block."""
    lines = code.splitlines()
    start = next(i for i, line in enumerate(lines) if "EVOLVE-BLOCK-START" in line)
    end = next(i for i, line in enumerate(lines) if "EVOLVE-BLOCK-END" in line)
    where = rng.randrange(start + 1, end)
    indent = lines[where][: len(lines[where]) - len(lines[where].lstrip())]
    lines.insert(where, f"{indent}# tweak {serial}: weight {rng.random():.4f}")
    return "\n".join(lines) + "\n"


def make_archive(path: Path, programs: int, seed: int = 0) -> None:
    problem = load_problem(ROOT / "problems" / "prism")
    rng = random.Random(seed)
    store = Archive.open(path)
    try:
        run = store.create_run(problem.name, str(problem.root), problem.fingerprint(), seed, {"islands": 4})
        codes: list[tuple[int, str, int]] = []  # (id, code, generation) of programs that can be parents
        initial = problem.initial_code()
        for index in range(programs):
            if index == 0:
                parent, code, mutator, island = None, initial, "initial", 0
            else:
                parent = rng.choice(codes[-200:])
                code, mutator, island = _mutate(parent[1], rng, index), "offline", rng.randrange(4)
            new = NewProgram(
                code=code,
                code_hash=normalized_hash(code),
                proposal_index=index,
                mutator=mutator,
                parent_id=parent[0] if parent else None,
                island=island,
                generation=parent[2] + 1 if parent else 0,
                description=f"synthetic edit {index}",
                diff=unified_diff(parent[1], code) if parent else "",
            )
            stored = store.add_program(run.id, new)
            evaluations = _evaluations(rng, index, programs)
            complete = len(evaluations) == 2 and all(e.ok for e in evaluations)
            store.record_evaluations(stored.id, evaluations, complete=complete)
            if all(e.ok for e in evaluations):
                codes.append((stored.id, code, new.generation))
        best = sorted(store.programs(run.id), key=lambda p: p.score or -1, reverse=True)[:3]
        for program in best:
            store.record_extra_evaluation(
                program.id, Evaluation("holdout", True, program.score, {"score": program.score or 0.0})
            )
        store.add_event(run.id, "stopped", {"reason": "budget spent", "evaluated": programs})
    finally:
        store.close()


def _evaluations(rng: random.Random, index: int, total: int) -> list[Evaluation]:
    roll = rng.random() if index else 1.0
    quick_s, full_s = rng.uniform(0.5, 2.0), rng.uniform(2.0, 6.0)
    if roll < 0.15:
        return [Evaluation.failure("quick", rng.choice(FAILURE_KINDS), "synthetic failure\nTraceback ...", quick_s)]
    features = {"pressure_balance": rng.uniform(0.3, 0.95), "memory_spread": rng.uniform(0.1, 0.55)}
    quick_score = rng.uniform(0, 100)
    quick = Evaluation("quick", True, quick_score, {"score": quick_score}, features, duration_s=quick_s)
    if roll < 0.25:
        return [Evaluation("quick", True, 10.0, {"score": 10.0}, features, duration_s=quick_s)]
    score = 40 + 30 * (index / total) + rng.gauss(0, 5)
    return [quick, Evaluation("full", True, score, {"score": score}, features, duration_s=full_s)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import adrs
    from adrs.report import build as report_build
    from adrs.report.build import ReportOptions

    with tempfile.TemporaryDirectory(prefix="adrs-report-bench-") as scratch:
        archive = Path(scratch) / "synthetic.sqlite"
        started = time.perf_counter()
        make_archive(archive, args.programs)
        print(f"synthetic archive of {args.programs} programs written in {time.perf_counter() - started:.1f} s")
        for _ in range(args.repeats):
            wall, cpu = time.perf_counter(), time.process_time()
            runs = report_build.collect([str(archive)], ReportOptions(baselines=False))
            extract = (time.perf_counter() - wall, time.process_time() - cpu)
            wall, cpu = time.perf_counter(), time.process_time()
            page = report_build.render(runs)
            drawn = (time.perf_counter() - wall, time.process_time() - cpu)
            wall, cpu = time.perf_counter(), time.process_time()
            adrs.write_report([str(archive)], Path(scratch) / "report.html", baselines=False)
            whole = (time.perf_counter() - wall, time.process_time() - cpu)
            print(
                f"extract {extract[0]:.2f} s wall / {extract[1]:.2f} s CPU; "
                f"figures + page {drawn[0]:.2f} / {drawn[1]:.2f} "
                f"({len(page) // 1024} KiB); write_report {whole[0]:.2f} / {whole[1]:.2f}; "
                f"load average {os.getloadavg()[0]:.1f}"
            )


if __name__ == "__main__":
    main()
