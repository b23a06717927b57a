"""What `adrs doctor` reports: each finding, and the notes and repairs beside them.

Owns `Finding` (one inconsistency: its kind, a line naming the rows, the run and program it
concerns, and whether the repair can fix it) and `DoctorReport` (the findings, the notes that are
no inconsistency, e.g. programs pending after a crash, and what a repair did), which every check
in doctor.py and doctor_programs.py fills in and the API returns.

Must not: find or repair anything, or read the archive.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
