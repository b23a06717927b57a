"""The runner: engine side of one stage (spawn the worker, deadline, read its frame), and the cascade.

Owns: writing the program into a private working directory, handing the worker the sandbox backend
for the evaluation's candidates and the evaluator's data folder (both chosen by
adrs/evaluate/stage_env.py), starting the worker under the `process` sandbox (forked by
the problem's warm server, adrs/evaluate/warm.py, unless the settings or the problem opt out, or no
server can fork it: then a fresh interpreter), enforcing the stage's wall-clock limit (killing the
whole process tree), reading the tokenised result frame from the worker's private pipe, and running
stages in order until one fails or falls below its threshold. The working directory is a
size-limited tmpfs where the machine allows it (adrs/sandbox/scratch.py); the worker's stderr is
read back through the descriptor the runner opened, never through a name a candidate could replace.
After each stage, whatever the backend still holds for it (docker containers) is removed; the
engine's reaper (adrs/sandbox/reaper.py) removes what a killed engine left. Container-format folders
(a SkyDiscover container benchmark, a Harbor task) carry their evaluator in their own image: their
stages start no worker, the engine runs a fresh container per stage
(adrs/formats/container_stage.py).

Must not: import evaluator or candidate code (that only ever happens inside the worker).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from adrs import sandbox
from adrs.evaluate import driver_check, evaluator_code, leftovers, warm
from adrs.evaluate.result import Evaluation
from adrs.evaluate.stage_env import data_folder, sandbox_name, stage_backend, worker_env
from adrs.formats import container_stage
from adrs.formats.scoring import cascade_step, normalise_for
from adrs.formats.worker_request import peer_request
from adrs.problem import Problem, ProblemError, Stage
from adrs.problemkit import failures
from adrs.problemkit.outputs import read_fd_tail
from adrs.program import NotUTF8, read_program, utf8_problem
from adrs.sandbox import SandboxUnavailable
from adrs.sandbox.base import ProcessLimits, describe_exit
from adrs.sandbox.cgroup import PidsCgroup
from adrs.sandbox.process import SandboxSpec, kill_tree, popen_kwargs, scrubbed_env
from adrs.sandbox.reaper import watch_docker
from adrs.sandbox.scratch import mount_scratch, unmount_scratch

MAX_FRAME_BYTES = 64 * 1024 * 1024
FRAME_READS_PER_WAKE = 16  # reads of a worker's pipe per wake-up of the event loop
TAIL_BYTES = 3000


@dataclass(frozen=True)
class EvalSettings:
    """How evaluations run; the same for the engine, `adrs eval` and `adrs check`."""

    seed: int = 0
    data_dir: str | None = None
    sandbox: str | None = None  # process | bwrap | docker; None: the problem's [problem] sandbox
    docker_image: str | None = None  # the docker backend's image (default adrs-sandbox:latest)
    archive_url: str | None = None  # the run's archive: hidden from candidates
    hidden_paths: tuple[str, ...] = ()  # more folders candidates must not see (a Ray node's session files)
    keep_workdirs: bool = False  # for debugging: leave each evaluation's folder behind
    workdir_root: str | None = None
    warm: bool = True  # workers forked by a pre-started server (adrs/evaluate/warm.py); False: --cold-start


async def evaluate_stage(problem: Problem, program_path: Path, stage: Stage, settings: EvalSettings) -> Evaluation:
    """Run one stage of the problem's evaluator on a program file, in a fresh sandboxed worker
    (forked by the problem's warm server, or started cold); a stage whose warm server died under it
    without a result runs again, cold."""
    try:
        return await _evaluate_stage(problem, program_path, stage, settings)
    except warm.WarmLost:
        return await _evaluate_stage(problem, program_path, stage, replace(settings, warm=False))


async def _evaluate_stage(problem: Problem, program_path: Path, stage: Stage, settings: EvalSettings) -> Evaluation:
    if container_stage.is_container_problem(problem):
        return await _container_stage(problem, program_path, stage, settings)
    name = sandbox_name(problem, settings)
    try:
        backend = await stage_backend(name, settings.docker_image)
    except SandboxUnavailable as exc:
        return Evaluation.failure(stage.name, failures.EVALUATOR, str(exc))
    workdir = Path(tempfile.mkdtemp(prefix=f"adrs-{stage.name}-", dir=settings.workdir_root))
    started = time.monotonic()
    tag = secrets.token_hex(8)
    scratch = not settings.keep_workdirs and mount_scratch(workdir, problem.limits.disk_mb)

    def tidy() -> None:
        if scratch:
            unmount_scratch(workdir)
        if not settings.keep_workdirs:
            shutil.rmtree(workdir, ignore_errors=True)

    exiting: list[tuple[leftovers.Exiting, PidsCgroup | None]] = []  # a worker whose frame came first
    try:
        program = workdir / "program.py"
        shutil.copyfile(program_path, program)
        data = data_folder(problem, settings)  # once per stage: the worker's request and its hidden paths
        env = worker_env(problem, settings, name, tag, data)
        if name == "docker":
            watch_docker(env["ADRS_DOCKER_HOST"])
        return await _run_worker(problem, program, stage, settings, workdir, started, env, data, exiting)
    finally:
        if name != "process":
            await asyncio.to_thread(backend.cleanup, tag)
        if exiting:
            leftovers.finish_later(*exiting[0], tidy)
        else:
            tidy()


async def _container_stage(problem: Problem, program_path: Path, stage: Stage, settings: EvalSettings) -> Evaluation:
    """One stage of a container-format folder: a fresh container of its image, removed afterwards
    (also when the run is cancelled while the container still runs)."""
    try:
        await asyncio.to_thread(container_stage.require, problem, settings.sandbox)
    except (SandboxUnavailable, ProblemError) as exc:  # ProblemError: the image does not build
        return Evaluation.failure(stage.name, failures.EVALUATOR, str(exc))
    tag = secrets.token_hex(8)
    try:
        return await asyncio.to_thread(container_stage.evaluate, problem, program_path, stage, tag)
    finally:
        await asyncio.to_thread(sandbox.get("docker").cleanup, tag)


async def _run_worker(
    problem: Problem,
    program: Path,
    stage: Stage,
    settings: EvalSettings,
    workdir: Path,
    started: float,
    env: dict[str, str],
    data: str | None,
    exiting: list,
) -> Evaluation:
    token = secrets.token_hex(16)
    read_fd, write_fd = os.pipe()
    memory = max(problem.limits.memory_mb, problem.limits.candidate_memory_mb)  # candidates inherit its cap
    limits = ProcessLimits(timeout_s=stage.timeout_s, memory_mb=memory, processes=256)
    cgroup = PidsCgroup.create(limits.processes)
    request = {
        "token": token,
        "result_fd": write_fd,
        "evaluator": str(problem.evaluator_path),
        "evaluator_code": evaluator_code.for_request(problem.evaluator_path),  # compiled once, not per stage
        "problem_root": str(problem.root),
        "program": str(program),
        "stage": stage.name,
        "workdir": str(workdir),
        "seed": settings.seed,
        "data_dir": data,
        "candidate_timeout_s": problem.limits.candidate_timeout_s,
        "candidate_memory_mb": problem.limits.candidate_memory_mb,
        **peer_request(problem, stage),  # peer folders: their format and the evaluator function of this stage
    }
    # No RLIMIT_NPROC: the worker runs as the user (or root), whose every process it would count
    # (process.nproc_binds); the cgroup bounds tasks where there is one.
    spec = SandboxSpec(limits=limits, cgroup=cgroup, extra_env=env)
    stdout_path, stderr_path = workdir / "worker.stdout", workdir / "worker.stderr"
    # Read back through this descriptor: an in-process candidate could replace the file's name.
    stderr_fd = os.open(stderr_path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    proc: asyncio.subprocess.Process | warm.WarmWorker | None = None
    try:
        with open(stdout_path, "xb") as out, open(os.dup(stderr_fd), "wb") as err:
            if settings.warm and problem.warm_start:
                # The same worker, forked by the problem's warm server with this stage's environment,
                # cgroup and limits; the request goes to its stdin pipe (result_fd: where it finds the pipe).
                static = {k: v for k, v in env.items() if k != "ADRS_SANDBOX_TAG"}
                with contextlib.suppress(warm.WarmUnavailable):
                    proc = await warm.start_worker(
                        str(problem.root), static, scrubbed_env(str(workdir), env), str(workdir), limits, cgroup,
                        spec.limit_nproc, request, (write_fd, out.fileno(), err.fileno()),
                        "" if problem.peer is not None else str(problem.evaluator_path),
                    )  # fmt: skip
            if proc is None:
                proc = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-I",
                    "-m",
                    "adrs.evaluate.worker",
                    stdin=asyncio.subprocess.PIPE,
                    stdout=out,
                    stderr=err,
                    pass_fds=(write_fd,),
                    **popen_kwargs(spec, str(workdir)),
                )
    except BaseException:
        os.close(read_fd)
        os.close(write_fd)
        os.close(stderr_fd)
        if cgroup is not None:
            cgroup.remove()
        raise
    os.close(write_fd)
    try:
        return await _await_worker(problem, stage, proc, request, token, read_fd, cgroup, stderr_fd, started, exiting)
    finally:
        os.close(stderr_fd)


async def _await_worker(
    problem: Problem,
    stage: Stage,
    proc: asyncio.subprocess.Process | warm.WarmWorker,
    request: dict,
    token: str,
    read_fd: int,
    cgroup: PidsCgroup | None,
    stderr_fd: int,
    started: float,
    exiting: list,
) -> Evaluation:
    """The stage's result: once the worker's frame is complete (it closes the pipe, then exits), or
    once it exited without one. A worker still exiting is killed now and left, with its cgroup, in
    `exiting` for the caller to finish in the background (adrs/evaluate/leftovers.py)."""
    frame_task = asyncio.ensure_future(_read_frame(read_fd))
    exit_task = asyncio.ensure_future(proc.wait())
    frame_first = False
    try:
        if proc.stdin is not None:  # a warm worker's request is in its stdin pipe already
            proc.stdin.write((json.dumps(request) + "\n").encode())
            await proc.stdin.drain()
            proc.stdin.close()
        # asyncio.timeout, not wait_for: on 3.11, wait_for swallows a cancellation that arrives as
        # the worker exits, and a cancelled run then waits on its slots for ever.
        async with asyncio.timeout(stage.timeout_s):
            await asyncio.wait((frame_task, exit_task), return_when=asyncio.FIRST_COMPLETED)
            frame_first = not exit_task.done() and _has_frame(frame_task.result(), token)
            if not frame_first:
                await exit_task
    except (TimeoutError, ConnectionError):
        kill_tree(proc.pid, cgroup)
        await (proc.wait_killed() if isinstance(proc, warm.WarmWorker) else proc.wait())
        frame_task.cancel()
        elapsed = time.monotonic() - started
        if elapsed >= stage.timeout_s * 0.99:
            return Evaluation.failure(
                stage.name, failures.TIMEOUT, f"stage {stage.name!r} exceeded its {stage.timeout_s:g} s limit", elapsed
            )
        return Evaluation.failure(stage.name, failures.NONZERO_EXIT, "the worker closed its input early", elapsed)
    except BaseException:
        exit_task.cancel()
        kill_tree(proc.pid, cgroup)
        frame_task.cancel()
        raise
    finally:
        if not frame_first:
            kill_tree(proc.pid, cgroup)  # nothing the evaluation started outlives it
            if cgroup is not None:
                cgroup.remove()
    elapsed = time.monotonic() - started
    if frame_first:  # the worker is on its way out
        exit_task.cancel()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # the rest of its tree dies in finish_later
        exiting.append((proc, cgroup))
        return _interpret(problem, stage, frame_task.result(), token, None, stderr_fd, elapsed)
    raw = await frame_task
    # The server died, or the fork could not be set up: no fault of the program, the stage runs cold.
    lost = isinstance(proc, warm.WarmWorker) and (proc.lost or proc.returncode == warm.SETUP_FAILED)
    if lost and not _has_frame(raw, token):
        raise warm.WarmLost(f"the warm worker of stage {stage.name!r} ended without a result")
    return _interpret(problem, stage, raw, token, proc.returncode, stderr_fd, elapsed)


async def _read_frame(fd: int) -> bytes:
    """Read the worker's pipe to end of file on the event loop (at most MAX_FRAME_BYTES are kept;
    what is read past them is dropped) and close it. On the loop rather than in a thread: the frame
    reaches the stage without a thread's wake-up and hand-back."""
    loop = asyncio.get_running_loop()
    ended: asyncio.Future[None] = loop.create_future()
    chunks: list[bytes] = []
    size = 0

    def readable() -> None:
        nonlocal size
        for _ in range(FRAME_READS_PER_WAKE):  # then back to the loop: a worker that floods the pipe starves nothing
            try:
                chunk = os.read(fd, 1 << 16)
            except BlockingIOError:
                return
            except OSError as exc:
                if not ended.done():
                    ended.set_exception(exc)
                return
            if not chunk:
                if not ended.done():
                    ended.set_result(None)
                return
            if size < MAX_FRAME_BYTES:
                chunks.append(chunk)
            size += len(chunk)

    os.set_blocking(fd, False)
    loop.add_reader(fd, readable)
    try:
        await ended
    finally:
        loop.remove_reader(fd)
        os.close(fd)
    return b"".join(chunks)


