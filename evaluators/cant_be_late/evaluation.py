"""One evaluation of a cant_be_late policy: run it sandboxed, replay its logs, score the replay.

Flow: the stage's workload (workload.py) plus probe twins (probe.py) are split over as many
candidate processes as there are CPUs (at least two, so twins never share a process with their
originals); each process runs the problem's driver, which simulates its runs in-process and returns
action logs (episode.py). Back on the trusted side every answer is shape-checked (logs.py), the
requested types are replayed against the traces with the simulator's guards (replay.py), and the
replay alone decides cost, deadline and score (report.py).

Must not: import or call the candidate in this process, or use any number the candidate reported.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from adrs.problemkit import EXCEPTION, CandidateError, run_candidates
from evaluators.cant_be_late import logs, probe, report
from evaluators.cant_be_late.replay import Replay, replay
from evaluators.cant_be_late.workload import Simulation, Workload, stage_workload


@dataclass
class Chunk:
    """The runs one candidate process simulates: ("run", i) or ("twin", j), in payload order."""

    entries: list[tuple[str, int]]
    payload: dict


def evaluate_stage(
    program_path: str | os.PathLike, driver: Path, stage: str, workdir: str | os.PathLike | None,
    data_dir: str | os.PathLike | None,
) -> dict:
    workload = stage_workload(stage, data_dir)
    probes = probe.plan_probes(workload)
    chunks = build_chunks(workload, probes, max(2, os.cpu_count() or 1))
    results = run_candidates(program_path, driver, [chunk.payload for chunk in chunks], workdir=workdir)
    max_ticks = max(len(sim.trace.bits) for sim in workload.simulations)
    found: dict[tuple[str, int], logs.RunLog] = {}
    for chunk, result in zip(chunks, results, strict=True):
        parsed = logs.parse_chunk(result.raise_for_failure(), len(chunk.entries), max_ticks)
        if isinstance(parsed, logs.RunFailure):
            raise _policy_failed(workload, probes, chunk.entries[parsed.index], parsed)
        found.update(zip(chunk.entries, parsed, strict=True))
    run_logs = [found["run", index] for index in range(len(workload.simulations))]
    started = time.perf_counter()
    outcome = replay_runs(workload.simulations, run_logs)
    replay_s = time.perf_counter() - started
    violations = [
        (workload.simulations[planned.original], planned.cut_tick)
        for number, planned in enumerate(probes)
        if not probe.same_prefix(run_logs[planned.original].requests, found["twin", number].requests,
                                 planned.cut_tick)
    ]
    summary = report.summarise(workload, outcome, run_logs, violations, len(probes))
    summary["metrics"]["candidate_wall_s"] = round(max(r.wall_s for r in results), 3)
    summary["metrics"]["replay_s"] = round(replay_s, 3)
    return summary


def build_chunks(workload: Workload, probes: list[probe.Probe], count: int) -> list[Chunk]:
    """Runs dealt round-robin; each twin goes to the process after its original's; shuffled."""
    buckets: list[list[tuple[str, int]]] = [[] for _ in range(count)]
    for index in range(len(workload.simulations)):
        buckets[index % count].append(("run", index))
    for number, planned in enumerate(probes):
        buckets[(planned.original + 1) % count].append(("twin", number))
    order = random.Random(f"cant_be_late-order-{workload.stage}")
    chunks = []
    for entries in buckets:
        order.shuffle(entries)
        chunks.append(Chunk(entries, _payload(workload, probes, entries)))
    return chunks


def _payload(workload: Workload, probes: list[probe.Probe], entries: list[tuple[str, int]]) -> dict:
    traces: dict[str, int] = {}  # each trace text is sent once per process, runs refer to it
    sims = []
    for kind, index in entries:
        original = index if kind == "run" else probes[index].original
        sim = workload.simulations[original]
        bits = sim.trace.bits if kind == "run" else probes[index].bits
        sims.append({
            "trace": traces.setdefault(bits, len(traces)),
            "deadline_hours": sim.deadline_hours,
            "overhead_hours": sim.overhead_hours,
            "duration_hours": sim.duration_hours,
            "seed": original,  # a twin shares its original's seed
        })
    return {"traces": list(traces), "sims": sims}


def replay_runs(simulations: tuple[Simulation, ...], run_logs: list[logs.RunLog]) -> Replay:
    """The trusted replay of every scored run; a log shorter than needed continues on ON_DEMAND."""
    ticks = max(len(sim.trace.bits) for sim in simulations)
    unavailable = _matrix([sim.trace.bits.ljust(ticks, "1") for sim in simulations], ticks) == 1
    requests = _matrix([log.requests[:ticks].ljust(ticks, "2") for log in run_logs], ticks)
    outcome = replay(
        unavailable,
        requests,
        np.array([sim.deadline_hours * 3600 for sim in simulations]),
        np.array([sim.overhead_hours * 3600 for sim in simulations]),
        simulations[0].duration_hours * 3600,
    )
    for sim, end_tick in zip(simulations, outcome.end_tick.tolist(), strict=True):
        if end_tick >= len(sim.trace.bits):
            raise CandidateError(
                EXCEPTION,
                f"simulation {sim.label}: the job was not finished when the trace ran out "
                f"({len(sim.trace.bits)} ticks); the original simulator fails the whole evaluation",
            )
    return outcome


def _matrix(rows: list[str], ticks: int) -> np.ndarray:
    return (np.frombuffer("".join(rows).encode(), dtype=np.uint8).reshape(len(rows), ticks) - ord("0")).astype(np.int8)


def _policy_failed(workload: Workload, probes: list[probe.Probe], entry: tuple[str, int],
                   failure: logs.RunFailure) -> CandidateError:
    kind, index = entry
    sim = workload.simulations[index if kind == "run" else probes[index].original]
    where = "before the first tick" if failure.tick < 0 else f"at tick {failure.tick}"
    twin = " (a probe twin of it: same trace up to a cut tick)" if kind == "twin" else ""
    return CandidateError(
        EXCEPTION,
        f"the policy failed in simulation {sim.label}{twin} {where}; any failing run fails the "
        f"evaluation, as in the original:\n{failure.message}",
    )
