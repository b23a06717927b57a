"""The trusted verdict on one benchmark run: correctness from recomputed references, timing claims
checked against the kernel's own clock.

Correctness: every output file entry is compared with the reference that THIS process computes on
inputs it regenerates from the trusted seeds; the digests of the candidate's inputs after its calls
must equal the digests of the pristine inputs (so an in-place change is caught here too); a rule
break the driver reported (aliasing, cached tensor, calling the reference, mutation, wrong result on
a timed repetition's fresh inputs) rejects the candidate; the last timed repetition's output is
recomputed and compared too.

Timing: the per-call medians come from the candidate's process and could come from a patched timer.
The scored speedup is the median of per-repetition ratios (eager / candidate, measured back to
back on the same fresh inputs), computed here from the raw times. The check: the driver ran N
candidate calls then N eager calls back to back, between marker files
whose ctime the kernel stamps (a process cannot set a ctime to the past). The claimed speedup must
be within ALLOWANCE x of the speedup those timestamps show, and the claimed eager time within
EAGER_ALLOWANCE x of the eager block's per-call time; otherwise the case is flagged and scored with
the wall-clock speedup instead.

Must not: run candidate code.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from adrs.problemkit import INVALID_OUTPUT, CandidateError, CandidateFileError, stat_output
from evaluators.kernel_bench.cases import BenchPlan, Case, correctness_key, rep_seed, timed_key
from evaluators.kernel_bench.compare import mismatch
from evaluators.kernel_bench.protocol import wall_marker
from evaluators.kernel_bench.task import KernelTask
from evaluators.kernel_bench.tensorio import TensorFileError, input_digests, load_tensors
from evaluators.kernel_bench.timing import Series, paired_ratios

SLACK_S = 0.010  # ctime granularity is one kernel tick (1-10 ms) per stamp
ALLOWANCE = 2.0
EAGER_ALLOWANCE = 4.0


@dataclass
class CaseTiming:
    name: str
    candidate_s: float
    eager_s: float
    compiled_s: float | None
    reps: int
    stable: bool
    claimed_speedup: float
    wall_speedup: float | None
    wall_per_call_s: tuple[float, float] | None  # (candidate, eager) per call in the wall-clock blocks
    speedup: float  # what scores use: the claim, or the wall-clock figure when the claim is flagged
    speedup_vs_compiled: float | None
    flag: str | None
    candidate_gbps: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def reject(message: str) -> CandidateError:
    return CandidateError(INVALID_OUTPUT, message)


def _describe(case: Case) -> str:
    dims = "x".join(f"{k}={v}" for k, v in case.dims.items())
    return f"case {case.name} ({dims}, {case.dtype}, {case.layout})"


def check_report_shape(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not isinstance(value.get("correctness"), dict):
        raise reject("the driver's report is malformed (no correctness section)")
    if not isinstance(value.get("timing", {}), dict):
        raise reject("the driver's report is malformed (timing)")
    violation = value.get("violation")
    if violation is not None and not isinstance(violation, str):
        raise reject("the driver's report is malformed (violation)")
    return value


def verify_correctness(task: KernelTask, plan: BenchPlan, value: dict[str, Any], home: Path, max_bytes: int) -> None:
    """Raise CandidateError with the first reason to reject; return quietly if all is well."""
    violation = value.get("violation")
    path = home / plan.outputs_file
    if not os.path.lexists(path) and violation:
        raise reject(violation)
    try:
        outputs = load_tensors(path, max_bytes)
    except TensorFileError as exc:
        raise reject(str(exc)) from None
    device = torch.device(plan.device)
    for case in plan.cases:
        for seed in case.seeds:
            key = correctness_key(case, seed)
            if key not in outputs:
                raise reject(violation or f"{_describe(case)} seed {seed}: no output saved")
            args = task.make_inputs(case, seed, device)
            want = _reference(task, args)
            problem = mismatch(outputs[key], want, task.tolerance(case.dtype))
            if problem:
                raise reject(f"{_describe(case)} seed {seed}: {problem}")
            claimed = value["correctness"].get(key, {}).get("input_digests")
            if claimed != input_digests(args):
                name = _changed_input(task, args, claimed)
                raise reject(f"{_describe(case)} seed {seed}: the kernel modified its input '{name}' in place")
    if violation:
        raise reject(violation)
    for case in plan.timing_cases:
        entry = value.get("timing", {}).get(case.name)
        if not isinstance(entry, dict) or not isinstance(entry.get("last_rep"), int):
            raise reject(f"{_describe(case)}: no timing report")
        rep = entry["last_rep"]
        key = timed_key(case, rep)
        if key not in outputs:
            raise reject(f"{_describe(case)}: the output of timed repetition {rep} was not saved")
        args = task.make_inputs(case, rep_seed(case.seeds[0], rep), device)
        problem = mismatch(outputs[key], _reference(task, args), task.tolerance(case.dtype))
        if problem:
            raise reject(f"{_describe(case)}, timed repetition {rep} (fresh inputs): {problem}")


def _reference(task: KernelTask, args: list[Any]) -> tuple[torch.Tensor, ...]:
    out = task.reference(*args)
    return (out,) if isinstance(out, torch.Tensor) else tuple(out)


def _changed_input(task: KernelTask, args: list[Any], claimed: Any) -> str:
    ours = input_digests(args)
    if isinstance(claimed, list) and len(claimed) == len(ours):
        for name, a, b in zip(task.input_names, ours, claimed, strict=True):
            if a != b:
                return name
    return "?"


def verify_timing(task: KernelTask, plan: BenchPlan, value: dict[str, Any], home: Path) -> list[CaseTiming]:
    return [_case_timing(task, plan, case, value["timing"][case.name], home) for case in plan.timing_cases]


def _times(entry: dict[str, Any], name: str, case: Case, plan: BenchPlan, required: bool = True) -> list[float] | None:
    raw = entry.get("times", {}).get(name) if isinstance(entry.get("times"), dict) else None
    if raw is None and not required:
        return None
    if (
        not isinstance(raw, list)
        or not 1 <= len(raw) <= plan.timing.max_reps
        or not all(isinstance(v, int | float) and math.isfinite(v) and v > 0 for v in raw)
    ):
        raise reject(f"{_describe(case)}: malformed {name} timings")
    return [float(v) for v in raw]


def _case_timing(task: KernelTask, plan: BenchPlan, case: Case, entry: dict[str, Any], home: Path) -> CaseTiming:
    cand = _times(entry, "candidate", case, plan)
    eager = _times(entry, "eager", case, plan)
    compiled = _times(entry, "compiled", case, plan, required=False)
    if len(eager) != len(cand) or (compiled is not None and len(compiled) != len(cand)):
        raise reject(f"{_describe(case)}: timing series of different lengths")
    if len(cand) < min(plan.timing.min_reps, plan.timing.max_reps) or entry.get("last_rep") != len(cand) - 1:
        raise reject(f"{_describe(case)}: the timing report does not follow the protocol ({len(cand)} repetitions)")
    ratios = paired_ratios(eager, cand)
    claimed = ratios.median
    eager_s = Series(eager).median
    wall, per_call, flag = _wall_check(case, entry.get("wall_check"), home, eager_s, claimed, plan)
    speedup = claimed if flag is None else (0.0 if wall is None else min(claimed, wall))
    moved = task.bytes_moved(case) if task.bytes_moved else None
    cand_s = Series(cand).median
    return CaseTiming(
        name=case.name,
        candidate_s=cand_s,
        eager_s=eager_s,
        compiled_s=None if compiled is None else Series(compiled).median,
        reps=len(cand),
        stable=ratios.is_stable(plan.timing.stable_rel, plan.timing.min_reps),
        claimed_speedup=claimed,
        wall_speedup=wall,
        wall_per_call_s=per_call,
        speedup=speedup,
        speedup_vs_compiled=None if compiled is None else paired_ratios(compiled, cand).median,
        flag=flag,
        candidate_gbps=None if moved is None else moved / cand_s / 1e9,
    )


def _wall_check(
    case: Case, block: Any, home: Path, eager: float, claimed: float, plan: BenchPlan
) -> tuple[float | None, tuple[float, float] | None, str | None]:
    """(wall-clock speedup, per-call block times, flag or None); no speedup means the check was defeated."""
    calls = block.get("calls") if isinstance(block, dict) else None
    if not isinstance(calls, int) or not 1 <= calls <= plan.timing.max_block_calls:
        return None, None, "wall-clock check missing"
    try:  # never through a link: its target's times would be another file's
        stamps = [stat_output(home, wall_marker(case, i)).st_ctime_ns for i in range(3)]
    except (FileNotFoundError, CandidateFileError):
        return None, None, "wall-clock markers missing"
    cand_block = (stamps[1] - stamps[0]) * 1e-9
    eager_block = (stamps[2] - stamps[1]) * 1e-9
    if cand_block < 0 or eager_block < 0:
        return None, None, "wall-clock markers out of order"
    per_call = (cand_block / calls, eager_block / calls)
    wall = eager_block / max(cand_block, 1e-6)
    upper = (eager_block + SLACK_S) / max(cand_block - SLACK_S, 1e-6)
    per_call_hi = (eager_block + SLACK_S) / calls
    per_call_lo = max(eager_block - SLACK_S, 0.0) / calls
    if eager > EAGER_ALLOWANCE * per_call_hi or eager * EAGER_ALLOWANCE < per_call_lo:
        return (
            wall,
            per_call,
            (
                f"reported eager time {eager * 1e6:.1f} us per call disagrees with the wall clock "
                f"({per_call[1] * 1e6:.1f} us per call over {calls} calls)"
            ),
        )
    if claimed > ALLOWANCE * upper:
        return (
            wall,
            per_call,
            f"claimed speedup {claimed:.2f}x is not consistent with the wall clock ({wall:.2f}x)",
        )
    return wall, per_call, None