def _has_frame(raw: bytes, token: str) -> bool:
    try:
        frame = json.loads(raw) if raw else None
    except ValueError:
        return False
    return isinstance(frame, dict) and frame.get("token") == token


def _interpret(
    problem: Problem, stage: Stage, raw: bytes, token: str, returncode: int | None, stderr_fd: int, elapsed: float
) -> Evaluation:
    frame = None
    if raw:
        try:
            frame = json.loads(raw)
        except ValueError:
            frame = None
    if not isinstance(frame, dict) or frame.get("token") != token:
        kind, sentence = describe_exit(returncode if returncode is not None else -9)
        stderr = _tail(stderr_fd)
        if "MemoryError" in stderr:
            kind = failures.MEMORY
        elif kind == failures.NONZERO_EXIT and raw:
            kind = failures.INVALID_OUTPUT
            sentence = "wrote a result frame that is not the worker's (forged or corrupt)"
        return Evaluation.failure(
            stage.name, kind, f"the evaluation worker {sentence} without a result. stderr tail:\n{stderr}", elapsed
        )
    if not frame.get("ok"):
        kind = frame.get("kind")
        kind = kind if kind in failures.ALL_KINDS else failures.EVALUATOR
        return Evaluation.failure(stage.name, kind, str(frame.get("message", "")), elapsed)
    return normalise_for(problem, stage.name, frame.get("result"), elapsed)  # peer folders: scored by their rules


