"""`adrs doctor ARCHIVE [--repair]`: an integrity check of an archive, and a careful repair.

Owns: finding what the engine's invariants forbid: evaluation rows of no program (orphans), two
rows for one (program, stage) (duplicates), programs whose stored evaluations never updated them
(stuck pending), programs whose denormalised fields (status, score, completeness, stage reached,
error kind, metrics) disagree with their evaluation rows, evaluated programs with no evaluation,
migrants that differ from their original or lost it, dangling parents, and the same code stored
twice, repeated evaluations of a stage the program has no evaluation of, best claims that do
not match the program they name, and texts a row names that the archive no longer holds (a code,
diff, feedback, error, prompt or reply, or a text it was compressed against: not repairable).
Pending programs without evaluations are normal after a crash (resume evaluates them) and only
noted. The repair deletes evaluation rows that are orphans or
duplicates (and repeated ones that are orphans or dangling), recomputes the derived fields from
the evaluation rows (a re-scored program's score and metrics are the means over its last stage's
successful evaluations, repeats included), and sends an "evaluated" program that has no
evaluation back to pending (resume re-evaluates it); it never deletes a program or a claim.

A damaged SQLite archive (a bad page, a truncated file) is reported with SQLite's integrity-check
messages, the rows each table still gives and the ids it no longer does; its repair copies every
readable row into a new archive beside it (`<name>.recovered.sqlite`), repairs that copy as
above, and leaves the damaged file as it is: nothing that can still be read is deleted.

Here lives the judgement (what is wrong, what the fix is); the rows are read and repaired through
archive/integrity.py, in one transaction for a repair, and a damaged archive through
archive/salvage.py. A repair holds every run's engine lock (archive/locks.py): it is refused while
an engine evolves a run of the archive.

Must not: evaluate anything, change a program's code, lineage or evaluation rows' contents, write
to a damaged archive, or query the database other than through the archive's integrity session
and salvage functions.
"""

from __future__ import annotations

import dataclasses
import math
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adrs.archive.integrity import IntegritySession
from adrs.archive.location import archive_url, sqlite_path
from adrs.archive.records import (
    BestClaim,
    ProgramRecord,
    ProgramStatus,
    RunRecord,
    StoredEvaluation,
    unevaluated_fields,
)
from adrs.archive.salvage import Damage, inspect_damage, salvage
from adrs.archive.store import Archive, ArchiveDamaged
from adrs.noise import mean_metrics
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
    """Report every inconsistency of the archive (all runs, or one), without writing to it."""
    try:
        archive = Archive.open(location, create=False, read_only=True)
    except ArchiveDamaged:
        path = sqlite_path(archive_url(location))
        if path is None:
            raise  # a server's own tools check its storage
        return _damage_report(path, inspect_damage(path))
    try:
        with archive.integrity_session(write=False) as db:
            report = DoctorReport()
            _inspect(db, run_id, report, fix=False)
            return report
    finally:
        archive.close()


def repair(location: str | Path, run_id: int | None = None) -> DoctorReport:
    """Repair what can be repaired (in one transaction), then check again; a damaged archive is
    copied into a new one, which is repaired instead."""
    try:
        archive = Archive.open(location, create=False)
    except ArchiveDamaged:
        path = sqlite_path(archive_url(location))
        if path is None:
            raise
        return _recover(path, run_id)
    try:
        with archive.integrity_session(write=False) as db:
            run_ids = [run.id for run in db.runs(run_id)]
        with ExitStack() as held:
            for one in run_ids:  # RunBusy while an engine evolves one of them
                held.enter_context(archive.lock_run(one, "repairing it"))
            with archive.integrity_session(write=True) as db:
                done = DoctorReport()
                _inspect(db, run_id, done, fix=True)
    finally:
        archive.close()
    after = check(location, run_id)
    after.repaired = done.repaired
    return after


# damaged archives ------------------------------------------------------------------------------
_SHOWN_PROBLEMS = 20  # integrity-check lines listed one by one


