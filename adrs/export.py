"""Export archived programs as standalone modules with a provenance record, re-scored first.

Owns: choosing programs (best, Pareto front, an id), re-scoring each (its scoring stage evaluated
again in the sandbox the run used: `repeats` times for a problem that declares noise, once
otherwise; adrs.api re-scores every chosen program before it writes any), and writing each as
`<problem>_p<id>.py` (the program exactly as evaluated: it needs no adrs import) beside
`<problem>_p<id>.json` with its score and uncertainty as the run measured them, the re-score
(scores, mean, uncertainty, whether it agrees), its metrics per stage, lineage, run seed, problem
and evaluator fingerprints, the diff against the initial program, the files written with it and
what to install. A re-score that fails stops the export before it writes (ExportError). What makes
the module run in another system (bundled project modules, the README, the example, host adapters)
is adrs/export_bundle.py's.

Must not: write to the archive (the re-score is recorded in the provenance file only).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from adrs.archive.elites import Elites
from adrs.archive.records import ProgramStatus
from adrs.archive.store import Archive, ProgramRecord, RunRecord
from adrs.evaluate.runner import EvalSettings, evaluate_code
from adrs.export_bundle import Bundle, BundleError, write_bundle
from adrs.noise import Estimate, estimate, run_sigma
from adrs.problem import Problem
from adrs.program import unified_diff

# A re-score agrees with the run when the two means are within this many standard errors of their
# difference (for a deterministic problem: within rounding).
AGREEMENT_Z = 3.0


class ExportError(ValueError):
    pass


@dataclass(frozen=True)
class Rescore:
    """The exported program's scoring stage evaluated again before it was written."""

    stage: str
    scores: list[float]
    mean: float
    uncertainty: float
    evaluations: int
    spread: float | None
    agrees: bool  # within AGREEMENT_Z standard errors of the run's score (exactly, without noise)
    fingerprint_matches: bool  # the problem is the one the run evolved against
    at: str  # ISO time of the re-score


@dataclass(frozen=True)
class Exported:
    program_id: int
    module: Path
    provenance: Path
    score: float | None  # the program's score in the archive (a mean, for a re-scored program)
    bundle: Bundle
    uncertainty: float | None = None  # standard error of `score`
    evaluations: int = 0  # evaluations behind `score`
    rescore: Rescore | None = None  # None: exported with --no-rescore, or a failed program


def lineage(archive: Archive, program: ProgramRecord) -> list[int]:
    """Ids from the program back to the initial program (migration copies skipped)."""
    chain = []
    current: ProgramRecord | None = program
    while current is not None:
        if current.migrated_from is None:
            chain.append(current.id)
        current = archive.program(current.parent_id) if current.parent_id is not None else None
    return chain


def _initial(archive: Archive, run: RunRecord) -> ProgramRecord | None:
    return next((p for p in archive.programs(run.id) if p.mutator == "initial"), None)


def choose(
    archive: Archive, run: RunRecord, elites: Elites, *, best: bool, pareto: bool, program_id: int | None
) -> list[ProgramRecord]:
    if program_id is not None:
        program = archive.program(program_id)
        if program.run_id != run.id:
            raise ExportError(f"program {program_id} belongs to run {program.run_id}, not {run.id}")
        return [program]
    if pareto:
        front = elites.pareto_front()
        if not front:
            raise ExportError("the Pareto front is empty: no program passed every stage yet")
        return front
    top = elites.best()
    if top is None:
        raise ExportError("no program was evaluated successfully in this run")
    return [archive.program(top.original_id)]


def run_noise(problem: Problem, archive: Archive, run: RunRecord) -> float:
    """The standard deviation of one evaluation for this run: declared, or measured by its first claim."""
    return run_sigma(problem.noise.sigma, [claim.noise for claim in archive.best_claims(run.id)[:1]])


def stored_estimate(archive: Archive, program: ProgramRecord, sigma: float) -> Estimate | None:
    """The program's score as the run measured it: every successful evaluation of the stage its
    score comes from."""
    if program.status != ProgramStatus.EVALUATED or program.stage_reached is None:
        return None
    scores = archive.stage_scores(program.id, program.stage_reached)
    return estimate(scores, sigma) if scores else None