def _tail(fd: int) -> str:
    try:
        data = read_fd_tail(fd, TAIL_BYTES)
    except OSError:
        return ""
    return data.decode("utf-8", "replace")


async def evaluate_cascade(
    problem: Problem, program_path: Path, settings: EvalSettings, stages: tuple[Stage, ...] | None = None
) -> list[Evaluation]:
    """Run the evolution stages in order; stop at a failure or a score below a stage's threshold."""
    results: list[Evaluation] = []
    for stage in stages if stages is not None else problem.evolution_stages:
        evaluation = await evaluate_stage(problem, program_path, stage, settings)
        # A driver fault the candidate's process claims counts only when the initial program meets it too.
        evaluation = await driver_check.verified(problem, program_path, stage, settings, evaluation, evaluate_stage)
        # OpenEvolve folders merge metrics across stages and judge thresholds on their own value.
        evaluation, stop = cascade_step(problem, stage, results, evaluation)
        results.append(evaluation)
        if stop:
            break
    return results


async def evaluate_code(
    problem: Problem,
    code: str,
    settings: EvalSettings,
    stages: tuple[Stage, ...] | None = None,
    label: str = "",
    directory: Path | None = None,
) -> list[Evaluation]:
    """Evaluate program text through the cascade, from a private temporary file in `directory`.

    Text that cannot be written as UTF-8 (lone surrogates) fails at the first stage as `syntax`,
    as Python fails a source file that is not UTF-8; nothing is run."""
    not_utf8 = utf8_problem(code)
    if not_utf8 is not None:
        first = (stages if stages is not None else problem.evolution_stages)[0]
        return [Evaluation.failure(first.name, failures.SYNTAX, f"the program is {not_utf8}")]
    prefix = f"adrs-{re.sub(r'[^A-Za-z0-9]', '', label)}-" if label else "adrs-prog-"
    with tempfile.TemporaryDirectory(prefix=prefix, dir=directory) as folder:
        path = Path(folder) / "program.py"
        path.write_text(code)
        return await evaluate_cascade(problem, path, settings, stages)


def evaluate_code_sync(
    problem: Problem, code: str, settings: EvalSettings, stages: tuple[Stage, ...] | None = None
) -> list[Evaluation]:
    """Blocking helper for the CLI: evaluate program text through the cascade."""
    return asyncio.run(evaluate_code(problem, code, settings, stages))


def evaluate_file_sync(
    problem: Problem, path: Path, settings: EvalSettings, stages: tuple[Stage, ...] | None = None
) -> list[Evaluation]:
    """Blocking helper for the CLI: evaluate a program file; one whose bytes are not UTF-8 text
    fails at the first stage as `syntax` (the message names the file, line and column)."""
    try:
        code = read_program(path)
    except NotUTF8 as exc:
        first = (stages if stages is not None else problem.evolution_stages)[0]
        return [Evaluation.failure(first.name, failures.SYNTAX, str(exc))]
    return evaluate_code_sync(problem, code, settings, stages)
