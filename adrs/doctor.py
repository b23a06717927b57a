"""`adrs doctor ARCHIVE [--repair]`: an integrity check of an archive, and a careful repair.

Owns: the command (`check`, `repair`) and the walk over an archive's runs that calls every check,
and the checks of evaluation rows: rows of no program (orphans), two rows for one (program, stage)
(duplicates), repeated evaluations of a stage the program has no evaluation of, and texts a row
names that the archive no longer holds (a code, diff, feedback, error, prompt or reply, or a text
it was compressed against: not repairable). The checks of programs against their rows (derived
fields, migrants, best claims, lineage) are doctor_programs.py's; the report's records are
doctor_findings.py's. Pending programs without evaluations are normal after a crash (resume
evaluates them) and only noted. The repair deletes evaluation rows that are orphans or duplicates
(and repeated ones that are orphans or dangling), recomputes the derived fields from the
evaluation rows, and sends an "evaluated" program that has no evaluation back to pending (resume
re-evaluates it); it never deletes a program or a claim.

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

from contextlib import ExitStack
from pathlib import Path

from adrs.archive.integrity import IntegritySession
from adrs.archive.location import archive_url, sqlite_path
from adrs.archive.records import ProgramStatus, StoredEvaluation
from adrs.archive.salvage import Damage, inspect_damage, salvage
from adrs.archive.store import Archive, ArchiveDamaged
from adrs.doctor_findings import DoctorReport, Finding
from adrs.doctor_programs import check_claims, check_lineage, check_migrant, check_program, run_stages


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
        stages = run_stages(run, report)
        programs = {p.id: p for p in db.programs(run.id)}
        rows = db.evaluations_of(list(programs))
        repeats = db.repeats_of(list(programs))
        _duplicates(db, run.id, rows, report, fix)
        _dangling_repeats(db, run.id, rows, repeats, report, fix)
        # Each check returns the program as it stands after its repair: migrants copy repaired fields.
        for p in list(programs.values()):
            if p.migrated_from is None:
                evaluated = (rows.get(p.id, []), repeats.get(p.id, []))
                programs[p.id] = check_program(db, run.id, p, evaluated, stages, report, fix)
        for p in list(programs.values()):  # after the originals
            if p.migrated_from is not None:
                programs[p.id] = check_migrant(db, run.id, p, programs.get(p.migrated_from), report, fix)
        check_lineage(run.id, programs, report)
        check_claims(run.id, db.claims(run.id), programs, report)
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
