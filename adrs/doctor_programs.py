"""`adrs doctor`'s checks of programs: their derived fields, migrants, best claims and lineage.

Owns: which stages count for a program's status (`run_stages`: the problem's, when it still
loads), `expected_fields` (a program's derived fields as the engine writes them from its
evaluation rows: status, score, completeness, stage reached, error kind, metrics; a re-scored
program's score and metrics the means over its last stage's successful evaluations, repeats
included), and the checks that compare against them: a program whose fields disagree with its
rows (stuck pending, derived mismatch) or that is evaluated with no evaluation (repaired: fields
recomputed, or sent back to pending), a migrant that differs from its original (repaired: copied
again) or lost it, best claims that do not match the program they name, dangling parents and the
same code stored twice (reported only).

Must not: open the archive or decide when to repair (doctor.py does), delete anything, or change
a program's code, lineage or evaluation rows; it writes only through the integrity session.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from adrs.archive.integrity import IntegritySession
from adrs.archive.records import (
    BestClaim,
    ProgramRecord,
    ProgramStatus,
    RunRecord,
    StoredEvaluation,
    unevaluated_fields,
)
from adrs.doctor_findings import DoctorReport, Finding
from adrs.noise import mean_metrics
from adrs.problem import ProblemError, load_problem

DERIVED = ("status", "score", "complete", "stage_reached", "error_kind", "metrics", "features")


@dataclass
class RunStages:
    """Which stages count for a program's status: the problem's, when it still loads."""

    holdout: set[str]
    evolution: list[str] | None  # None: problem not loadable, completeness not checked


def run_stages(run: RunRecord, report: DoctorReport) -> RunStages:
    try:
        problem = load_problem(run.problem_root)
    except (ProblemError, OSError) as exc:
        report.notes.append(
            f"run {run.id}: problem not loadable ({exc}); stage 'holdout' assumed, completeness not checked"
        )
        return RunStages({"holdout"}, None)
    return RunStages({s.name for s in problem.holdout_stages}, [s.name for s in problem.evolution_stages])


def expected_fields(
    rows: list[StoredEvaluation], stages: RunStages, repeats: list[StoredEvaluation] | None = None
) -> dict[str, Any] | None:
    """A program's derived fields as the engine writes them (store.record_evaluations)."""
    cascade = [r for r in rows if r.stage not in stages.holdout]
    if not cascade:
        return None
    last = cascade[-1]
    ok = all(r.ok for r in cascade)
    scored = [last, *(r for r in repeats or [] if r.stage == last.stage and r.ok)] if ok else []
    metrics = mean_metrics([r.metrics for r in scored]) if ok else {}
    fields: dict[str, Any] = {
        "status": (ProgramStatus.EVALUATED if ok else ProgramStatus.FAILED).value,  # plain: shown with repr()
        "score": sum(r.score or 0.0 for r in scored) / len(scored) if ok else None,
        "stage_reached": last.stage,
        "error_kind": None if ok else last.error_kind,
        "metrics": metrics,
        "features": {**metrics, **last.features} if ok else {},
    }
    if stages.evolution is not None:
        fields["complete"] = ok and [r.stage for r in cascade] == stages.evolution
    return fields


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):  # means of metrics, summed in either order
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def check_program(
    db: IntegritySession,
    run_id: int,
    program: ProgramRecord,
    evaluated: tuple[list[StoredEvaluation], list[StoredEvaluation]],
    stages: RunStages,
    report: DoctorReport,
    fix: bool,
) -> ProgramRecord:
    """Report a program whose derived fields disagree with its rows (first evaluations, repeated
    ones); returns it as repaired (or as is)."""
    rows, repeats = evaluated
    first_of_stage: dict[str, StoredEvaluation] = {}
    for row in rows:
        first_of_stage.setdefault(row.stage, row)  # a duplicate is reported (and removed) on its own
    rows = sorted(first_of_stage.values(), key=lambda r: r.id)
    expected = expected_fields(rows, stages, repeats)
    if expected is None:
        if program.status != ProgramStatus.PENDING:
            detail = f"program {program.id} is {program.status!r} but has no evaluation row"
            report.findings.append(Finding("missing_evaluations", detail, run_id, program.id))
            if fix:
                reset = {"status": ProgramStatus.PENDING.value, **unevaluated_fields()}
                db.set_program_fields(program.id, reset)
                report.repaired.append(f"program {program.id}: back to pending (resume evaluates it again)")
                return dataclasses.replace(program, **reset)
        return program
    wrong = {k: v for k, v in expected.items() if not _same(getattr(program, k), v)}
    if not wrong:
        return program
    kind = "stuck_pending" if program.status == ProgramStatus.PENDING else "derived_mismatch"
    shown = ", ".join(f"{k}={getattr(program, k)!r} (evaluations say {v!r})" for k, v in wrong.items())
    report.findings.append(Finding(kind, f"program {program.id}: {shown}", run_id, program.id))
    if not fix:
        return program
    values = dict(wrong)
    if program.evaluated_at is None:
        values["evaluated_at"] = rows[-1].created_at
    db.set_program_fields(program.id, values)
    report.repaired.append(f"program {program.id}: {', '.join(wrong)} recomputed from its evaluations")
    return dataclasses.replace(program, **values)


