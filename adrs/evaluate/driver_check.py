"""Whether a claimed driver fault is the problem's: verified on the problem's own initial program.

A problem's driver runs inside the candidate's process, so when the candidate runner there says
"the problem's driver failed" (adrs/candidate/runner.py), the harness records `exception` with a note
of the claim (`failures.DRIVER_FAULT_CLAIM`): a candidate could write the same claim. This module
decides on the trusted side's own evidence. It runs the same stage once more with the problem's
initial program (trusted); when that fails with a driver fault too, the candidate's failure is
recorded as `evaluator_error`, with a message naming the driver's file, the stage and its error
line; otherwise it stays `exception`. The verdict is kept per (problem fingerprint, stage, sandbox
choice) for the life of the process, so a run pays at most one extra evaluation per stage, however
many candidates make the claim (concurrent claims wait for the one reference evaluation). When the
program evaluated is the initial program itself, its own evaluation is the reference.

Owns: recognising the claim, the reference evaluation and its cache, the re-labelled failure.
Must not: take the candidate's word (its claim only triggers the check; the verdict comes from the
initial program's evaluation), or import evaluator or candidate code (stages run through the
runner's `run_stage`, in a sandboxed worker).
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from adrs.evaluate.result import Evaluation
from adrs.problem import Problem, Stage
from adrs.problemkit import failures

if TYPE_CHECKING:
    from adrs.evaluate.runner import EvalSettings

StageRunner = Callable[[Problem, Path, Stage, "EvalSettings"], Awaitable[Evaluation]]
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)(?:, in (?P<function>\S+))?')


@dataclass(frozen=True)
class DriverVerdict:
    """What the initial program's evaluation of one stage says about the problem's driver."""

    broken: bool
    where: str = ""  # the driver's file and line, from the initial program's traceback
    error_line: str = ""  # the error itself, e.g. "NameError: name 'valeu' is not defined"


_verdicts: dict[tuple[str, str, str], DriverVerdict] = {}
_pending: dict[tuple[str, str, str], asyncio.Task[DriverVerdict]] = {}


def claims_driver_fault(evaluation: Evaluation) -> bool:
    """The evaluation failed with the candidate process's claim that the problem's driver failed."""
    return (
        not evaluation.ok
        and evaluation.error_kind == failures.EXCEPTION
        and failures.DRIVER_FAULT_CLAIM in evaluation.error
    )


async def verified(
    problem: Problem,
    program_path: Path,
    stage: Stage,
    settings: EvalSettings,
    evaluation: Evaluation,
    run_stage: StageRunner,
) -> Evaluation:
    """The evaluation to record: `evaluator_error` when the candidate's claimed driver fault is the
    initial program's too, else the evaluation unchanged."""
    if not claims_driver_fault(evaluation):
        return evaluation
    initial = problem.initial_code()
    key = (await asyncio.to_thread(problem.fingerprint), stage.name, settings.sandbox or problem.sandbox or "")
    if program_path.read_bytes() == initial.encode():
        # The initial program's own evaluation: trusted, and the reference for this stage.
        verdict = _verdict_from(problem, evaluation)
        _verdicts.setdefault(key, verdict)
    else:
        verdict = await _reference_verdict(key, problem, initial, stage, settings, run_stage)
    if not verdict.broken:
        return evaluation
    message = (
        f"{failures.DRIVER_BROKEN}: {verdict.where}, stage {stage.name!r}: {verdict.error_line}\n"
        "(the problem's initial program fails at this stage with a driver fault too: a bug in the problem, "
        f"not the candidate's)\n\nthe candidate's evaluation:\n{evaluation.error}"
    )
    return Evaluation.failure(evaluation.stage, failures.EVALUATOR, message, evaluation.duration_s)


async def _reference_verdict(
    key: tuple[str, str, str],
    problem: Problem,
    initial: str,
    stage: Stage,
    settings: EvalSettings,
    run_stage: StageRunner,
) -> DriverVerdict:
    """The cached verdict, else the one evaluation of the initial program every claimant waits for."""
    if key in _verdicts:
        return _verdicts[key]
    loop = asyncio.get_running_loop()
    task = _pending.get(key)
    if task is None or task.get_loop() is not loop or task.cancelled():
        task = loop.create_task(_evaluate_reference(key, problem, initial, stage, settings, run_stage))
        _pending[key] = task
    # shield: a claimant cancelled while it waits leaves the reference evaluation to the others.
    return await asyncio.shield(task)


async def _evaluate_reference(
    key: tuple[str, str, str],
    problem: Problem,
    initial: str,
    stage: Stage,
    settings: EvalSettings,
    run_stage: StageRunner,
) -> DriverVerdict:
    try:
        with tempfile.TemporaryDirectory(prefix="adrs-reference-", dir=settings.workdir_root) as folder:
            path = Path(folder) / "program.py"
            path.write_text(initial)
            reference = await run_stage(problem, path, stage, settings)
    except Exception:  # noqa: BLE001 - no evidence against the driver: the candidate's failure stands
        return DriverVerdict(False)  # not kept: the next claim tries again
    finally:
        if _pending.get(key) is asyncio.current_task():
            del _pending[key]
    verdict = _verdict_from(problem, reference) if claims_driver_fault(reference) else DriverVerdict(False)
    _verdicts[key] = verdict
    return verdict


def _verdict_from(problem: Problem, reference: Evaluation) -> DriverVerdict:
    """Where the driver failed and how, read from a trusted (initial program's) failure message."""
    text = reference.error.split(failures.DRIVER_FAULT_CLAIM)[0]
    lines = [line for line in text.splitlines() if line.strip()]
    error_line = lines[-1].strip() if lines else "(no message)"
    where = _problem_file(problem, "driver.py")
    for line in reversed(lines):
        if (frame := _FRAME.match(line)) and not frame["file"].startswith("<"):
            name = Path(frame["file"]).name  # the harness's copy in the candidate's folder: name the problem's
            where = f"{_problem_file(problem, name)}, line {frame['line']}"
            where += f", in {frame['function']}" if frame["function"] else ""
            break
    return DriverVerdict(True, where, error_line[:500])


def _problem_file(problem: Problem, name: str) -> str:
    """The problem's file of that name (its folder, then its `evaluators.<name>` packages), else the name."""
    for folder in (problem.root, *sorted(problem.shared_evaluators())):
        if (folder / name).is_file():
            return str(folder / name)
    return name
