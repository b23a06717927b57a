"""The benchmark protocol as run inside the candidate's process (called by driver.py).

1. Correctness: for every case and seed, build the inputs (possibly non-contiguous views), call the
   candidate once, reject at once if it changed an input, returned an input (alias), returned a
   tensor it had already returned (a cached result) or called the reference; save its outputs for
   the trusted side, which recomputes the reference itself and compares.
2. Timing, per timed case: warm-up calls of the candidate, the eager reference and (optionally)
   torch.compile(reference), so JIT compilation is excluded; then repetitions, each on FRESH inputs
   built from a new seed, each call preceded by a cache flush, in an order that rotates every
   repetition, until the median of the paired per-repetition ratios (reference time / candidate
   time) is known to within `stable_rel` (or the repetition / time budget is spent). Every
   repetition's candidate output is compared with the eager output on the same inputs, and the
   last repetition's output is saved for the trusted side.
3. Wall-clock check: back-to-back blocks of candidate calls and eager calls, separated by marker
   files whose ctime the kernel stamps; the trusted side compares those times with the claims.

Everything returned is a claim: see verify.py for what the trusted side does with it.
Must not: score, or read anything the trusted side did not put in the payload.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from evaluators.kernel_bench import checks
from evaluators.kernel_bench.cases import (
    BenchPlan,
    Case,
    TimingSettings,
    correctness_key,
    rep_seed,
    timed_key,
)
from evaluators.kernel_bench.compare import mismatch
from evaluators.kernel_bench.task import KernelTask
from evaluators.kernel_bench.tensorio import input_digests, save_tensors
from evaluators.kernel_bench.timing import Clock, Series, paired_ratios


class Rejected(Exception):
    """The candidate broke a rule; the message is the reason shown to the user."""


def wall_marker(case: Case, index: int) -> str:
    return f"wall-{case.name}-{index}"


class Protocol:
    def __init__(self, kernel: Callable[..., Any], task: KernelTask, plan: BenchPlan, home: Path):
        self.kernel = kernel
        self.task = task
        self.plan = plan
        self.home = home
        self.device = torch.device(plan.device)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        # The candidate finds the reference only through this guard (kernel_task.reference).
        self.guard = checks.ReferenceGuard(task.reference, "kernel_task.reference")
        task.module.reference = self.guard
        self.saved: dict[str, list[torch.Tensor]] = {}
        self.report: dict[str, Any] = {"correctness": {}, "timing": {}, "violation": None, "notes": []}

    def run(self) -> dict[str, Any]:
        try:
            self._correctness()
            if self.plan.timing_cases:
                clock = Clock(self.device, self.plan.timing.flush_bytes)
                compiled = self._compiled_reference()
                for case in self.plan.timing_cases:
                    self.report["timing"][case.name] = self._time_case(case, clock, compiled)
        except Rejected as exc:
            self.report["violation"] = str(exc)
        save_tensors(self.home / self.plan.outputs_file, self.saved)
        return self.report

    # --- calls -----------------------------------------------------------------------------

    def _inputs(self, case: Case, seed: int) -> list[Any]:
        return self.task.make_inputs(case, seed, self.device)

    def _call_candidate(self, args: list[Any], where: str) -> tuple[torch.Tensor, ...]:
        with self.guard.candidate_running():
            raw = self.kernel(*args)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return self._outputs(raw, where)

    def _outputs(self, raw: Any, where: str) -> tuple[torch.Tensor, ...]:
        try:
            outputs = checks.as_output_tuple(raw, self.task.output_count)
        except ValueError as exc:
            raise Rejected(f"{where}: {exc}") from None
        for i, out in enumerate(outputs):
            if out.device != self.device:
                raise Rejected(f"{where}: output {i} is on {out.device}, expected {self.device}")
        return outputs

    def _judge(self, outputs, args, pristine, others: list[torch.Tensor], others_label: str, where: str) -> None:
        problem = (
            self.guard.problem()
            or checks.aliasing_problem(outputs, args, others, others_label)
            or checks.mutation_problem(args, pristine, self.task.input_names)
        )
        if problem:
            raise Rejected(f"{where}: {problem}")

    # --- 1. correctness -------------------------------------------------------------------

    def _correctness(self) -> None:
        earlier: list[torch.Tensor] = []  # kept alive, so a repeated storage means a repeated tensor
        for case in self.plan.cases:
            for seed in case.seeds:
                where = f"case {case.name} (seed {seed})"
                args = self._inputs(case, seed)
                pristine = checks.clone_args(args)
                outputs = self._call_candidate(args, where)
                self._judge(
                    outputs,
                    args,
                    pristine,
                    earlier,
                    "a tensor returned by an earlier call (a cached result)",
                    where,
                )
                key = correctness_key(case, seed)
                self.report["correctness"][key] = {"input_digests": input_digests(args)}
                self.saved[key] = list(outputs)
                earlier.extend(outputs)

    # --- 2. timing ------------------------------------------------------------------------

    def _compiled_reference(self) -> Callable[..., Any] | None:
        if not self.plan.timing.compile_reference:
            return None
        try:
            import torch._dynamo.config as dynamo_config
            import torch._inductor.config as inductor_config

            inductor_config.compile_threads = 1  # no pool of compile workers inside the sandbox
            for name in ("cache_size_limit", "recompile_limit"):
                if hasattr(dynamo_config, name):
                    setattr(dynamo_config, name, 256)  # one graph per case shape; never fall back to eager
            return torch.compile(self.guard.fn, dynamic=False)
        except Exception as exc:  # noqa: BLE001 - an unavailable compiler is a note, not a failure
            self.report["notes"].append(f"torch.compile reference unavailable: {type(exc).__name__}: {exc}")
            return None

    def _time_case(self, case: Case, clock: Clock, compiled: Callable[..., Any] | None) -> dict[str, Any]:
        settings = self.plan.timing
        seed0 = case.seeds[0]
        functions: dict[str, Callable[..., Any]] = {"candidate": self.kernel, "eager": self.guard.fn}
        if compiled is not None and self._warm_compiled(case, compiled):
            functions["compiled"] = compiled
        for _ in range(settings.warmup):
            self._call_candidate(self._inputs(case, rep_seed(seed0, -1)), f"case {case.name} (warm-up)")
            self.guard.fn(*self._inputs(case, rep_seed(seed0, -1)))
        clock.sync()
        series = {name: Series() for name in functions}
        started = time.perf_counter()
        rep = 0
        for rep in range(settings.max_reps):
            self._one_repetition(case, rep, clock, functions, series)
            if rep + 1 >= settings.min_reps and (
                _stable(series, settings) or time.perf_counter() - started > settings.budget_s
            ):
                break
        # Blocks sized by the slower of the two, so a slow candidate cannot blow the time limit here.
        slower = max(series["eager"].median, series["candidate"].median)
        return {
            "times": {name: s.values for name, s in series.items()},
            "last_rep": rep,
            "wall_check": self._wall_block(case, clock, slower, settings),
        }

    def _warm_compiled(self, case: Case, compiled: Callable[..., Any]) -> bool:
        try:
            for _ in range(max(2, self.plan.timing.warmup)):
                compiled(*self._inputs(case, rep_seed(case.seeds[0], -1)))
            return True
        except Exception as exc:  # noqa: BLE001
            self.report["notes"].append(f"torch.compile reference failed on {case.name}: {type(exc).__name__}: {exc}")
            return False

    def _one_repetition(self, case: Case, rep: int, clock: Clock, functions, series) -> None:
        seed = rep_seed(case.seeds[0], rep)
        where = f"timed repetition {rep} of case {case.name}"
        results: dict[str, Any] = {}
        cand_args: list[Any] = []
        pristine: list[Any] = []
        names = list(functions)
        shift = rep % len(names)  # rotate the order: allocator and cache state favour no one
        for name in names[shift:] + names[:shift]:
            fn = functions[name]
            args = self._inputs(case, seed)  # fresh tensors for every call: nothing to cache
            if name == "candidate":
                cand_args, pristine = args, checks.clone_args(args)
            clock.flush()
            if name == "candidate":
                with self.guard.candidate_running():
                    out, seconds = clock.time_call(fn, args)
            else:
                out, seconds = clock.time_call(fn, args)
            series[name].add(seconds)
            results[name] = out
        outputs = self._outputs(results["candidate"], where)
        reference = checks.as_output_tuple(results["eager"], self.task.output_count)
        self._judge(outputs, cand_args, pristine, list(reference), "the reference's output", where)
        problem = mismatch(outputs, reference, self.task.tolerance(case.dtype))
        if problem:
            raise Rejected(f"{where}: result differs from the reference on fresh inputs: {problem}")
        self.saved[timed_key(case, rep)] = list(outputs)
        self.saved.pop(timed_key(case, rep - 1), None)

    # --- 3. wall-clock check --------------------------------------------------------------

    def _wall_block(self, case: Case, clock: Clock, per_call_s: float, settings: TimingSettings) -> dict[str, Any]:
        per_call = per_call_s if math.isfinite(per_call_s) and per_call_s > 0 else 1e-3
        calls = int(min(settings.max_block_calls, max(3, math.ceil(settings.wall_block_s / per_call))))
        pool = [self._inputs(case, rep_seed(case.seeds[0], -2 - i)) for i in range(2)]
        clock.sync()
        self._mark(case, 0)
        with self.guard.candidate_running():
            for i in range(calls):
                self.kernel(*pool[i % 2])
            clock.sync()
        self._mark(case, 1)
        for i in range(calls):
            self.guard.fn(*pool[i % 2])
        clock.sync()
        self._mark(case, 2)
        if self.guard.problem():
            raise Rejected(f"case {case.name} (wall-clock block): {self.guard.problem()}")
        return {"calls": calls}

    def _mark(self, case: Case, index: int) -> None:
        path = self.home / wall_marker(case, index)
        path.unlink(missing_ok=True)
        path.touch()


def _stable(series: dict[str, Series], settings: TimingSettings) -> bool:
    """The scored quantities (reference time / candidate time, paired per repetition) are known
    to within settings.stable_rel."""
    cand = series["candidate"].values
    return all(
        paired_ratios(series[name].values, cand).is_stable(settings.stable_rel, settings.min_reps)
        for name in series
        if name != "candidate"
    )
