"""LLM throughput and duplicate answers: evaluations per minute at 2 s latency, and the share of wasted calls.

    nice -n 10 .venv/bin/python benchmarks/llm_throughput.py throughput --problem trivial --budget 200
    nice -n 10 .venv/bin/python benchmarks/llm_throughput.py throughput --problem prism --budget 200
    nice -n 10 .venv/bin/python benchmarks/llm_throughput.py duplicates --budget 300 --seeds 0 1 2

throughput: a local OpenAI-protocol endpoint answers every completion `--latency` seconds (2) after
it arrived, and adrs keeps `--concurrency` calls (8) in flight on `--workers` evaluation slots (2).
The ideal rate is concurrency / latency = 240 evaluations/min, or the evaluation capacity when that
is lower. For `trivial` (an evaluator that returns at once; tests/fake_openai.py answers a new
SEARCH/REPLACE edit each time) the capacity is far higher; for `prism` (benchmarks/peers/
mutation_server.py: the offline mutator behind the protocol) the capacity is measured in the same
run: workers / mean wall time of the executor's evaluation of one program (both stages, the
sandbox's start and clean-up included; the engine's `Progress.evaluation_s`).
Reported for the steady state (from the first to the last LLM child's evaluation, which leaves out
the start-up check and the initial program): evaluations/min, the share of the ideal, and the CPU
time per evaluation (this process, the endpoint, workers, sandboxes and candidates), with the load
average, since the machine may be shared.

duplicates: prism with the mutation server as a model that repeats itself (`--repeat-rate`: an
earlier answer for the same program comes back with probability rate x (1 - temperature / 2)) and
heeds adrs's "already tried" list (see mutation_server.py), latency 0, model temperature 0.7,
`repeat_temperature_step` as configured (0.2). Each seed runs twice: with `llm.duplicates_shown = 0`
(no list: adrs before issue 17) and with the default 5 (`--shown` picks). Reported: the share of proposal calls whose
answer duplicated an archived program (or the parent), and how many evaluations the budget bought.

Must not: change how the engine works; every run uses the public api.evolve.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from pipeline_overlap import make_problem, responder  # noqa: E402

from adrs import api  # noqa: E402
from adrs.archive.store import Archive  # noqa: E402
from adrs.progress import Progress  # noqa: E402
from tests.fake_openai import FakeOpenAI  # noqa: E402

PRISM = ROOT / "problems" / "prism"
SERVER = ROOT / "benchmarks" / "peers" / "mutation_server.py"


@dataclass
class Measured:
    children: int
    wall_s: float
    per_min: float  # steady state
    capacity_per_min: float  # workers / mean wall time of one program's evaluation
    cpu_ms: float  # per evaluation
    most_in_flight: int | None
    stop: str
    load: tuple[float, float, float]
    calls: int = 0  # proposal calls of the run
    duplicate_calls: int = 0  # of those, answers that duplicated an archived program: a call, no evaluation

    @property
    def answer_rate(self) -> float:
        """Answers per minute, duplicates included: the steady-state rate of the LLM pipeline itself."""
        useful = self.calls - self.duplicate_calls
        return self.per_min * self.calls / useful if useful > 0 else self.per_min


def cpu_seconds() -> float:
    """User + system time of this process and of the children it has waited for."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class MutationServer:
    """benchmarks/peers/mutation_server.py as a subprocess (its CPU is counted once it is waited for)."""

    def __init__(self, workdir: Path, seed: int, latency: float, repeat_rate: float, name: str):
        self.port_file = workdir / f"{name}.port"
        self.log = workdir / f"{name}.jsonl"
        command = [sys.executable, str(SERVER), "--port", "0", "--port-file", str(self.port_file)]
        command += ["--seed", str(seed), "--latency", str(latency), "--repeat-rate", str(repeat_rate)]
        command += ["--log", str(self.log)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not self.port_file.exists() or not self.port_file.read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the mutation server did not start")
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{int(self.port_file.read_text())}/v1"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def steady_state(archive_path: Path, run_id: int) -> tuple[int, float, int, int]:
    """LLM children and their steady-state rate per minute (first to last child's evaluation), then
    the run's proposal calls and how many of them answered with a duplicate."""
    archive = Archive.open(archive_path)
    try:
        children = {p.id for p in archive.programs(run_id) if p.mutator.startswith("llm:")}
        rows = [e for e in archive.stored_evaluations(run_id) if e.program_id in children]
        calls = [c for c in archive.llm_calls(run_id) if c.proposal_index is not None]
    finally:
        archive.close()
    duplicates = sum(1 for c in calls if c.failure_kind == "duplicate")
    ends: dict[int, float] = {}
    for row in rows:
        ends[row.program_id] = max(ends.get(row.program_id, 0.0), row.created_at.timestamp())
    times = sorted(ends.values())
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    return len(times), 60 * (len(times) - 1) / span if span > 0 else 0.0, len(calls), duplicates


def throughput(args: argparse.Namespace, workdir: Path) -> Measured:
    llm: dict = {"concurrency": args.concurrency}
    archive = workdir / f"{args.problem}.sqlite"
    server: MutationServer | FakeOpenAI
    if args.problem == "trivial":
        problem = make_problem(workdir, 0.0)
        server = FakeOpenAI(responder=responder(), latency_s=args.latency).start()
        llm["models"] = [{"name": "fake-coder", "base_url": server.url}]
    else:
        problem = PRISM
        server = MutationServer(workdir, args.seed, args.latency, 0.0, "throughput")
        llm["models"] = [{"name": "offline-mutator", "base_url": server.url}]
        llm["edit_format"] = "rewrite"
    last: list[Progress] = []
    cpu_before, started = cpu_seconds(), time.monotonic()
    try:
        summary = api.evolve(
            problem,
            archive=archive,
            on_progress=lambda progress: last[:1] or last.append(progress),  # one object, updated in place
            budget=args.budget,
            workers=args.workers,
            seed=args.seed,
            islands=3,
            evaluate_holdout=False,
            llm=llm,
            queue_size=args.queue_size,
        )
        wall = time.monotonic() - started
    finally:
        server.stop()
    cpu = cpu_seconds() - cpu_before  # the server's included: it has been waited for
    children, rate, calls, duplicate_calls = steady_state(archive, summary.run_id)
    capacity = 60 * args.workers * summary.evaluated / last[0].evaluation_s if last and last[0].evaluation_s else 0.0
    most = server.max_in_flight if isinstance(server, FakeOpenAI) else None
    return Measured(
        children,
        wall,
        rate,
        capacity,
        1000 * cpu / max(1, summary.evaluated),
        most,
        summary.stop_reason or "",
        os.getloadavg(),
        calls,
        duplicate_calls,
    )


def report_throughput(args: argparse.Namespace, result: Measured) -> None:
    llm_ideal = 60 * args.concurrency / args.latency
    ideal = min(llm_ideal, result.capacity_per_min)
    bound = "the LLM" if llm_ideal <= result.capacity_per_min else "evaluation capacity"
    load = " ".join(f"{v:.1f}" for v in result.load)
    print(
        f"{args.problem}: {result.children} LLM children in {result.wall_s:.1f} s; steady state "
        f"{result.per_min:.1f} evaluations/min = {100 * result.per_min / ideal:.1f} % of the ideal {ideal:.0f}/min "
        f"(min of LLM {llm_ideal:.0f}/min and evaluation capacity {result.capacity_per_min:.0f}/min: "
        f"bound by {bound}); CPU {result.cpu_ms:.0f} ms per evaluation; "
        + (f"at most {result.most_in_flight} calls in flight; " if result.most_in_flight is not None else "")
        + f"stopped: {result.stop}; load average {load}\n"
        + f"  {result.calls} proposal calls, {result.duplicate_calls} answered with a duplicate (a call, no "
        f"evaluation): answers {result.answer_rate:.1f}/min = {100 * result.answer_rate / llm_ideal:.1f} % of "
        f"the LLM's {llm_ideal:.0f}/min"
    )


@dataclass
class DuplicateShare:
    calls: int
    duplicates: int
    repeats_served: int  # answers the server gave again on purpose
    evaluated: int
    wall_s: float

    @property
    def share(self) -> float:
        return self.duplicates / self.calls if self.calls else 0.0


def duplicate_run(args: argparse.Namespace, workdir: Path, seed: int, shown: int) -> DuplicateShare:
    server = MutationServer(workdir, seed, 0.0, args.repeat_rate, f"dup-{seed}-{shown}")
    archive = workdir / f"dup-{seed}-{shown}.sqlite"
    llm = {
        "models": [{"name": "offline-mutator", "base_url": server.url, "temperature": args.temperature}],
        "edit_format": "rewrite",
        "concurrency": args.workers,
        "duplicates_shown": shown,
    }
    started = time.monotonic()
    try:
        summary = api.evolve(
            PRISM, archive=archive, budget=args.budget, workers=args.workers, seed=seed, evaluate_holdout=False, llm=llm
        )
    finally:
        server.stop()
    wall = time.monotonic() - started
    store = Archive.open(archive)
    try:
        calls = [c for c in store.llm_calls(summary.run_id) if c.proposal_index is not None]
    finally:
        store.close()
    duplicates = sum(1 for c in calls if c.failure_kind == "duplicate")
    repeats = sum(1 for line in server.log.read_text().splitlines() if '"outcome": "repeated"' in line)
    return DuplicateShare(len(calls), duplicates, repeats, summary.evaluated, wall)


def duplicates(args: argparse.Namespace, workdir: Path) -> None:
    print(
        f"prism, budget {args.budget}, {args.workers} slots, repeat rate {args.repeat_rate} at temperature 0, "
        f"model temperature {args.temperature}"
    )
    shares: dict[int, list[float]] = {shown: [] for shown in args.shown}
    for seed in args.seeds:
        for shown in args.shown:
            result = duplicate_run(args, workdir, seed, shown)
            shares[shown].append(result.share)
            load = " ".join(f"{v:.1f}" for v in os.getloadavg())
            print(
                f"seed {seed}, duplicates_shown {shown}: {result.duplicates} of {result.calls} proposal calls "
                f"duplicated ({100 * result.share:.1f} %); server repeated itself {result.repeats_served} times; "
                f"{result.evaluated} evaluated in {result.wall_s:.0f} s; load average {load}",
                flush=True,
            )
    for shown, values in shares.items():
        label = "no list (before)" if shown == 0 else "already-tried list (after)"
        print(
            f"{label}: median {100 * statistics.median(values):.1f} % "
            f"(min {100 * min(values):.1f}, max {100 * max(values):.1f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    rate = sub.add_parser("throughput", help="evaluations/min at a fixed LLM latency")
    rate.add_argument("--problem", choices=("trivial", "prism"), default="trivial")
    rate.add_argument("--budget", type=int, default=200)
    rate.add_argument("--latency", type=float, default=2.0, help="seconds per completion")
    rate.add_argument("--concurrency", type=int, default=8, help="LLM calls in flight (--llm-concurrency)")
    rate.add_argument("--workers", type=int, default=2)
    rate.add_argument("--seed", type=int, default=0)
    rate.add_argument("--queue-size", type=int, default=0, help="proposals waiting for a slot (0: default)")
    dup = sub.add_parser("duplicates", help="share of LLM answers that duplicate archived programs")
    dup.add_argument("--budget", type=int, default=300)
    dup.add_argument("--workers", type=int, default=2)
    dup.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    dup.add_argument("--repeat-rate", type=float, default=0.5)
    dup.add_argument("--temperature", type=float, default=0.7)
    dup.add_argument("--shown", type=int, nargs="+", default=[0, 5], help="llm.duplicates_shown values to run")
    parser.add_argument("--work", default="/var/tmp", help="parent of the run's scratch folder")
    args = parser.parse_args()
    # not under /tmp: on the shared machine other jobs sweep it while a run of minutes goes on
    with tempfile.TemporaryDirectory(prefix="llm-throughput-bench-", dir=args.work) as tmp:
        if args.command == "throughput":
            report_throughput(args, throughput(args, Path(tmp)))
        else:
            duplicates(args, Path(tmp))


if __name__ == "__main__":
    main()
