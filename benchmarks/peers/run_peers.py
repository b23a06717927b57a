"""adrs against OpenEvolve and ShinkaEvolve: same problem, budget and proposal source; only the engines differ.

    benchmarks/peers/setup.sh                                   # the peers' venvs, under $PEERS_HOME
    .venv/bin/python benchmarks/peers/run_peers.py --budget 100 --workers 2 --seed 0
    nice -n 10 .venv/bin/python benchmarks/peers/run_peers.py --budget 300 --workers 2 --seeds 0 1 2 \
        --engines adrs-endpoint openevolve                      # medians of 3 (docs/benchmarks.md)

For each engine: start a fresh mutation server (mutation_server.py: adrs's offline mutator behind
an OpenAI-protocol endpoint on 127.0.0.1), run the engine in its own virtual environment on prism
with the given evaluation budget and evaluation slots, stop the server, and read back one record
per evaluation (prism_eval.py's log for the peers, the archive for adrs). Then print a Markdown
table: evaluations, wall time for the budget, evaluator time, evaluation-slot use, engine
overhead per evaluation, repeated evaluations of identical code, and the best complete full-stage
score after 25, 50 and 100 evaluations.

Definitions (all engines alike): evaluator time = seconds inside prism's trusted evaluate() (both
stages), measured by prism_eval.timed_stage; slot use = sum of evaluator time / (wall x slots);
overhead per evaluation = (wall x slots - sum of evaluator time) / evaluations: slot-seconds the
engine spent on anything but evaluating (proposals, sandbox and process starts, bookkeeping, idle
slots). CPU per evaluation = user + system time of the engine's process and every process it
reaped (its workers, sandboxes, candidates), interpreter start included, over its evaluations;
the mutation server's time is not in it (the same for every engine). With several seeds the
per-seed tables are followed by one of medians (and min-max) over the seeds, and the load
average is printed after each engine, since on a shared machine wall time depends on it.

Must not: change how any engine works; every engine runs with its documented configuration.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
ENGINES = ("adrs-endpoint", "adrs-in-process", "openevolve", "shinka")
CHECKPOINTS = (25, 50, 100, 300)


@dataclass(frozen=True)
class Evaluation:
    t_end: float
    complete: bool
    full: float | None
    evaluator_s: float
    code: str  # a hash of the code


@dataclass(frozen=True)
class Outcome:
    engine: str
    wall_s: float
    workers: int
    evaluations: list[Evaluation]
    proposals: int
    no_edit: int
    proposal_ms: float
    cpu_s: float = float("nan")  # the engine process and what it reaped
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)  # when it ended
    error: str = ""


def start_server(work: Path, engine: str, seed: int) -> tuple[subprocess.Popen, int, Path, IO[str]]:
    """A fresh server (fresh request counter and log) for one engine; its port once it listens."""
    log = work / f"{engine}-server.jsonl"
    port_file = work / f"{engine}-server.port"
    log.unlink(missing_ok=True)
    port_file.unlink(missing_ok=True)
    errors = (work / f"{engine}-server.err").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "mutation_server.py"),
            "--port",
            "0",
            "--seed",
            str(seed),
            "--log",
            str(log),
            "--port-file",
            str(port_file),
        ],
        stdout=subprocess.DEVNULL,
        stderr=errors,
    )
    deadline = time.monotonic() + 60
    while not port_file.exists() or not port_file.read_text():
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the mutation server did not start; see {work / f'{engine}-server.err'}")
        time.sleep(0.1)
    return server, int(port_file.read_text()), log, errors


def engine_command(engine: str, port: int, args: argparse.Namespace, work: Path) -> list[str]:
    common = ["--budget", str(args.budget), "--workers", str(args.workers), "--seed", str(args.seed)]
    result = ["--result", str(work / f"{engine}.json")]
    if engine == "adrs-endpoint":
        return [sys.executable, str(HERE / "run_adrs.py"), "--port", str(port), "--work", str(work), *common, *result]
    if engine == "adrs-in-process":
        return [sys.executable, str(HERE / "run_adrs.py"), "--in-process", "--work", str(work), *common, *result]
    python = str(Path(args.peers_home) / engine / "bin" / "python")
    if not Path(python).exists():
        raise FileNotFoundError(f"{python}: run benchmarks/peers/setup.sh first (PEERS_HOME={args.peers_home})")
    script = {"openevolve": "run_openevolve.py", "shinka": "run_shinka.py"}[engine]
    return [python, str(HERE / script), "--port", str(port), "--out", str(work / engine), *common, *result]


def run_engine(engine: str, args: argparse.Namespace, work: Path) -> Outcome:
    server, port, server_log, server_errors = start_server(work, engine, args.seed)
    evals_log = work / f"{engine}-evals.jsonl"
    evals_log.unlink(missing_ok=True)
    env = {**os.environ, "PEERS_EVAL_LOG": str(evals_log), "PEERS_ENGINE": engine, "OPENAI_API_KEY": "not-needed"}
    error = ""
    cpu_s = float("nan")
    try:
        with open(work / f"{engine}.log", "w") as out:
            process = subprocess.Popen(
                engine_command(engine, port, args, work), cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT
            )
            status, cpu_s = wait_with_cpu(process, args.timeout)
        if status is None:
            error = f"did not finish within {args.timeout} s"
        elif status != 0:
            error = f"exit code {status}; see {work / f'{engine}.log'}"
    finally:
        server.terminate()
        server.wait(timeout=30)
        server_errors.close()
    result_file = work / f"{engine}.json"
    result = json.loads(result_file.read_text()) if result_file.exists() else {}
    requests = [json.loads(line) for line in server_log.read_text().splitlines()] if server_log.exists() else []
    evaluations = adrs_evaluations(Path(result["archive"])) if "archive" in result else peer_evaluations(evals_log)
    return Outcome(
        engine=engine,
        wall_s=float(result.get("wall_s", float("nan"))),
        workers=args.workers,
        evaluations=evaluations,
        proposals=len(requests),
        no_edit=sum(1 for r in requests if r["outcome"] != "mutated"),
        proposal_ms=1000 * statistics.mean(r["seconds"] for r in requests) if requests else float("nan"),
        cpu_s=cpu_s,
        load=os.getloadavg(),
        error=error,
    )


def wait_with_cpu(process: subprocess.Popen, timeout: float) -> tuple[int | None, float]:
    """Wait for `process` (killed after `timeout` s); its exit status (None: killed) and CPU seconds.

    os.wait4 reports the child's user + system time including every descendant it waited for."""
    deadline = time.monotonic() + timeout
    killed = False
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid == process.pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return (None if killed else process.returncode), usage.ru_utime + usage.ru_stime
        if not killed and time.monotonic() > deadline:
            process.kill()
            killed = True
        time.sleep(0.1)


