"""The record of what a peer framework's folder asks of adrs beyond problem.toml's vocabulary.

Owns: `PeerFolder` (which framework, how its stages map to evaluator functions, which metric names
OpenEvolve leaves out of its fitness, the warnings about configuration adrs does not honour), for
the container formats `ContainerSpec` (the image, the command, where the candidate goes, what else
goes in, the limits), and the format names. A `Problem` built from problem.toml has no PeerFolder.

Must not: read files or run anything; it is a plain record shared by the loader, the worker and
the trusted side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from adrs.sandbox.images import ImageRecipe

ADRS = "adrs"
OPENEVOLVE = "openevolve"
SHINKA = "shinka"
CONTAINER = "container"  # SkyDiscover's container benchmark folders: Dockerfile and evaluate.sh
HARBOR = "harbor"  # Harbor task folders: instruction.md, environment/Dockerfile, tests/test.sh
FORMATS = (ADRS, OPENEVOLVE, SHINKA, CONTAINER, HARBOR)
CONTAINER_FORMATS = (CONTAINER, HARBOR)


@dataclass(frozen=True)
class ContainerSpec:
    """How one evaluation of a container-format folder runs: a fresh container of `image` per stage."""

    image: ImageRecipe
    # the command, with {solution} (the candidate's path inside the container) and {mode} (the stage's)
    argv: tuple[str, ...]
    solution_path: str  # where the candidate file is put inside the container
    modes: dict[str, str] = field(default_factory=dict)  # stage name -> {mode} (train | test)
    folders: dict[str, Path] = field(default_factory=dict)  # container path -> host folder copied in each time
    empty_dirs: tuple[str, ...] = ()  # created empty and writable in each container
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None  # None: the image's own user
    host_runtime: bool = False  # the image stands on the offline skeleton: mount the host's /usr read-only
    memory_mb: int = 4096
    cpus: float = 1.0
    disk_mb: int = 4096
    processes: int = 256


@dataclass(frozen=True)
class PeerFolder:
    format: str  # openevolve | shinka
    # stage name -> function of the evaluator module the worker calls for it
    entry_points: dict[str, str] = field(default_factory=dict)
    # OpenEvolve: MAP-Elites dimensions are left out of the fitness when combined_score is missing
    feature_dimensions: tuple[str, ...] = ()
    # one line each, naming the file and the key: configuration that adrs reads but does not honour
    warnings: tuple[str, ...] = ()
    # notes on how a key was translated where the meaning differs a little (shown by `adrs check`)
    notes: tuple[str, ...] = ()
    container: ContainerSpec | None = None  # the container formats only
