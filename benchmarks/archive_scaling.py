"""Whether the engine's per-evaluation archive work stays flat as a run grows to 100,000 programs.

    .venv/bin/python benchmarks/archive_scaling.py --evals 1000 10000 100000

The real `Engine` runs a real SQLite archive: parent selection, inspirations, the pending write
with its duplicate check, the budget claim, the result transaction, MAP-Elites cells, the Pareto
front and island bests, the best query, migration between islands. Two parts are replaced so the
archive's share is what is measured: proposals come from `NumberedEdits` (a child is its parent
with one numbered constant changed: instant, never a duplicate) and evaluations from
`InstantExecutor` (a score, metrics, two features and a feedback line computed from the code in
the engine's process: no sandbox, no worker). With sandboxed evaluations (tens of ms each,
benchmarks/engine_overhead.py) 100,000 evaluations take hours on this machine.

Prints, per run size: wall and CPU time per evaluation over the first and the last 1,000
evaluations, and the archive's size per 1,000 programs; with `--blocks`, also a line per 1,000
evaluations as the run goes (wall and CPU per evaluation of that block, the archive's size so far,
the load average), so a run stopped early still tells how it went. CPU time (this process's user
and system time) is the figure to compare on a shared machine; the load average is printed with it.

    nice -n 10 .venv/bin/python benchmarks/archive_scaling.py --evals 100000 --blocks --keep /tmp/scaling
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adrs.archive.select import STRATEGIES, SelectionConfig  # noqa: E402
from adrs.archive.store import Archive  # noqa: E402
from adrs.config import RunConfig  # noqa: E402
from adrs.engine import Engine  # noqa: E402
from adrs.evaluate.result import Evaluation  # noqa: E402
from adrs.executors.base import Executor  # noqa: E402
from adrs.mutate.base import Proposal, ProposalContext, ProposalSource  # noqa: E402
from adrs.problem import load_problem  # noqa: E402

INITIAL = (
    '''"""A numeric policy with a few constants for the scaling benchmark."""


# EVOLVE-BLOCK-START
def policy(x):
'''
    + "".join(f"    c{i} = {i}.0\n" for i in range(24))
    + """    return x * c1 + c2
# EVOLVE-BLOCK-END
"""
)

TOML = """[problem]
name = "scaling"

[[stages]]
name = "full"
timeout_s = 30

[[features]]
name = "a"
bins = [0.2, 0.4, 0.6, 0.8]

[[features]]
name = "b"
bins = [0.2, 0.4, 0.6, 0.8]
"""

ISLANDS = 1

EVALUATOR = "def evaluate(program_path, *, stage, workdir, seed):\n    return {'score': 0.0}\n"


class NumberedEdits(ProposalSource):
    """A child is its parent with one constant replaced by the proposal's number: never a duplicate."""

    name = "numbered"

    async def propose(self, context: ProposalContext) -> Proposal:
        lines = context.parent.code.splitlines(keepends=True)
        constants = [i for i, line in enumerate(lines) if line.startswith("    c")]
        k = constants[context.proposal_index % len(constants)]
        name = lines[k].split("=")[0].strip()
        lines[k] = f"    {name} = {context.proposal_index}.{context.rng.randrange(1000)}\n"
        return Proposal("".join(lines), "offline", f"{name} set to {context.proposal_index}")


class InstantExecutor(Executor):
    """Scores a program from its code's hash, in the engine's process (no sandbox, no worker)."""

    name = "instant"

    async def evaluate(self, problem, code, settings, stages=None, label=""):
        digest = hashlib.sha256(code.encode()).digest()
        score = digest[0] / 2.55
        metrics = {"score": score, "cases": 50.0, "mean_gap": digest[1] / 255, "worst": digest[2] / 255}
        features = {"a": digest[3] / 255, "b": digest[4] / 255}
        feedback = f"score {score:.2f} over 50 cases; mean gap {metrics['mean_gap']:.3f}, worst {metrics['worst']:.3f}"
        return [Evaluation("full", True, score, metrics, features, feedback, duration_s=0.001)]


