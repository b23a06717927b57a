"""Trusted evaluator of cant_be_late_multi: multi-region spot scheduling with a 52 h deadline.

Builds the stage's simulations (real traces when `data_dir` holds them, else seeded synthetic ones),
runs the candidate's policy on them in sandboxed candidate processes (chunks spread over the CPUs,
through the trusted harness and driver.py), replays every returned action log against the traces
itself, and scores the replayed costs (evaluators.cant_be_late_multi.scoring).

Stages: quick (window 0 of each of the six scenarios), full (the leaderboard's 34 runs), holdout
(other windows: indices 50.. of the real data, or another synthetic seed), and leaderboard (the
full stage under the leaderboard's billing and free-migration rules, to reproduce its figures).
`seed` only moves the causality audits (which runs are audited, where they are cut) and the
opaque keys: scores of a policy that ignores the future do not depend on it.

Must not: import or call the candidate, or read anything it printed.
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

from adrs.problemkit import INVALID_OUTPUT, CandidateError, run_candidates
from evaluators.cant_be_late_multi import compat, scenarios, scoring, synthetic, traces
from evaluators.cant_be_late_multi.model import LEADERBOARD_RULES, Job, Rules, Simulation
from evaluators.cant_be_late_multi.replay import check_record, first_divergence, replay

DRIVER = Path(__file__).with_name("driver.py")
JOB = Job()
RULES = Rules()  # per-tick billing, migration restarts: the leaderboard's loopholes closed
STAGES = (*scenarios.STAGES, "leaderboard")
PROCESSES: int | None = None  # candidate processes per evaluation; None = one per CPU (benchmarks override)


def evaluate(program_path: str, *, stage: str = "full", workdir: str | None = None, seed: int = 0,
             data_dir: str | None = None) -> dict:
    """Score `program_path` on the stage; a policy that raises fails as CandidateError."""
    if stage not in STAGES:
        raise ValueError(f"cant_be_late_multi has no stage {stage!r}; stages: {list(STAGES)}")
    workdir_path = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="cblm-"))
    rules = LEADERBOARD_RULES if stage == "leaderboard" else RULES
    plan = "full" if stage == "leaderboard" else stage
    sims, twins, data_label = stage_simulations(plan, data_dir, seed)
    program = compat.port_program(program_path, workdir_path)
    payloads, order = split_payloads(sims, twins, rules, seed, PROCESSES)
    candidate_runs = run_candidates(program, DRIVER, payloads, workdir=workdir_path / "candidates", parallel=PROCESSES)
    records: dict[str, object] = {}
    for run in candidate_runs:
        value = run.raise_for_failure()
        items = value.get("simulations") if isinstance(value, dict) else None
        if not isinstance(items, list):
            raise CandidateError(INVALID_OUTPUT, "the driver's result has no 'simulations' list")
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("key"), str):
                records.setdefault(item["key"], item)
    logs = {sim.key: check_record(records.get(sim.key), sim) for sim in order}
    runs = [scoring.ScoredRun(sim, logs[sim.key], replay(sim, logs[sim.key], JOB, rules)) for sim in sims + twins]
    by_label = {sim.label: sim for sim in sims}
    audits = [
        scoring.AuditResult(twin, first_divergence(logs[by_label[twin.label].key], logs[twin.key], twin.audit_cut or 0))
        for twin in twins
    ]
    result = scoring.judge(stage, runs, audits)
    result["metrics"]["real_data"] = 1.0 if data_label == "real" else 0.0
    result["metrics"]["candidate_wall_s"] = max((r.wall_s for r in candidate_runs), default=0.0)
    result["feedback"] = f"[{stage}, {data_label} traces] {result['feedback']}"
    return result


def stage_simulations(stage: str, data_dir: str | None, seed: int) -> tuple[list[Simulation], list[Simulation], str]:
    """Simulations and audit twins of a stage, from the real traces if given, else synthetic ones."""
    source = traces.find_real_data(data_dir)
    if source is not None:
        sims, twins = scenarios.build_simulations(stage, True, lambda pairs: traces.load_real(source, pairs), seed)
        return sims, twins, "real"
    synthetic_seed = synthetic.HOLDOUT_SEED if stage == "holdout" else synthetic.EVOLUTION_SEED
    generator = synthetic.SyntheticTraces(synthetic_seed)
    sims, twins = scenarios.build_simulations(stage, False, generator.load, seed)
    return sims, twins, f"synthetic (seed {synthetic_seed})"


def split_payloads(sims: list[Simulation], twins: list[Simulation], rules: Rules, seed: int,
                   processes: int | None = None) -> tuple[list[dict], list[Simulation]]:
    """One payload per candidate process; an audit twin never shares a process with its original."""
    count = max(2 if twins else 1, min(processes or os.cpu_count() or 1, len(sims)))
    # Deal the runs round-robin by cost (more zones = more work per tick) to balance the chunks.
    ranked = sorted(sims, key=lambda s: (-len(s.zones), s.label))
    chunks: list[list[Simulation]] = [[] for _ in range(count)]
    home = {}
    for i, sim in enumerate(ranked):
        chunks[i % count].append(sim)
        home[sim.label] = i % count
    for twin in twins:
        chunks[(home[twin.label] + 1) % count].append(twin)
    rng = random.Random(f"cant_be_late_multi/payload/{seed}")
    payloads = []
    for chunk in chunks:
        rng.shuffle(chunk)  # audit twins are not recognisable by their position
        payloads.append({"job": JOB.to_json(), "rules": rules.to_json(),
                         "simulations": [sim.to_payload() for sim in chunk]})
    return payloads, [sim for chunk in chunks for sim in chunk]