def _damage_report(path: Path, damage: Damage) -> DoctorReport:
    report = DoctorReport()
    if damage.unreadable is not None:
        report.findings.append(Finding("unreadable_archive", f"{path}: {damage.unreadable}", repairable=False))
        return report
    for line in damage.problems[:_SHOWN_PROBLEMS]:
        report.findings.append(Finding("damaged_archive", line))
    if len(damage.problems) > _SHOWN_PROBLEMS:
        report.findings.append(Finding("damaged_archive", f"... and {len(damage.problems) - _SHOWN_PROBLEMS} more"))
    for table in damage.tables:
        report.findings += [Finding("unreadable_rows", line) for line in table.describe_lost()]
    report.notes.append("rows still readable: " + ", ".join(f"{t.name} {t.readable}" for t in damage.tables))
    report.notes.append(
        f"`adrs doctor {path} --repair` copies every readable row into {_recovered_name(path).name} beside it; "
        f"{path.name} itself is left as it is"
    )
    return report


def _recover(path: Path, run_id: int | None) -> DoctorReport:
    """Copy what can be read into a new archive, repair the copy, and say where it is."""
    damage = inspect_damage(path)
    if damage.unreadable is not None:
        return _damage_report(path, damage)
    target = _recovered_name(path)
    copied = salvage(path, target)
    report = repair(target, run_id)
    counts = ", ".join(f"{t.name} {t.readable}" for t in copied)
    report.repaired.insert(0, f"copied every readable row of {path} into {target} ({counts})")
    report.notes += [f"lost: {line}" for table in copied for line in table.describe_lost()]
    report.notes.append(
        f"{path} is left as it is: check the copy (`adrs status {target}`), then move it into {path.name}'s place"
    )
    return report


def _recovered_name(path: Path) -> Path:
    """`run.sqlite` -> `run.recovered.sqlite` (or `run.recovered-2.sqlite`, ... when taken)."""
    candidate = path.with_name(f"{path.stem}.recovered{path.suffix}")
    number = 2
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}.recovered-{number}{path.suffix}")
        number += 1
    return candidate


def _inspect(db: IntegritySession, run_id: int | None, report: DoctorReport, fix: bool) -> None:
    runs = db.runs(run_id)
    _orphans(db, report, fix)
    _lost_texts(db, run_id, report)
    for run in runs:
        stages = _stages(run, report)
        programs = {p.id: p for p in db.programs(run.id)}
        rows = db.evaluations_of(list(programs))
        repeats = db.repeats_of(list(programs))
        _duplicates(db, run.id, rows, report, fix)
        _dangling_repeats(db, run.id, rows, repeats, report, fix)
        # Each check returns the program as it stands after its repair: migrants copy repaired fields.
        for p in list(programs.values()):
            if p.migrated_from is None:
                evaluated = (rows.get(p.id, []), repeats.get(p.id, []))
                programs[p.id] = _check_program(db, run.id, p, evaluated, stages, report, fix)
        for p in list(programs.values()):  # after the originals
            if p.migrated_from is not None:
                programs[p.id] = _check_migrant(db, run.id, p, programs.get(p.migrated_from), report, fix)
        _lineage(run.id, programs, report)
        _claims(run.id, db.claims(run.id), programs, report)
        pending = [p.id for p in programs.values() if p.status == ProgramStatus.PENDING and not rows.get(p.id)]
        if pending:
            report.notes.append(
                f"run {run.id}: {len(pending)} program(s) pending evaluation; `adrs resume` evaluates them"
            )


def _lost_texts(db: IntegritySession, run_id: int | None, report: DoctorReport) -> None:
    """Texts a row names but the archive no longer holds (read as a placeholder): nothing restores them."""
    for lost in db.lost_texts(run_id):
        row = f"{lost.table} row {lost.row_id}" + (f" (program {lost.program_id})" if lost.program_id else "")
        how = "is not stored" if lost.missing == lost.digest else f"needs base {lost.missing.hex()[:16]}, not stored"
        detail = f"{row}: {lost.column}: text sha256 {lost.digest.hex()[:16]} {how}"
        report.findings.append(Finding("lost_text", detail, program_id=lost.program_id, repairable=False))