def _load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def _archive_mb(path: Path) -> str:
    """The SQLite file's size, and its write-ahead log's (up to ~4 MB not yet copied into the file)."""
    wal = path.with_name(path.name + "-wal")
    return f"{path.stat().st_size / 1e6:.1f} MB (+ {wal.stat().st_size / 1e6 if wal.exists() else 0:.1f} MB WAL)"


def run(evals: int, folder: Path, islands: int = ISLANDS, blocks: bool = False, selection: str = "mixed") -> dict:
    problem_dir = folder / "scaling"
    problem_dir.mkdir()
    (problem_dir / "problem.toml").write_text(TOML)
    (problem_dir / "initial.py").write_text(INITIAL)
    (problem_dir / "evaluator.py").write_text(EVALUATOR)
    problem = load_problem(problem_dir)
    path = folder / f"scaling-{evals}.sqlite"
    archive = Archive.open(path)
    config = RunConfig(
        budget=evals,
        workers=1,
        seed=0,
        islands=islands,
        evaluate_holdout=False,
        max_duplicate_streak=10_000,
        selection=SelectionConfig(strategy=selection),
    )
    record = archive.create_run(problem.name, str(problem.root), problem.fingerprint(), 0, config.to_dict())
    marks: list[tuple[int, float, float]] = []  # (evaluated, wall, cpu) at each progress report
    block_start = [(0, time.perf_counter(), time.process_time())]  # where the current 1,000 began

    def heard(progress) -> None:
        if not marks or progress.evaluated != marks[-1][0]:
            marks.append((progress.evaluated, time.perf_counter(), time.process_time()))
            if blocks and progress.evaluated and progress.evaluated % 1000 == 0:
                start, end = block_start[0], marks[-1]
                n = max(1, end[0] - start[0])
                print(
                    f"  {progress.evaluated:>7} evaluated: this 1,000 {1000 * (end[1] - start[1]) / n:7.2f} ms wall "
                    f"{1000 * (end[2] - start[2]) / n:6.2f} ms CPU per evaluation; archive "
                    f"{_archive_mb(path)}; {_load()}; {time.strftime('%H:%M:%S', time.gmtime())} UTC",
                    flush=True,
                )
                block_start[0] = end

    engine = Engine(problem, archive, record, config, NumberedEdits(), on_progress=heard, executor=InstantExecutor())
    asyncio.run(engine.run())
    archive.close()
    size = path.stat().st_size
    return {"evals": evals, "first": _window(marks, 1, 1000), "last": _window(marks, evals - 1000, evals), "size": size}


def _window(marks: list[tuple[int, float, float]], start: int, end: int) -> tuple[float, float]:
    """(wall ms, CPU ms) per evaluation between the reports at `start` and `end` evaluations."""
    first = min((m for m in marks if m[0] >= start), key=lambda m: m[0])
    last = max((m for m in marks if m[0] <= end), key=lambda m: m[0])
    n = max(1, last[0] - first[0])
    return 1000 * (last[1] - first[1]) / n, 1000 * (last[2] - first[2]) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evals", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--islands", type=int, default=ISLANDS, help="islands of the run (default 1)")
    parser.add_argument("--selection", choices=STRATEGIES, default="mixed", help="parent selection (default mixed)")
    parser.add_argument("--blocks", action="store_true", help="print a line per 1,000 evaluations as the run goes")
    parser.add_argument("--keep", type=Path, help="keep the archives in this folder (default: a temporary one)")
    options = parser.parse_args()
    for evals in options.evals:
        print(
            f"{evals} evaluations, {options.islands} island(s), {options.selection} selection: {_load()} at the start",
            flush=True,
        )
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch)
            if options.keep is not None:
                folder = options.keep / f"scaling-{evals}-{int(time.time())}"
                folder.mkdir(parents=True)
            result = run(evals, folder, options.islands, options.blocks, options.selection)
        (fw, fc), (lw, lc) = result["first"], result["last"]
        print(
            f"{evals:>7} evaluations: first 1,000 {fw:6.2f} ms wall {fc:6.2f} ms CPU per evaluation; "
            f"last 1,000 {lw:6.2f} ms wall {lc:6.2f} ms CPU; archive {result['size'] / 1e6:.1f} MB "
            f"= {result['size'] / evals / 1e3:.2f} MB per 1,000 programs; {_load()} at the end",
            flush=True,
        )


if __name__ == "__main__":
    main()
