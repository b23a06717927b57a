"""One stage of a container-format folder (SkyDiscover container benchmark, Harbor task), run from the engine.

These folders carry their evaluator inside their own image, so there is no evaluation worker to
start: the engine asks the Docker daemon for a fresh container of the folder's image per stage,
with the candidate file (and Harbor's tests/) copied in, and reads the answer back from fixed
paths of the stopped container.

Owns: `require` (before anything runs: only the docker sandbox can run these folders, the daemon
answers, the image is built; each refusal is one line naming the folder), `evaluate` (one stage:
the candidate, the command, the limits, then container_scoring.py's verdict) and the lines
describing the folder's format.

Must not: shape the container (adrs/sandbox/image_run.py), build images itself
(adrs/sandbox/images.py), or judge the answer (container_scoring.py).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adrs import sandbox as backends
from adrs.evaluate.result import Evaluation
from adrs.formats.container_scoring import (
    MAX_OUTPUT_BYTES,
    MAX_REWARD_BYTES,
    REWARD_JSON,
    REWARD_TXT,
    container_evaluation,
    harbor_evaluation,
)
from adrs.formats.peer import CONTAINER_FORMATS, HARBOR, ContainerSpec
from adrs.problem import ProblemError
from adrs.problemkit import failures
from adrs.sandbox import SandboxUnavailable
from adrs.sandbox.docker_image import client, docker_host
from adrs.sandbox.image_run import STDERR, STDOUT, ContainerJob, ContainerLimits, archive, run
from adrs.sandbox.images import ImageBuildError, ensure_image
from adrs.sandbox.reaper import watch_docker

if TYPE_CHECKING:
    from adrs.problem import Problem, Stage

LABELS = {"container": "SkyDiscover container benchmark", "harbor": "Harbor task"}


def is_container_problem(problem: Problem) -> bool:
    return problem.peer is not None and problem.peer.format in CONTAINER_FORMATS and problem.peer.container is not None


@functools.cache
def _client(host: str) -> Any:
    return client(timeout=120)


def require(problem: Problem, sandbox: str | None = None) -> None:
    """Raise SandboxUnavailable (Docker) or ProblemError (the image) saying why this folder cannot run here."""
    label = f"{problem.root}: a {LABELS[problem.peer.format]}"
    if sandbox not in (None, "docker"):
        raise SandboxUnavailable(
            f"{label} runs its evaluations in its own Docker image;"
            f" --sandbox {sandbox} cannot run it (leave --sandbox out)"
        )
    reason = backends.get("docker").unavailable_reason()
    if reason is not None:
        raise SandboxUnavailable(f"{label} runs its evaluations in Docker, which is unavailable here: {reason}")
    try:
        ensure_image(_client(docker_host()), problem.peer.container.image)
    except ImageBuildError as exc:
        raise ProblemError(str(exc)) from exc


def evaluate(problem: Problem, program_path: Path, stage: Stage, tag: str) -> Evaluation:
    """Run one stage in a fresh container; any Docker trouble is a failed evaluation, never a crash."""
    spec = problem.peer.container
    try:
        docker_client = _client(docker_host())
        watch_docker(docker_host())  # the engine's reaper removes this engine's containers if it dies
        ensure_image(docker_client, spec.image)
    except ImageBuildError as exc:
        return Evaluation.failure(stage.name, failures.EVALUATOR, str(exc))
    except Exception as exc:  # noqa: BLE001 - the daemon went away: the evaluation fails, the run goes on
        return Evaluation.failure(
            stage.name, failures.EVALUATOR, f"docker at {docker_host()}: {type(exc).__name__}: {exc}"
        )
    limits = ContainerLimits(
        timeout_s=stage.timeout_s,
        memory_mb=spec.memory_mb,
        cpus=spec.cpus,
        processes=spec.processes,
        disk_mb=spec.disk_mb,
    )
    mode = spec.modes.get(stage.name, "")
    argv = [part.replace("{solution}", spec.solution_path).replace("{mode}", mode) for part in spec.argv]
    job = ContainerJob(
        image=spec.image.tag,
        argv=argv,
        limits=limits,
        files=archive(
            {spec.solution_path: program_path.read_bytes()},
            {k: str(v) for k, v in spec.folders.items()},
            spec.empty_dirs,
        ),
        env=spec.env,
        host_runtime=spec.host_runtime,
        user=spec.user,
        tag=tag,
    )
    copy = {STDOUT: MAX_OUTPUT_BYTES, STDERR: MAX_OUTPUT_BYTES}
    if problem.peer.format == HARBOR:
        copy.update({REWARD_TXT: MAX_REWARD_BYTES, REWARD_JSON: MAX_REWARD_BYTES})
    outcome = run(docker_client, job, copy)
    described = limits_text(spec, limits)
    if problem.peer.format == HARBOR:
        return harbor_evaluation(stage.name, outcome, described)
    return container_evaluation(stage.name, outcome, described)


def limits_text(spec: ContainerSpec, limits: ContainerLimits) -> str:
    return f"{limits.timeout_s:g} s, {limits.memory_mb} MB memory, {limits.disk_mb} MB disk, {limits.cpus:g} CPU"
