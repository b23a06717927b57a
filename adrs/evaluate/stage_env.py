"""What a stage's worker is started with: the sandbox backend for its candidates, its data folder
and the environment that hands both down (adrs/evaluate/runner.py starts the worker).

Owns: the choice of backend (the settings' choice, else the problem's `sandbox`, else the strongest
that works here) and its availability check (probed once per process, in a thread: later stages
check the cached probe without yielding to the loop, so nothing else runs between a stage's start
and the fork of its worker), the data folder (--data, else ADRS_DATA, else the user's data folder
that `adrs data fetch` fills), and the worker's environment (backend, probes, the paths candidates
must not see in ADRS_HIDDEN_PATHS).

Must not: start processes other than a backend's probe, or read the archive (only its file names).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING

from adrs import sandbox
from adrs.archive.location import archive_files  # a leaf: reads the URL, never opens the archive
from adrs.datasets.location import data_dir_for, user_data_root
from adrs.problem import Problem
from adrs.sandbox.reaper import ENGINE_ENV, engine_id
from adrs.sandbox.views import secret_path_names, socket_folder

if TYPE_CHECKING:
    from adrs.evaluate.runner import EvalSettings


def sandbox_name(problem: Problem, settings: EvalSettings) -> str:
    """The backend for this problem's candidates: the settings' (CLI) choice over problem.toml's, else
    the strongest that works here (adrs.sandbox.default_name)."""
    return settings.sandbox or problem.sandbox or sandbox.default_name()


async def stage_backend(name: str, docker_image: str | None) -> sandbox.Backend:
    """The stage's backend. Only the first check of a backend in this process may probe (a process
    start, so in a thread); its probe is cached, so later checks run here, and no other task on the
    loop (the engine's next proposal) runs between a stage's start and the fork of its worker."""
    key = (name, docker_image)
    if key in _available:
        return _require_backend(name, docker_image)
    backend = await asyncio.to_thread(_require_backend, name, docker_image)
    _available.add(key)
    return backend


_available: set[tuple[str, str | None]] = set()  # backends (and images) found available in this process


def _require_backend(name: str, docker_image: str | None) -> sandbox.Backend:
    if docker_image:
        os.environ["ADRS_DOCKER_IMAGE"] = docker_image  # read by the docker backend, here and in workers
    return sandbox.require(name)


def data_folder(problem: Problem, settings: EvalSettings) -> str | None:
    """The data folder the evaluator gets (--data, else ADRS_DATA, else the user's data folder once
    `adrs data fetch` filled it for this problem), absolute: the worker's cwd is its private folder,
    so a relative --data would resolve there. The worker's environment is scrubbed, so ADRS_DATA
    reaches the evaluator only through here."""
    chosen = data_dir_for(problem.name, settings.data_dir)
    return str(Path(chosen).expanduser().resolve()) if chosen else None


def worker_env(problem: Problem, settings: EvalSettings, name: str, tag: str, data: str | None) -> dict[str, str]:
    """What the worker's harness needs to start candidates: backend, probes, paths to hide (`data`:
    the stage's data folder). Every path is looked for again at each stage."""
    hidden = [str(problem.root), *secret_path_names()]
    for folder in (data, os.environ.get("ADRS_DATA")):
        if folder:
            hidden.append(os.path.realpath(os.path.expanduser(folder)))
    users = user_data_root()
    if users.is_dir():  # every problem's fetched data, not only this one's
        hidden.append(os.path.realpath(users))
    hidden += archive_files(settings.archive_url)
    hidden += settings.hidden_paths
    env = {"ADRS_SANDBOX": name, "ADRS_SANDBOX_TAG": tag, ENGINE_ENV: engine_id(), **sandbox.probe_env(name)}
    if problem.resources.gpus > 0:
        env["ADRS_CANDIDATE_GPUS"] = "1"  # candidates get the GPU device nodes
    else:
        env["CUDA_VISIBLE_DEVICES"] = ""  # the evaluator sees no GPU either, as its candidates do
    from adrs.sandbox.docker_image import docker_host, image_name

    if docker_host().startswith("unix://"):
        hidden.append(str(socket_folder(docker_host().removeprefix("unix://"))))
    if name == "docker":
        env.update(ADRS_DOCKER_HOST=docker_host(), ADRS_DOCKER_IMAGE=image_name())
    env["ADRS_HIDDEN_PATHS"] = os.pathsep.join(hidden)
    return env