def _stages(run: RunRecord, report: DoctorReport) -> _RunStages:
    try:
        problem = load_problem(run.problem_root)
    except (ProblemError, OSError) as exc:
        report.notes.append(
            f"run {run.id}: problem not loadable ({exc}); stage 'holdout' assumed, completeness not checked"
        )
        return _RunStages({"holdout"}, None)
    return _RunStages({s.name for s in problem.holdout_stages}, [s.name for s in problem.evolution_stages])


def _orphans(db: IntegritySession, report: DoctorReport, fix: bool) -> None:
    orphans = db.orphan_evaluations()
    for row in orphans:
        report.findings.append(
            Finding(
                "orphan_evaluation", f"evaluation {row.id} (stage {row.stage!r}) belongs to no program {row.program_id}"
            )
        )
    if fix and orphans:
        db.delete_evaluations([r.id for r in orphans])
        report.repaired.append(f"deleted {len(orphans)} orphan evaluation row(s)")
    again = db.orphan_repeats()
    for row in again:
        detail = f"repeated evaluation {row.id} (stage {row.stage!r}) belongs to no program {row.program_id}"
        report.findings.append(Finding("orphan_evaluation", detail))
    if fix and again:
        db.delete_repeats([r.id for r in again])
        report.repaired.append(f"deleted {len(again)} orphan repeated evaluation row(s)")


def _dangling_repeats(
    db: IntegritySession,
    run_id: int,
    rows: dict[int, list[StoredEvaluation]],
    repeats: dict[int, list[StoredEvaluation]],
    report: DoctorReport,
    fix: bool,
) -> None:
    """Repeated evaluations of a stage the program has no first evaluation of (the engine never writes them)."""
    for program_id, program_repeats in list(repeats.items()):
        stages = {r.stage for r in rows.get(program_id, [])}
        dangling = [r for r in program_repeats if r.stage not in stages]
        for row in dangling:
            detail = (
                f"program {program_id}: repeated evaluation {row.id} of stage {row.stage!r}, "
                "which it has no evaluation of"
            )
            report.findings.append(Finding("dangling_repeat", detail, run_id, program_id))
        if fix and dangling:
            db.delete_repeats([r.id for r in dangling])
            repeats[program_id] = [r for r in program_repeats if r.stage in stages]
            report.repaired.append(f"program {program_id}: deleted {len(dangling)} dangling repeated evaluation row(s)")


def _duplicates(
    db: IntegritySession, run_id: int, rows: dict[int, list[StoredEvaluation]], report: DoctorReport, fix: bool
) -> None:
    for program_id, program_rows in rows.items():
        seen: dict[str, StoredEvaluation] = {}
        extra = []
        for row in program_rows:
            if row.stage in seen:
                extra.append(row)
            else:
                seen[row.stage] = row
        for row in extra:
            detail = (
                f"program {program_id}: stage {row.stage!r} evaluated twice (rows {seen[row.stage].id} and {row.id})"
            )
            report.findings.append(Finding("duplicate_evaluation", detail, run_id, program_id))
        if fix and extra:
            db.delete_evaluations([r.id for r in extra])
            rows[program_id] = list(seen.values())  # the first of each stage stays
            report.repaired.append(f"program {program_id}: deleted {len(extra)} later duplicate evaluation row(s)")


def expected_fields(
    rows: list[StoredEvaluation], stages: _RunStages, repeats: list[StoredEvaluation] | None = None
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


def _check_program(
    db: IntegritySession,
    run_id: int,
    program: ProgramRecord,
    evaluated: tuple[list[StoredEvaluation], list[StoredEvaluation]],
    stages: _RunStages,
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


def _check_migrant(
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


def _claims(run_id: int, claims: list[BestClaim], programs: dict[int, ProgramRecord], report: DoctorReport) -> None:
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


def _lineage(run_id: int, programs: dict[int, ProgramRecord], report: DoctorReport) -> None:
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
