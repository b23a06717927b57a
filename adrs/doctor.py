"""`adrs doctor ARCHIVE [--repair]`: an integrity check of an archive, and a careful repair.

Owns: finding what the engine's invariants forbid: evaluation rows of no program (orphans), two
rows for one (program, stage) (duplicates), programs whose stored evaluations never updated them
(stuck pending), programs whose denormalised fields (status, score, completeness, stage reached,
error kind, metrics) disagree with their evaluation rows, evaluated programs with no evaluation,
migrants that differ from their original or lost it, dangling parents, and the same code stored
twice. Pending programs without evaluations are normal after a crash (resume evaluates them) and
only noted. The repair deletes evaluation rows that are orphans or duplicates, recomputes the
derived fields from the evaluation rows, and sends an "evaluated" program that has no evaluation
back to pending (resume re-evaluates it); it never deletes a program.

Must not: evaluate anything, or change a program's code, lineage or evaluation rows' contents.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from adrs.archive.schema import EvaluationRow, Program, Run
from adrs.archive.store import Archive
from adrs.problem import ProblemError, load_problem

DERIVED = ("status", "score", "complete", "stage_reached", "error_kind", "metrics", "features")


@dataclass(frozen=True)
class Finding:
    kind: str
    detail: str
    run_id: int | None = None
    program_id: int | None = None
    repairable: bool = True


@dataclass
class DoctorReport:
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.findings


@dataclass
class _RunStages:
    """Which stages count for a program's status: the problem's, when it still loads."""

    holdout: set[str]
    evolution: list[str] | None  # None: problem not loadable, completeness not checked


def check(location: str | Path, run_id: int | None = None) -> DoctorReport:
    """Report every inconsistency of the archive (all runs, or one)."""
    archive = Archive.open(location, create=False)
    try:
        with Session(archive.engine) as session:
            report = DoctorReport()
            _inspect(session, run_id, report, fix=False)
            return report
    finally:
        archive.close()


def repair(location: str | Path, run_id: int | None = None) -> DoctorReport:
    """Repair what can be repaired (in one transaction), then check again."""
    archive = Archive.open(location, create=False)
    try:
        with Session(archive.engine) as session, session.begin():
            done = DoctorReport()
            _inspect(session, run_id, done, fix=True)
    finally:
        archive.close()
    after = check(location, run_id)
    after.repaired = done.repaired
    return after


def _inspect(session: Session, run_id: int | None, report: DoctorReport, fix: bool) -> None:
    runs = session.scalars(select(Run) if run_id is None else select(Run).where(Run.id == run_id)).all()
    _orphans(session, report, fix)
    for run in runs:
        stages = _stages(run, report)
        programs = {p.id: p for p in session.scalars(select(Program).where(Program.run_id == run.id).order_by(Program.id))}
        rows = _rows_by_program(session, list(programs))
        _duplicates(session, run.id, rows, report, fix)
        for program in programs.values():
            if program.migrated_from is None:
                _check_program(session, run.id, program, rows.get(program.id, []), stages, report, fix)
        for program in programs.values():  # after the originals: migrants copy their repaired fields
            if program.migrated_from is not None:
                _check_migrant(session, run.id, program, programs.get(program.migrated_from), report, fix)
        _lineage(run.id, programs, report)
        pending = [p.id for p in programs.values() if p.status == "pending" and not rows.get(p.id)]
        if pending:
            report.notes.append(f"run {run.id}: {len(pending)} program(s) pending evaluation; `adrs resume` evaluates them")


def _stages(run: Run, report: DoctorReport) -> _RunStages:
    try:
        problem = load_problem(run.problem_root)
    except (ProblemError, OSError) as exc:
        report.notes.append(f"run {run.id}: problem not loadable ({exc}); stage 'holdout' assumed, completeness not checked")
        return _RunStages({"holdout"}, None)
    return _RunStages({s.name for s in problem.holdout_stages}, [s.name for s in problem.evolution_stages])


def _rows_by_program(session: Session, program_ids: list[int]) -> dict[int, list[EvaluationRow]]:
    rows: dict[int, list[EvaluationRow]] = defaultdict(list)
    if program_ids:
        stmt = select(EvaluationRow).where(EvaluationRow.program_id.in_(program_ids)).order_by(EvaluationRow.id)
        for row in session.scalars(stmt):
            rows[row.program_id].append(row)
    return rows


def _orphans(session: Session, report: DoctorReport, fix: bool) -> None:
    known = select(Program.id)
    orphans = session.scalars(select(EvaluationRow).where(EvaluationRow.program_id.not_in(known))).all()
    for row in orphans:
        report.findings.append(
            Finding("orphan_evaluation", f"evaluation {row.id} (stage {row.stage!r}) belongs to no program {row.program_id}")
        )
    if fix and orphans:
        session.execute(delete(EvaluationRow).where(EvaluationRow.id.in_([r.id for r in orphans])))
        report.repaired.append(f"deleted {len(orphans)} orphan evaluation row(s)")


def _duplicates(session: Session, run_id: int, rows: dict[int, list[EvaluationRow]], report: DoctorReport, fix: bool) -> None:
    for program_id, program_rows in rows.items():
        seen: dict[str, EvaluationRow] = {}
        extra = []
        for row in program_rows:
            if row.stage in seen:
                extra.append(row)
            else:
                seen[row.stage] = row
        for row in extra:
            detail = f"program {program_id}: stage {row.stage!r} evaluated twice (rows {seen[row.stage].id} and {row.id})"
            report.findings.append(Finding("duplicate_evaluation", detail, run_id, program_id))
        if fix and extra:
            session.execute(delete(EvaluationRow).where(EvaluationRow.id.in_([r.id for r in extra])))
            rows[program_id] = list(seen.values())  # the first of each stage stays
            report.repaired.append(f"program {program_id}: deleted {len(extra)} later duplicate evaluation row(s)")


def expected_fields(rows: list[EvaluationRow], stages: _RunStages) -> dict[str, Any] | None:
    """A program's derived fields as the engine writes them (store.record_evaluations)."""
    cascade = [r for r in rows if r.stage not in stages.holdout]
    if not cascade:
        return None
    last = cascade[-1]
    ok = all(r.ok for r in cascade)
    fields: dict[str, Any] = {
        "status": "evaluated" if ok else "failed",
        "score": last.score if ok else None,
        "stage_reached": last.stage,
        "error_kind": None if ok else last.error_kind,
        "metrics": last.metrics if ok else {},
        "features": {**last.metrics, **last.features} if ok else {},
    }
    if stages.evolution is not None:
        fields["complete"] = ok and [r.stage for r in cascade] == stages.evolution
    return fields


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b))
    return a == b