def peer_evaluations(log: Path) -> list[Evaluation]:
    if not log.exists():
        return []
    records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return sorted(
        (
            Evaluation(r["t_end"], bool(r["complete"]), r["full"], float(r["evaluator_s"]), r["code_sha"])
            for r in records
        ),
        key=lambda e: e.t_end,
    )


def adrs_evaluations(archive: Path) -> list[Evaluation]:
    """One record per evaluated program (migrant copies are not evaluations), in the order they landed."""
    from adrs.archive.store import Archive

    store = Archive.open(archive, create=False)
    try:
        run_id = store.run().id
        landed = store.landed_programs(run_id)
        evaluator_s: dict[int, float] = {}  # summed over the program's stages
        for row in store.stored_evaluations(run_id):
            seconds = row.metrics.get("evaluator_s")
            if seconds is not None:
                evaluator_s[row.program_id] = evaluator_s.get(row.program_id, 0.0) + float(seconds)
    finally:
        store.close()
    out = []
    for index, p in enumerate(landed):
        full = p.score if p.complete else None
        out.append(Evaluation(float(index), p.complete, full, evaluator_s.get(p.id, 0.0), p.code_hash))
    return out


def best_after(evaluations: list[Evaluation], n: int) -> float | None:
    scores = [e.full for e in evaluations[:n] if e.complete and e.full is not None]
    return max(scores) if scores else None