def check_migrant(
    db: IntegritySession,
    run_id: int,
    migrant: ProgramRecord,
    original: ProgramRecord | None,
    report: DoctorReport,
    fix: bool,
) -> ProgramRecord:
    """Report a migrant that differs from its (repaired) original; returns it as repaired (or as is)."""
    if original is None:
        detail = f"migrant {migrant.id} copies program {migrant.migrated_from}, which is not in run {run_id}"
        report.findings.append(Finding("dangling_migrant", detail, run_id, migrant.id, repairable=False))
        return migrant
    if original.status == ProgramStatus.PENDING:
        return migrant  # not evaluated yet (or sent back to pending): the migrant is refreshed when it is
    wrong = {k: getattr(original, k) for k in DERIVED if not _same(getattr(migrant, k), getattr(original, k))}
    if not wrong:
        return migrant
    report.findings.append(
        Finding(
            "migrant_mismatch",
            f"migrant {migrant.id} differs from program {original.id} in {', '.join(wrong)}",
            run_id,
            migrant.id,
        )
    )
    if not fix:
        return migrant
    db.set_program_fields(migrant.id, wrong)
    report.repaired.append(f"migrant {migrant.id}: {', '.join(wrong)} copied from program {original.id}")
    return dataclasses.replace(migrant, **wrong)


def check_claims(
    run_id: int, claims: list[BestClaim], programs: dict[int, ProgramRecord], report: DoctorReport
) -> None:
    """Best claims must name an evaluated, complete program of the run, with the score it holds."""
    for claim in claims:
        program = programs.get(claim.program_id)
        if program is None:
            problem = f"names program {claim.program_id}, which is not in run {run_id}"
        elif program.status != ProgramStatus.EVALUATED or not program.complete:
            incomplete = "" if program.complete else " and incomplete"
            problem = f"names program {program.id}, which is {program.status!r}{incomplete}"
        elif program.score is None or not _same(float(program.score), float(claim.score)):
            problem = f"says program {program.id} scored {claim.score!r}, its evaluations say {program.score!r}"
        else:
            continue
        detail = f"best claim {claim.id} {problem}"
        report.findings.append(Finding("claim_mismatch", detail, run_id, claim.program_id, repairable=False))


def check_lineage(run_id: int, programs: dict[int, ProgramRecord], report: DoctorReport) -> None:
    hashes: dict[str, int] = {}
    for program in programs.values():
        if program.parent_id is not None and program.parent_id not in programs:
            detail = f"program {program.id}: parent {program.parent_id} is not in run {run_id}"
            report.findings.append(Finding("dangling_parent", detail, run_id, program.id, repairable=False))
        if program.migrated_from is None:
            first = hashes.setdefault(program.code_hash, program.id)
            if first != program.id:
                detail = f"program {program.id} has the same code as program {first}"
                report.findings.append(Finding("duplicate_code", detail, run_id, program.id, repairable=False))
