"""Problem directories: the `Problem` record and its parts, the files of a folder that decide a score.

Owns: `Problem` and the records it is made of (`Objective`, `Feature`, `Stage`, `ProblemLimits`
(problem.toml's [limits]), `Resources`, `ScoreNoise`), `ProblemError`, whose message names the file
and the key, the fingerprint over the folder and the `evaluators.<name>` packages it imports (read
from the imports, transitively, never by running them), and reading a file of the folder as text (a
file that is not UTF-8 text is refused with its line and column).

Reading problem.toml into a `Problem` and checking every key of it is adrs/problem_toml.py's;
folders written for OpenEvolve, ShinkaEvolve, SkyDiscover's container benchmarks or Harbor are
detected there and built by adrs/formats from these records. `load_problem` and `load_run_problem`
(and `MEASURE`, `MIN_MEASURE_REPEATS`) are re-exported here, the import path callers use, and loaded
on first use (PEP 562's module `__getattr__`): adrs/problem_toml.py imports these records at its
top, so an import at the bottom of this module would fail whenever the loader is imported first.

Must not: import or run the evaluator (that happens only in a sandboxed worker), or parse problem.toml.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adrs.formats.peer import PeerFolder
    from adrs.problem_toml import MEASURE as MEASURE
    from adrs.problem_toml import MIN_MEASURE_REPEATS as MIN_MEASURE_REPEATS
    from adrs.problem_toml import load_problem as load_problem
    from adrs.problem_toml import load_run_problem as load_run_problem

DIRECTIONS = ("max", "min")

# Names of adrs/problem_toml.py that this module's callers import from here (see the docstring).
_LOADER_NAMES = ("load_problem", "load_run_problem", "MEASURE", "MIN_MEASURE_REPEATS")


def __getattr__(name: str) -> Any:
    if name in _LOADER_NAMES:
        from adrs import problem_toml

        return getattr(problem_toml, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class ProblemError(ValueError):
    """A problem directory that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class Objective:
    name: str
    direction: str = "max"

    def better(self, a: float, b: float) -> bool:
        return a > b if self.direction == "max" else a < b


@dataclass(frozen=True)
class Feature:
    name: str
    bins: tuple[float, ...]  # fixed edges: k edges give k+1 cells

    def cell(self, value: float) -> int:
        return sum(1 for edge in self.bins if value >= edge)

    @property
    def cells(self) -> int:
        return len(self.bins) + 1


@dataclass(frozen=True)
class Stage:
    name: str
    timeout_s: float = 120.0
    threshold: float | None = None
    holdout: bool = False


@dataclass(frozen=True)
class ProblemLimits:
    """problem.toml's [limits]. The runner turns them into the sandbox's `ProcessLimits`: the worker's
    address space, and (through the worker's environment) each candidate process's defaults."""

    memory_mb: int = 4096  # address space of the evaluation worker
    candidate_timeout_s: float = 60.0  # default wall-clock limit of each candidate process
    candidate_memory_mb: int = 4096  # default address space of each candidate process
    disk_mb: int = 1024  # what one evaluation may write in all (worker folder and candidates' homes): a tmpfs


@dataclass(frozen=True)
class Resources:
    """What one evaluation needs on a node; the Ray executor asks the cluster for it ([resources])."""

    cpus: float = 1.0
    gpus: float = 0.0  # > 0: Ray runs the evaluation on a node with a GPU and sets CUDA_VISIBLE_DEVICES
    memory_mb: int | None = None  # None: not declared to the scheduler (the sandbox's limits still apply)


@dataclass(frozen=True)
class ScoreNoise:
    """problem.toml's [score] noise: how far two evaluations of one program may differ.

    `sigma` is the standard deviation of one evaluation's score (score points); 0 means the score
    is deterministic (the default), None means adrs measures it at run start from the repeated
    evaluations of the first program it re-scores (the initial program, in a fresh run).
    `repeats` is how many evaluations of the scoring stage a would-be best gets in all, and
    `metrics` declares the same standard deviation for other metrics (exports carry them).
    adrs/noise.py holds the rule that uses them.
    """

    sigma: float | None = 0.0
    repeats: int = 3
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def noisy(self) -> bool:
        return self.sigma is None or self.sigma > 0


