"""A SkyDiscover container benchmark (Dockerfile and evaluate.sh) as an adrs Problem.

The folder holds `initial_program.py`, an optional `config.yaml` and the Docker build context:
`evaluator/` with a `Dockerfile` and `evaluate.sh` (or both directly in the folder; a folder named
`evaluator/` given on its own finds the initial program and config.yaml in its parent). The image is
built from that context, once per content (adrs/sandbox/images.py). Each evaluation runs

    /benchmark/evaluate.sh <solution_path> <mode>

in a fresh container of it (SkyDiscover's contract: the script at /benchmark, `mode` train or test),
and evaluate.sh prints one JSON object (`status`, `combined_score`, `metrics`, `artifacts`) on
stdout (read by adrs/formats/container_scoring.py).

Owns: the stages (`train` evolves, `test` is the holdout stage, as SkyDiscover's train mode runs in
the loop and test mode once for the best), config.yaml's honoured keys (the description, the
timeout, seed, budget, islands, [llm], as for OpenEvolve: config_yaml.py) and the warnings about
the keys that mean nothing here.

Must not: build the image or run anything (container_stage.py does, when asked).
"""

from __future__ import annotations

from pathlib import Path

from adrs.formats.config_yaml import ConfigYamlError, OpenEvolveConfig, read_config
from adrs.formats.detect import OPENEVOLVE_CONFIG, container_context
from adrs.formats.markers import check_markers
from adrs.formats.openevolve_llm import LLMSectionError
from adrs.formats.peer import CONTAINER, ContainerSpec, PeerFolder
from adrs.problem import Objective, Problem, ProblemError, ProblemLimits, Resources, Stage
from adrs.sandbox import images

EVALUATE_SH = "/benchmark/evaluate.sh"  # where SkyDiscover runs it: its images keep the context at /benchmark
SOLUTION_PATH = "/adrs/solution/program.py"
TRAIN, TEST = "train", "test"
MEMORY_MB, CPUS, DISK_MB = 4096, 1.0, 4096  # SkyDiscover sets no limits; these are adrs's defaults


def load_container(root: Path) -> Problem:
    context = container_context(root)
    if context is None:
        raise ProblemError(f"{root}: no Dockerfile and evaluate.sh (in the folder or in evaluator/)")
    home = root.parent if context == root and root.name == "evaluator" else root
    initial = next((p for p in (root / "initial_program.py", home / "initial_program.py") if p.is_file()), None)
    if initial is None:
        raise ProblemError(f"{home}: missing initial_program.py (SkyDiscover's initial program; adrs evolves Python)")
    config = _config(home / OPENEVOLVE_CONFIG)
    check_markers(initial)
    warnings = []
    ignored = list(config.ignored) + [f"database.feature_dimensions: {name!r}" for name in config.feature_dimensions]
    if ignored:
        warnings.append(f"{config.path}: not honoured by adrs, ignored: {', '.join(ignored)}")
    recipe = images.recipe(CONTAINER, context, context / "Dockerfile")
    spec = ContainerSpec(
        image=recipe,
        argv=(EVALUATE_SH, "{solution}", "{mode}"),
        solution_path=SOLUTION_PATH,
        modes={TRAIN: TRAIN, TEST: TEST},
        memory_mb=MEMORY_MB,
        cpus=CPUS,
        disk_mb=DISK_MB,
        host_runtime=recipe.on_host_runtime,
    )
    run_defaults = {
        k: v
        for k, v in (("seed", config.seed), ("budget", config.budget), ("islands", config.islands))
        if v is not None
    }
    return Problem(
        root=home,
        name=home.name,
        description=config.description,
        initial_path=initial,
        evaluator_path=context / "evaluate.sh",
        objectives=(Objective("score", "max"),),
        features=(),
        stages=(Stage(TRAIN, timeout_s=config.timeout_s), Stage(TEST, timeout_s=config.timeout_s, holdout=True)),
        limits=ProblemLimits(),
        score_metric="combined_score",
        sandbox="docker",
        llm=config.llm,
        resources=Resources(cpus=CPUS, memory_mb=MEMORY_MB),
        run_defaults=run_defaults,
        peer=PeerFolder(
            format=CONTAINER,
            entry_points={TRAIN: TRAIN, TEST: TEST},
            warnings=tuple(warnings),
            notes=(
                "stages: train (evolution) and test (holdout, the best program at the end):"
                f" {EVALUATE_SH} <solution> <mode>",
                "score: combined_score of the last JSON object evaluate.sh prints;"
                " status error or timeout is a failed evaluation",
                container_note(spec, config.timeout_s),
            ),
            container=spec,
        ),
    )


def _config(path: Path) -> OpenEvolveConfig:
    if not (path.exists() or path.is_symlink()):
        return OpenEvolveConfig()
    try:
        return read_config(path)
    except (ConfigYamlError, LLMSectionError) as exc:
        raise ProblemError(str(exc)) from exc


def container_note(spec: ContainerSpec, timeout_s: float) -> str:
    """The line `adrs check` prints about how each evaluation is confined."""
    runtime = "; the host's /usr read-only (FROM the offline image)" if spec.host_runtime else ""
    return (
        f"image {spec.image.tag} from {spec.image.dockerfile} (built once per content); each evaluation: a fresh"
        f" container, no network, {spec.memory_mb} MB memory, {spec.cpus:g} CPU, {spec.processes} processes,"
        f" {spec.disk_mb} MB disk, {timeout_s:g} s{runtime}"
    )
