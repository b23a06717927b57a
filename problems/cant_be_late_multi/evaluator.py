"""Trusted evaluator of cant_be_late_multi: multi-region spot scheduling with a 52 h deadline.

Builds the stage's simulations (real traces when `data_dir` holds them, else seeded synthetic ones),
runs the candidate's policy on them in interactive candidate sessions that receive each tick's
availability only when the tick begins (evaluators.cant_be_late_multi.feed, driver.py), replays
every returned action log against the traces itself, and scores the replayed costs
(evaluators.cant_be_late_multi.scoring).

Stages: quick (window 0 of each of the six scenarios), full (the leaderboard's 34 runs), holdout
(other windows: indices 50.. of the real data, or another synthetic seed), and leaderboard (the
full stage under the leaderboard's billing and free-migration rules, to reproduce its figures).
`seed` only moves the opaque keys the candidate never sees; scores do not depend on it.

Must not: import or call the candidate, or read anything it printed.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from evaluators.cant_be_late_multi import compat, feed, scenarios, scoring, synthetic, traces
from evaluators.cant_be_late_multi.model import LEADERBOARD_RULES, Job, Rules, Simulation
from evaluators.cant_be_late_multi.replay import check_record, replay

DRIVER = Path(__file__).with_name("driver.py")
JOB = Job()
RULES = Rules()  # per-tick billing, migration restarts: the leaderboard's loopholes closed
STAGES = (*scenarios.STAGES, "leaderboard")


def evaluate(
    program_path: str, *, stage: str = "full", workdir: str | None = None, seed: int = 0, data_dir: str | None = None
) -> dict:
    """Score `program_path` on the stage; a policy that raises fails as CandidateError."""
    if stage not in STAGES:
        raise ValueError(f"cant_be_late_multi has no stage {stage!r}; stages: {list(STAGES)}")
    workdir_path = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="cblm-"))
    rules = LEADERBOARD_RULES if stage == "leaderboard" else RULES
    plan = "full" if stage == "leaderboard" else stage
    sims, data_label = stage_simulations(plan, data_dir, seed)
    program = compat.port_program(program_path, workdir_path)
    records, wall_s = feed.run_stage(program, DRIVER, sims, JOB, rules, workdir_path / "candidates")
    runs = []
    for sim in sims:
        log = check_record(records.get(sim.key), sim)
        runs.append(scoring.ScoredRun(sim, log, replay(sim, log, JOB, rules)))
    result = scoring.judge(stage, runs)
    result["metrics"]["real_data"] = 1.0 if data_label == "real" else 0.0
    result["metrics"]["candidate_wall_s"] = wall_s
    result["feedback"] = f"[{stage}, {data_label} traces] {result['feedback']}"
    return result


def stage_simulations(stage: str, data_dir: str | None, seed: int) -> tuple[list[Simulation], str]:
    """Simulations of a stage, from the real traces if given, else synthetic ones."""
    source = traces.find_real_data(data_dir)
    if source is not None:
        return scenarios.build_simulations(stage, True, lambda pairs: traces.load_real(source, pairs), seed), "real"
    synthetic_seed = synthetic.HOLDOUT_SEED if stage == "holdout" else synthetic.EVOLUTION_SEED
    generator = synthetic.SyntheticTraces(synthetic_seed)
    return scenarios.build_simulations(stage, False, generator.load, seed), f"synthetic (seed {synthetic_seed})"