def rescore(problem: Problem, archive: Archive, run: RunRecord, program: ProgramRecord) -> Rescore | None:
    """Evaluate the stage the program's score comes from again; ExportError when it fails."""
    if program.status != ProgramStatus.EVALUATED or program.stage_reached is None:
        return None  # a failed program is exported as stored
    sigma = run_noise(problem, archive, run)
    stored = stored_estimate(archive, program, sigma)
    stage = problem.stage(program.stage_reached)
    settings = EvalSettings(
        seed=run.seed,
        data_dir=run.config.get("data_dir"),
        sandbox=run.config.get("sandbox"),
        docker_image=run.config.get("docker_image"),
        archive_url=archive.url,
    )
    times = problem.noise.repeats if problem.noise.noisy else 1
    scores = []
    for _ in range(times):
        evaluation = asyncio.run(evaluate_code(problem, program.code, settings, (stage,), f"p{program.id}"))[0]
        if not evaluation.ok or evaluation.score is None:
            raise ExportError(
                f"program {program.id}: its re-score at stage {stage.name!r} failed ({evaluation.error_kind}): "
                f"{evaluation.error.strip()[-1500:]}\n(export --no-rescore writes it without one)"
            )
        scores.append(evaluation.score)
    again = estimate(scores, sigma)
    return Rescore(
        stage=stage.name,
        scores=scores,
        mean=again.mean,
        uncertainty=again.uncertainty,
        evaluations=again.evaluations,
        spread=again.spread,
        agrees=_agrees(again, stored),
        fingerprint_matches=problem.fingerprint() == run.problem_fingerprint,
        at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _agrees(again: Estimate, stored: Estimate | None) -> bool:
    if stored is None:
        return False
    spread = math.hypot(again.uncertainty, stored.uncertainty)
    return abs(again.mean - stored.mean) <= max(AGREEMENT_Z * spread, 1e-9 * max(1.0, abs(stored.mean)))


def export_program(
    archive: Archive,
    run: RunRecord,
    program: ProgramRecord,
    out: Path,
    problem: Problem | None = None,
    again: Rescore | None = None,
) -> Exported:
    """Write the program and its provenance; `again` is its re-score (rescore(), made first)."""
    if program.status == ProgramStatus.PENDING:
        raise ExportError(f"program {program.id} has not been evaluated yet")
    sigma = run_noise(problem, archive, run) if problem is not None else 0.0
    stored = stored_estimate(archive, program, sigma)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{run.problem_name}_p{program.id}"
    shown = f"{program.score:.6g}" if program.score is not None else "n/a"
    if stored is not None and stored.uncertainty > 0:
        shown += f" ± {stored.uncertainty:.2g} (standard error of {stored.evaluations} evaluations)"
    notes = {"score": shown, "provenance": f"{stem}.json"}
    try:
        bundle = write_bundle(Path(run.problem_root), run.problem_name, program.code, stem, out, notes)
    except BundleError as exc:
        raise ExportError(f"program {program.id}: {exc}") from None
    initial = _initial(archive, run)
    evaluator = Path(run.problem_root) / "evaluator.py"
    record = {
        "program_id": program.id,
        "problem": run.problem_name,
        "problem_root": run.problem_root,
        "problem_fingerprint": run.problem_fingerprint,
        "evaluator_sha256": hashlib.sha256(evaluator.read_bytes()).hexdigest() if evaluator.exists() else None,
        "run_id": run.id,
        "run_seed": run.seed,
        "archive": archive.url,
        "status": program.status,
        "score": program.score,
        "score_uncertainty": stored.uncertainty if stored else None,
        "score_evaluations": stored.evaluations if stored else 0,
        "noise": sigma,
        "rescore": asdict(again) if again is not None else None,
        "complete": program.complete,
        "mutator": program.mutator,
        "description": program.description,
        "lineage": lineage(archive, program),
        "stages": {
            e.stage: {"ok": e.ok, "score": e.score, "metrics": e.metrics, "error_kind": e.error_kind}
            for e in archive.evaluations(program.id)
        },
        "diff_against_initial": unified_diff(initial.code, program.code, "initial", stem) if initial else "",
        "code_sha256": hashlib.sha256(program.code.encode()).hexdigest(),
        "requirements": [
            {"name": r.name, "version": r.version, "needed_by": list(r.needed_by)} for r in bundle.requirements
        ],
        "files": [str(p.relative_to(out)) for p in bundle.files()],
    }
    if problem is not None and problem.noise.metrics:
        n = stored.evaluations if stored else 1
        declared = problem.noise.metrics.items()
        record["metric_uncertainty"] = {k: v / math.sqrt(n) for k, v in declared if k in program.metrics}
    provenance = out / f"{stem}.json"
    provenance.write_text(json.dumps(record, indent=2, default=str))
    return Exported(
        program.id,
        bundle.module,
        provenance,
        program.score,
        bundle,
        stored.uncertainty if stored else None,
        stored.evaluations if stored else 0,
        again,
    )