@dataclass(frozen=True)
class Problem:
    """A validated problem directory."""

    root: Path
    name: str
    description: str
    initial_path: Path
    evaluator_path: Path
    objectives: tuple[Objective, ...]
    features: tuple[Feature, ...]
    stages: tuple[Stage, ...]
    limits: ProblemLimits
    score_metric: str = "score"
    references: dict[str, float] = field(default_factory=dict)
    prompt_system: str = ""
    sandbox: str | None = None  # None: the strongest backend that works here (adrs.sandbox.default_name)
    warm_start: bool = True  # False: every stage starts a fresh worker interpreter (adrs/evaluate/warm.py)
    llm: dict[str, Any] = field(default_factory=dict)
    resources: Resources = field(default_factory=Resources)
    noise: ScoreNoise = field(default_factory=ScoreNoise)
    # Run settings the folder itself gives (an OpenEvolve config.yaml's random_seed, max_iterations,
    # num_islands); the command line and the API's arguments override them.
    run_defaults: dict[str, Any] = field(default_factory=dict)
    peer: PeerFolder | None = None  # a folder of another framework (adrs/formats); None: problem.toml
    # The initial program's text when the folder keeps it inside another file (a Harbor task's
    # solution/solve.sh, which writes it): `initial_path` is then that file.
    initial_source: str | None = None

    @property
    def warnings(self) -> tuple[str, ...]:
        """Configuration the folder gives that adrs does not honour, one line each naming file and key."""
        return self.peer.warnings if self.peer is not None else ()

    @property
    def scoring_stage(self) -> Stage:
        """The last evolution stage: its score is a complete program's score."""
        return self.evolution_stages[-1]

    @property
    def evolution_stages(self) -> tuple[Stage, ...]:
        return tuple(s for s in self.stages if not s.holdout)

    @property
    def holdout_stages(self) -> tuple[Stage, ...]:
        return tuple(s for s in self.stages if s.holdout)

    def stage(self, name: str) -> Stage:
        for s in self.stages:
            if s.name == name:
                return s
        raise ProblemError(
            f"{self.root / 'problem.toml'}: no stage named {name!r} (stages: {[s.name for s in self.stages]})"
        )

    def initial_code(self) -> str:
        return self.initial_source if self.initial_source is not None else _read_text(self.initial_path)

    def baselines(self) -> list[Path]:
        folder = self.root / "baselines"
        return sorted(folder.glob("*.py")) if folder.is_dir() else []

    def fingerprint(self) -> str:
        """Hash of everything that decides a score: problem.toml, the evaluator, the driver and any
        helper files of the folder, and the `evaluators.<name>` packages they import (transitively)."""
        digest = hashlib.sha256()
        files = self._own_files()
        for package in sorted(self.shared_evaluators()):
            files += [p for p in sorted(package.rglob("*")) if _scored_file(p)]
        for path in files:
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
        container = self.peer.container if self.peer is not None else None
        if container is not None:  # the image's build context, and what each container gets besides
            from adrs.sandbox.images import context_hash

            digest.update(container.image.content_hash.encode())
            for folder in sorted(container.folders.values()):
                digest.update(context_hash(folder).encode())
        return digest.hexdigest()[:16]

    def _own_files(self) -> list[Path]:
        """The folder's files that decide a score (.py, .toml, .json), baselines excepted."""
        files = [p for p in sorted(self.root.rglob("*")) if _scored_file(p)]
        return [p for p in files if "baselines" not in p.relative_to(self.root).parts]

    def shared_evaluators(self) -> set[Path]:
        """Folders of the `evaluators.<name>` packages the problem's own Python files import, and of
        the ones those packages import in turn (found by reading the imports, never by running code)."""
        own = [p for p in self._own_files() if p.suffix == ".py"]
        pending: list[tuple[Path, tuple[str, ...]]] = [(p, ()) for p in own]
        folders: set[Path] = set()
        while pending:
            source, package = pending.pop()
            for name in _imported_evaluator_packages(source, package):
                folder = _package_folder(f"{EVALUATORS}.{name}")
                if folder is None or folder in folders:
                    continue
                folders.add(folder)
                for path in sorted(folder.rglob("*.py")):
                    if _scored_file(path):
                        inner = path.parent.relative_to(folder).parts
                        pending.append((path, (EVALUATORS, name, *inner)))
        return folders


EVALUATORS = "evaluators"  # the installed package of trusted problem code (README.md, "Layout")


def _imported_evaluator_packages(source: Path, package: tuple[str, ...]) -> set[str]:
    """Names of the `evaluators.<name>` packages a Python file imports.

    `package` is the dotted package the file belongs to (empty for a problem folder's files, which
    are loaded by path): a file of evaluators/<name>/ may reach a sibling relatively (`from ..x`).
    """
    try:
        tree = ast.parse(source.read_text(), str(source))
    except (OSError, SyntaxError, ValueError):
        return set()
    modules: list[list[str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules += [alias.name.split(".") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level > len(package):
                continue  # relative to a folder that is no package: nothing to follow
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            module = base + (node.module.split(".") if node.module else [])
            # `from evaluators import prism` names the package among the imported names.
            modules += [module] if len(module) > 1 else [[*module, alias.name] for alias in node.names]
    return {m[1] for m in modules if len(m) > 1 and m[0] == EVALUATORS}


def _package_folder(name: str) -> Path | None:
    """The folder of an installed package, or None when there is no such package."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _scored_file(path: Path) -> bool:
    return path.is_file() and path.suffix in {".py", ".toml", ".json", ".yaml"} and "__pycache__" not in path.parts


def _read_text(path: Path) -> str:
    """A file of the problem folder as text; ProblemError naming the file, line and column when it is not UTF-8.

    The initial program is the problem's own: one that is not UTF-8 text makes the folder unusable
    (no run could start from it), so it is refused here rather than evaluated."""
    from adrs.program import NotUTF8, read_program

    try:
        return read_program(path)
    except NotUTF8 as exc:
        raise ProblemError(str(exc)) from None
