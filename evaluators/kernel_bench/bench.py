"""Benchmarking one candidate kernel against a reference: the trusted entry point evaluators call.

`run_bench` takes the GPU slot (gpu_slot.py), runs the candidate ONCE in a sandboxed process through
adrs.problemkit.run_candidate with the kernel-bench driver (driver.py -> protocol.py), then, still
holding the slot, verifies the outputs and timing claims in this process (verify.py). One process
per evaluation because importing torch costs 1-2 s.

Must not: import or call the candidate here, or trust any number without verify.py's checks.
"""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from adrs.problemkit import INVALID_OUTPUT, CandidateError, ProcessLimits, run_candidate
from evaluators.kernel_bench.cases import BenchPlan, Case, TimingSettings
from evaluators.kernel_bench.gpu_slot import device_slot
from evaluators.kernel_bench.task import load_task
from evaluators.kernel_bench.verify import CaseTiming, check_report_shape, verify_correctness, verify_timing

DRIVER = Path(__file__).with_name("driver.py")


@dataclass
class BenchReport:
    device: str
    timings: list[CaseTiming]
    notes: list[str] = field(default_factory=list)
    candidate_wall_s: float = 0.0
    eval_s: float = 0.0

    def geomean(self, attribute: str) -> float | None:
        values = [getattr(t, attribute) for t in self.timings]
        if not values or any(v is None or v <= 0 for v in values):
            return None
        return math.exp(sum(math.log(v) for v in values) / len(values))


def run_bench(
    program_path: str | Path,
    task_path: Path,
    entry: str,
    cases: list[Case],
    timing_cases: list[Case],
    timing: TimingSettings,
    workdir: str | Path | None,
    limits: ProcessLimits,
) -> BenchReport:
    """Correctness on `cases`, timing on `timing_cases`; CandidateError when the candidate fails."""
    started = time.perf_counter()
    task = load_task(task_path, module_name=f"kernel_task_trusted_{abs(hash(str(task_path)))}")
    base = Path(tempfile.mkdtemp(prefix="kernel-bench-", dir=workdir))
    with device_slot() as device:
        plan = BenchPlan(
            entry=entry,
            task_file=task_path.name,
            device=device,
            cases=tuple(cases),
            timing_cases=tuple(timing_cases),
            timing=timing,
        )
        run = run_candidate(program_path, DRIVER, plan.to_json(), limits=limits, workdir=base, files=[task_path])
        value = check_report_shape(run.raise_for_failure())
        home = candidate_home(base)
        # The harness's file-size rlimit already bounds the file; the check makes the bound explicit.
        verify_correctness(task, plan, value, home, max_bytes=limits.file_size_mb << 20)
        timings = verify_timing(task, plan, value, home)
    notes = [str(n) for n in value.get("notes", []) if isinstance(n, str)][:10]
    return BenchReport(
        device=device,
        timings=timings,
        notes=notes,
        candidate_wall_s=run.wall_s,
        eval_s=time.perf_counter() - started,
    )


def candidate_home(base: Path) -> Path:
    """The private folder of the one candidate process run_candidate started under `base`."""
    homes = sorted(base.glob("c0-*"))
    if len(homes) != 1:
        raise CandidateError(INVALID_OUTPUT, f"expected one candidate folder under {base}, found {len(homes)}")
    return homes[0]