def row(outcome: Outcome) -> dict[str, str]:
    evals = outcome.evaluations
    n = len(evals)
    evaluator = sum(e.evaluator_s for e in evals)
    slot_seconds = outcome.wall_s * outcome.workers
    seen: set[str] = set()
    repeated = 0
    for e in evals:
        repeated += e.code in seen
        seen.add(e.code)

    def fmt(value: float | None, digits: int = 2) -> str:
        return "–" if value is None or value != value else f"{value:.{digits}f}"

    return {
        "engine": outcome.engine + (f" ({outcome.error})" if outcome.error else ""),
        "evaluations": str(n),
        "wall s": fmt(outcome.wall_s, 1),
        "CPU ms/eval": fmt(1000 * outcome.cpu_s / n if n else None, 0),
        "evals/min": fmt(60 * n / outcome.wall_s if outcome.wall_s else None, 1),
        "evaluator s/eval": fmt(evaluator / n if n else None, 3),
        "slot use": f"{100 * evaluator / slot_seconds:.0f} %" if n and slot_seconds else "–",
        "overhead s/eval": fmt((slot_seconds - evaluator) / n if n else None, 3),
        "proposals (no edit)": f"{outcome.proposals} ({outcome.no_edit})" if outcome.proposals else "in-process",
        "repeated code": str(repeated),
        **{f"best @{c}": fmt(best_after(evals, c)) if n >= c else "–" for c in CHECKPOINTS},
        "best": fmt(best_after(evals, n)),
        "load (1/5/15 min)": " ".join(f"{v:.1f}" for v in outcome.load),
    }


MEDIAN_COLUMNS = ("evaluations", "wall s", "CPU ms/eval", "evals/min", "evaluator s/eval", "overhead s/eval")


def medians(engine: str, rows: list[dict[str, str]]) -> dict[str, str]:
    """The median (min-max) of each numeric column over the seeds' rows of one engine."""
    out = {"engine": engine, "seeds": str(len(rows))}
    for column in MEDIAN_COLUMNS:
        values = sorted(float(r[column]) for r in rows if r[column] not in ("–", "nan"))
        if not values:
            out[column] = "–"
            continue
        digits = 0 if column in ("evaluations", "CPU ms/eval") else (1 if column in ("wall s", "evals/min") else 3)
        out[column] = f"{statistics.median(values):.{digits}f} ({values[0]:.{digits}f}-{values[-1]:.{digits}f})"
    loads = [float(r["load (1/5/15 min)"].split()[0]) for r in rows]
    out["load (1 min) at end"] = f"{min(loads):.1f}-{max(loads):.1f}"
    return out


def markdown(rows: list[dict[str, str]]) -> str:
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r[h] for h in header) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    parser.add_argument("--budget", type=int, default=100, help="evaluations, the initial program's included")
    parser.add_argument("--workers", type=int, default=2, help="evaluation slots of every engine")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="several seeds: per-seed tables + medians")
    parser.add_argument("--peers-home", default=os.environ.get("PEERS_HOME", "/tmp/adrs-peers"))
    parser.add_argument("--work", type=Path, default=None, help="default: $PEERS_HOME/work-<time>")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per engine")
    args = parser.parse_args()
    base = (args.work or Path(args.peers_home) / time.strftime("work-%Y%m%d-%H%M%S")).resolve()
    seeds = args.seeds or [args.seed]
    by_engine: dict[str, list[dict[str, str]]] = {engine: [] for engine in args.engines}
    report = []
    for seed in seeds:
        args.seed = seed
        work = base / f"seed{seed}" if args.seeds else base
        work.mkdir(parents=True, exist_ok=True)
        rows = []
        for engine in args.engines:
            print(f"seed {seed}: running {engine} ...", flush=True)
            outcome = run_engine(engine, args, work)
            rows.append(row(outcome))
            by_engine[engine].append(rows[-1])
            print(json.dumps(rows[-1]), flush=True)
        load = os.getloadavg()
        table = markdown(rows)
        (work / "table.md").write_text(table + "\n")
        report.append(
            f"budget {args.budget}, {args.workers} slots, seed {seed}; "
            f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; work folder {work}\n\n{table}\n"
        )
    if len(seeds) > 1:
        summary = markdown([medians(engine, rows) for engine, rows in by_engine.items()])
        (base / "medians.md").write_text(summary + "\n")
        report.append(f"medians (min-max) over seeds {' '.join(map(str, seeds))}:\n\n{summary}\n")
    print("\n" + "\n".join(report))


if __name__ == "__main__":
    main()
