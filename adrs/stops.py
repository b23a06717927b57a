"""Stops that are failures, and the messages that show their cause.

Owns: building the `RunFailure` (progress.py) of each failure stop from what the archive holds:
no program evaluated successfully (the initial program's, or the evaluator's, error with the file
and the stage), a streak of failed evaluations (the kinds so far and the last error), a proposal
streak before any proposal became a program (the counts and the limit). Which stops are failures
is the engine's call; a source's own failure (an LLM endpoint gone) arrives as its stop reason.

Must not: decide when to stop, or write anything.
"""

from __future__ import annotations

from collections import Counter

from adrs.archive.records import ProgramRecord, ProgramStatus
from adrs.archive.store import Archive
from adrs.problem import Problem
from adrs.problemkit import failures
from adrs.progress import EVALUATIONS_FAILING, INITIAL_FAILED, PROPOSALS_FAILING, Progress, RunFailure

ERROR_TAIL_CHARS = 3000  # of an evaluation's error text, in a failure's message


def nothing_to_mutate(archive: Archive, run_id: int, problem: Problem) -> RunFailure:
    """No program evaluated successfully: the initial program's error (or the first failure's)."""
    failed = archive.programs(run_id, status=ProgramStatus.FAILED)
    program = next((p for p in failed if p.mutator == "initial"), failed[0] if failed else None)
    if program is None:
        return RunFailure(INITIAL_FAILED, "no program was evaluated successfully")
    evaluation = next((e for e in reversed(archive.evaluations(program.id)) if not e.ok), None)
    what = f"the initial program {problem.initial_path}" if program.mutator == "initial" else f"program {program.id}"
    if evaluation is None:
        return RunFailure(INITIAL_FAILED, f"{what} failed ({program.error_kind})")
    if evaluation.error_kind == failures.EVALUATOR and evaluation.error.startswith(failures.DRIVER_BROKEN):
        what = f"the problem's driver failed on {what}"  # the error names the driver's file and line
    elif evaluation.error_kind == failures.EVALUATOR:
        what = f"the evaluator {problem.evaluator_path} failed on {what}"
    else:
        what = f"{what} failed"
    return RunFailure(
        INITIAL_FAILED, f"{what} at stage {evaluation.stage!r} ({evaluation.error_kind}):\n{tail(evaluation.error)}"
    )


def failing_evaluations(
    archive: Archive, last: ProgramRecord, problem: Problem, streak: int, limit: int, kinds: Counter[str]
) -> RunFailure:
    """`streak` evaluations in a row failed: the kinds so far, then the last one's error."""
    shown = ", ".join(f"{k} {n}" for k, n in kinds.most_common())
    message = f"{streak} evaluations in a row failed (limit max_failure_streak = {limit}; failures so far: {shown})"
    evaluation = next((e for e in reversed(archive.evaluations(last.id)) if not e.ok), None)
    if evaluation is not None:
        if evaluation.error_kind == failures.EVALUATOR:
            message += f"; the evaluator {problem.evaluator_path} itself failed"
        where = f"program {last.id} at stage {evaluation.stage!r} ({evaluation.error_kind})"
        message += f"; the last, {where}:\n{tail(evaluation.error)}"
    return RunFailure(EVALUATIONS_FAILING, message)


def proposals_failing(progress: Progress, limit: int) -> RunFailure:
    """The proposal streak limit was hit before any proposal of this invocation became a program."""
    counts = (
        f"{progress.duplicates} duplicates, {progress.too_similar} too similar, {progress.no_edit} without a valid edit"
    )
    return RunFailure(
        PROPOSALS_FAILING, f"no proposal became a program ({counts}; limit max_duplicate_streak = {limit})"
    )


def tail(text: str) -> str:
    text = text.strip()
    return text if len(text) <= ERROR_TAIL_CHARS else "..." + text[-ERROR_TAIL_CHARS:]