def _check_program(
    session: Session, run_id: int, program: Program, rows: list[EvaluationRow], stages: _RunStages, report: DoctorReport, fix: bool
) -> None:
    first_of_stage: dict[str, EvaluationRow] = {}
    for row in rows:
        first_of_stage.setdefault(row.stage, row)  # a duplicate is reported (and removed) on its own
    rows = sorted(first_of_stage.values(), key=lambda r: r.id)
    expected = expected_fields(rows, stages)
    if expected is None:
        if program.status != "pending":
            detail = f"program {program.id} is {program.status!r} but has no evaluation row"
            report.findings.append(Finding("missing_evaluations", detail, run_id, program.id))
            if fix:
                reset = {"status": "pending", "score": None, "complete": False, "stage_reached": None, "error_kind": None}
                session.execute(update(Program).where(Program.id == program.id).values(**reset, metrics={}, features={}, evaluated_at=None))
                report.repaired.append(f"program {program.id}: back to pending (resume evaluates it again)")
        return
    wrong = {k: v for k, v in expected.items() if not _same(getattr(program, k), v)}
    if not wrong:
        return
    kind = "stuck_pending" if program.status == "pending" else "derived_mismatch"
    shown = ", ".join(f"{k}={getattr(program, k)!r} (evaluations say {v!r})" for k, v in wrong.items())
    report.findings.append(Finding(kind, f"program {program.id}: {shown}", run_id, program.id))
    if fix:
        values = dict(wrong)
        if program.evaluated_at is None:
            values["evaluated_at"] = rows[-1].created_at
        session.execute(update(Program).where(Program.id == program.id).values(**values))
        report.repaired.append(f"program {program.id}: {', '.join(wrong)} recomputed from its evaluations")


def _check_migrant(
    session: Session, run_id: int, migrant: Program, original: Program | None, report: DoctorReport, fix: bool
) -> None:
    if original is None:
        detail = f"migrant {migrant.id} copies program {migrant.migrated_from}, which is not in run {run_id}"
        report.findings.append(Finding("dangling_migrant", detail, run_id, migrant.id, repairable=False))
        return
    if original.status == "pending":
        return  # not evaluated yet (or sent back to pending): the migrant is refreshed when it is
    session.refresh(original)
    wrong = {k: getattr(original, k) for k in DERIVED if not _same(getattr(migrant, k), getattr(original, k))}
    if not wrong:
        return
    report.findings.append(
        Finding("migrant_mismatch", f"migrant {migrant.id} differs from program {original.id} in {', '.join(wrong)}", run_id, migrant.id)
    )
    if fix:
        session.execute(update(Program).where(Program.id == migrant.id).values(**wrong))
        report.repaired.append(f"migrant {migrant.id}: {', '.join(wrong)} copied from program {original.id}")


def _lineage(run_id: int, programs: dict[int, Program], report: DoctorReport) -> None:
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
