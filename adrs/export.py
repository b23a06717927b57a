"""Export archived programs as standalone modules with a provenance record.

Owns: choosing programs (best, Pareto front, an id), writing each as `<problem>_p<id>.py` (the
program exactly as evaluated: it needs no adrs import) beside `<problem>_p<id>.json` with its
metrics per stage, lineage, run seed, problem and evaluator fingerprints, the diff against the
initial program, the files written with it and what to install. What makes the module run in
another system (bundled project modules, the README, the example, host adapters) is
adrs/export_bundle.py's.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from adrs.archive.elites import Elites
from adrs.archive.records import ProgramStatus
from adrs.archive.store import Archive, ProgramRecord, RunRecord
from adrs.export_bundle import Bundle, BundleError, write_bundle
from adrs.program import unified_diff


class ExportError(ValueError):
    pass


@dataclass(frozen=True)
class Exported:
    program_id: int
    module: Path
    provenance: Path
    score: float | None  # the program's score in the archive
    bundle: Bundle


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


def choose(archive: Archive, run: RunRecord, elites: Elites, *, best: bool, pareto: bool, program_id: int | None) -> list[ProgramRecord]:
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
    return [archive.program(top.migrated_from or top.id)]


def export_program(archive: Archive, run: RunRecord, program: ProgramRecord, out: Path) -> Exported:
    if program.status == ProgramStatus.PENDING:
        raise ExportError(f"program {program.id} has not been evaluated yet")
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{run.problem_name}_p{program.id}"
    notes = {"score": f"{program.score:.6g}" if program.score is not None else "n/a", "provenance": f"{stem}.json"}
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
    provenance = out / f"{stem}.json"
    provenance.write_text(json.dumps(record, indent=2, default=str))
    return Exported(program.id, bundle.module, provenance, program.score, bundle)
