"""Problem directories: reading and validating problem.toml, locating the initial program.

Owns: the `Problem` record and every check of a problem directory's layout, with errors that name
the file and the key: every number of problem.toml is checked against its range (validation.py's
rules: a stage's or a limit's timeout above 0, sizes in whole MiB, no NaN or infinity anywhere),
and a file of the folder that is not UTF-8 text is refused with its line and column. Folders
without a problem.toml written for OpenEvolve, ShinkaEvolve, SkyDiscover's container benchmarks
or Harbor are read by adrs/formats (detected here, built there).

Must not: import or run the evaluator (that happens only in a sandboxed worker).
"""

from __future__ import annotations

import ast
import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adrs.formats.peer import PeerFolder

from adrs.validation import problem_with

DIRECTIONS = ("max", "min")
_TOP_KEYS = {
    "problem",
    "score",
    "objectives",
    "features",
    "stages",
    "limits",
    "references",
    "prompt",
    "llm",
    "resources",
}
_RESOURCE_KEYS = {"cpus", "gpus", "memory_mb"}
_PROBLEM_KEYS = {"name", "description", "initial", "evaluator", "sandbox", "warm_start"}
_LIMIT_KEYS = {"memory_mb", "candidate_timeout_s", "candidate_memory_mb", "disk_mb"}
# Keys that look right but that nothing reads: the message says where the setting lives.
_MISPLACED_LIMITS = {
    "timeout_s": "nothing reads it: a stage's time limit is timeout_s in its [[stages]] table, "
    "a candidate process's is [limits] candidate_timeout_s",
}


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


def load_problem(directory: str | Path) -> Problem:
    root = Path(directory).resolve()
    if not root.is_dir():
        raise ProblemError(f"{directory}: not a directory")
    toml_path = root / "problem.toml"
    from adrs.formats import detect

    try:
        layout = detect.detect_format(root)
    except detect.MixedFormatError as exc:
        raise ProblemError(str(exc)) from exc
    if layout == detect.OPENEVOLVE:
        from adrs.formats.openevolve import load_openevolve

        return load_openevolve(root)
    if layout == detect.SHINKA:
        from adrs.formats.shinka import load_shinka

        return load_shinka(root)
    if layout == detect.CONTAINER:
        from adrs.formats.container import load_container

        return load_container(root)
    if layout == detect.HARBOR:
        from adrs.formats.harbor import load_harbor

        return load_harbor(root)
    if toml_path.exists():
        try:
            data = tomllib.loads(_read_text(toml_path))
        except tomllib.TOMLDecodeError as exc:
            raise ProblemError(f"{toml_path}: invalid TOML: {exc}") from exc
    else:
        data = {}
    return _build(root, toml_path, data)


def load_run_problem(recorded_root: str, moved_to: str | Path | None = None) -> Problem:
    """The problem a stored run evolves: from `moved_to` when given (`--problem DIR`), else from
    where the run recorded it, and then an error says how to point at it if it moved."""
    if moved_to is not None:
        return load_problem(moved_to)
    try:
        return load_problem(recorded_root)
    except ProblemError as exc:
        raise ProblemError(f"{exc} (the run's problem; if it moved, pass --problem DIR)") from exc


def _build(root: Path, toml_path: Path, data: dict[str, Any]) -> Problem:
    _reject_unknown(toml_path, "", data, _TOP_KEYS)
    meta = _table(toml_path, data, "problem")
    _reject_unknown(toml_path, "problem.", meta, _PROBLEM_KEYS)
    initial = _pick_file(root, toml_path, meta.get("initial"), ("initial.py", "initial_program.py"), "problem.initial")
    evaluator = _pick_file(root, toml_path, meta.get("evaluator"), ("evaluator.py",), "problem.evaluator")
    _check_evaluator_defines_evaluate(evaluator)
    _check_markers(initial)
    score = _table(toml_path, data, "score")
    _reject_unknown(toml_path, "score.", score, {"metric", "noise", "repeats", "metric_noise"})
    score_metric = str(score.get("metric", "score" if toml_path.exists() else "combined_score"))
    noise = _score_noise(toml_path, score)
    objectives = tuple(_objective(toml_path, i, o) for i, o in enumerate(_array(toml_path, data, "objectives")))
    if not objectives:
        objectives = (Objective("score", "max"),)
    features = tuple(_feature(toml_path, i, f) for i, f in enumerate(_array(toml_path, data, "features")))
    stages = tuple(_stage(toml_path, i, s) for i, s in enumerate(_array(toml_path, data, "stages")))
    if not stages:
        stages = (Stage("full"),)
    names = [s.name for s in stages]
    if len(set(names)) != len(names):
        raise ProblemError(f"{toml_path}: stages: duplicate stage names {names}")
    if not any(not s.holdout for s in stages):
        raise ProblemError(f"{toml_path}: stages: every stage is a holdout stage; evolution needs one that is not")
    limits_table = _table(toml_path, data, "limits")
    for key, why in _MISPLACED_LIMITS.items():
        if key in limits_table:
            raise ProblemError(f"{toml_path}: limits.{key}: {why}")
    _reject_unknown(toml_path, "limits.", limits_table, _LIMIT_KEYS)
    limits = ProblemLimits(
        memory_mb=_whole(toml_path, "limits.memory_mb", limits_table.get("memory_mb", ProblemLimits.memory_mb)),
        candidate_timeout_s=_number(
            toml_path,
            "limits.candidate_timeout_s",
            limits_table.get("candidate_timeout_s", ProblemLimits.candidate_timeout_s),
            above=0,
        ),
        candidate_memory_mb=_whole(
            toml_path,
            "limits.candidate_memory_mb",
            limits_table.get("candidate_memory_mb", ProblemLimits.candidate_memory_mb),
        ),
        disk_mb=_disk_mb(toml_path, limits_table.get("disk_mb", ProblemLimits.disk_mb)),
    )
    references = {
        str(k): _number(toml_path, f"references.{k}", v) for k, v in _table(toml_path, data, "references").items()
    }
    prompt = _table(toml_path, data, "prompt")
    _reject_unknown(toml_path, "prompt.", prompt, {"system"})
    return Problem(
        root=root,
        name=str(meta.get("name", root.name)),
        description=str(meta.get("description", "")),
        initial_path=initial,
        evaluator_path=evaluator,
        objectives=objectives,
        features=features,
        stages=stages,
        limits=limits,
        score_metric=score_metric,
        references=references,
        prompt_system=str(prompt.get("system", "")),
        sandbox=None if meta.get("sandbox") is None else _sandbox(toml_path, meta["sandbox"]),
        warm_start=_flag(toml_path, "problem.warm_start", meta.get("warm_start", True)),
        llm=dict(_table(toml_path, data, "llm")),
        resources=_resources(toml_path, _table(toml_path, data, "resources")),
        noise=noise,
    )


MEASURE = "measure"  # [score] noise = "measure": adrs measures the noise at run start
MIN_MEASURE_REPEATS = 3  # a standard deviation from fewer evaluations says little


def _score_noise(path: Path, score: dict[str, Any]) -> ScoreNoise:
    raw = score.get("noise", 0.0)
    sigma: float | None
    if raw == MEASURE:
        sigma = None
    else:
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not raw >= 0 or raw == float("inf"):
            raise ProblemError(
                f"{path}: score.noise: expected a standard deviation >= 0 (score points) or {MEASURE!r}, got {raw!r}"
            )
        sigma = float(raw)
    repeats = score.get("repeats", ScoreNoise.repeats)
    least = MIN_MEASURE_REPEATS if sigma is None else 2
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < least:
        raise ProblemError(f"{path}: score.repeats: expected a whole number >= {least}, got {repeats!r}")
    table = score.get("metric_noise", {})
    if not isinstance(table, dict):
        raise ProblemError(f"{path}: [score.metric_noise] must be a table of metric = standard deviation")
    metrics = {}
    for name, value in table.items():
        number = _number(path, f"score.metric_noise.{name}", value)
        if number < 0:
            raise ProblemError(f"{path}: score.metric_noise.{name}: expected a standard deviation >= 0, got {value!r}")
        metrics[str(name)] = number
    return ScoreNoise(sigma, repeats, metrics)


def _flag(path: Path, key: str, raw: Any) -> bool:
    if not isinstance(raw, bool):
        raise ProblemError(f"{path}: {key}: {raw!r} is not true or false")
    return raw


def _sandbox(path: Path, raw: Any) -> str:
    from adrs.sandbox import BACKENDS  # names only: the package probes nothing on import

    if raw not in BACKENDS:
        raise ProblemError(f"{path}: problem.sandbox: {raw!r} is not one of {', '.join(BACKENDS)}")
    return str(raw)


def _objective(path: Path, index: int, raw: Any) -> Objective:
    where = f"objectives[{index}]"
    if not isinstance(raw, dict) or "name" not in raw:
        raise ProblemError(f"{path}: {where}: needs a name")
    _reject_unknown(path, f"{where}.", raw, {"name", "direction"})
    direction = raw.get("direction", "max")
    if direction not in DIRECTIONS:
        raise ProblemError(f"{path}: {where}.direction: {direction!r} is not one of {DIRECTIONS}")
    return Objective(str(raw["name"]), direction)


def _feature(path: Path, index: int, raw: Any) -> Feature:
    where = f"features[{index}]"
    if not isinstance(raw, dict) or "name" not in raw:
        raise ProblemError(f"{path}: {where}: needs a name")
    _reject_unknown(path, f"{where}.", raw, {"name", "bins"})
    bins = raw.get("bins")
    if not isinstance(bins, list) or not bins:
        raise ProblemError(f"{path}: {where}.bins: needs a non-empty list of fixed bin edges")
    edges = tuple(_number(path, f"{where}.bins", b) for b in bins)
    if list(edges) != sorted(set(edges)):
        raise ProblemError(f"{path}: {where}.bins: edges must be strictly increasing, got {list(edges)}")
    return Feature(str(raw["name"]), edges)


def _stage(path: Path, index: int, raw: Any) -> Stage:
    where = f"stages[{index}]"
    if not isinstance(raw, dict) or "name" not in raw:
        raise ProblemError(f"{path}: {where}: needs a name")
    _reject_unknown(path, f"{where}.", raw, {"name", "timeout_s", "threshold", "holdout"})
    threshold = raw.get("threshold")
    return Stage(
        name=str(raw["name"]),
        timeout_s=_number(path, f"{where}.timeout_s", raw.get("timeout_s", Stage.timeout_s), above=0),
        threshold=None if threshold is None else _number(path, f"{where}.threshold", threshold),
        holdout=bool(raw.get("holdout", False)),
    )


def _disk_mb(path: Path, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ProblemError(f"{path}: limits.disk_mb: expected a positive whole number of MiB, got {value!r}")
    return value


def _resources(path: Path, table: dict[str, Any]) -> Resources:
    _reject_unknown(path, "resources.", table, _RESOURCE_KEYS)
    amounts = {}
    for key in ("cpus", "gpus"):
        if key in table:
            value = _number(path, f"resources.{key}", table[key])
            # Ray's rule: a fraction of one unit, or whole units.
            if value < 0 or (value > 1 and not value.is_integer()):
                raise ProblemError(f"{path}: resources.{key}: expected 0 to 1 or a whole number, got {table[key]!r}")
            amounts[key] = value
    if amounts.get("cpus", 1.0) == 0 and amounts.get("gpus", 0.0) == 0:
        raise ProblemError(f"{path}: resources.cpus: an evaluation needs some CPU or GPU, got 0")
    memory = table.get("memory_mb")
    if memory is not None:
        memory = _whole(path, "resources.memory_mb", memory)
    return Resources(cpus=amounts.get("cpus", 1.0), gpus=amounts.get("gpus", 0.0), memory_mb=memory)


def _pick_file(root: Path, toml_path: Path, named: Any, defaults: tuple[str, ...], key: str) -> Path:
    if named is not None:
        path = root / str(named)
        if not path.is_file():
            raise ProblemError(f"{toml_path}: {key}: file {path} does not exist")
        return path
    for name in defaults:
        if (root / name).is_file():
            return root / name
    raise ProblemError(f"{root}: missing {' or '.join(defaults)}")


def _check_evaluator_defines_evaluate(path: Path) -> None:
    try:
        tree = ast.parse(_read_text(path), filename=str(path))
    except SyntaxError as exc:
        raise ProblemError(f"{path}: line {exc.lineno}: syntax error: {exc.msg}") from exc
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "evaluate":
            return
        if isinstance(node, ast.ImportFrom) and any((a.asname or a.name) == "evaluate" for a in node.names):
            return
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "evaluate" for t in node.targets):
            return
    raise ProblemError(f"{path}: defines no function evaluate(program_path, ...)")


def _check_markers(path: Path) -> None:
    from adrs.program import MarkerError, find_regions

    try:
        find_regions(_read_text(path))
    except MarkerError as exc:
        raise ProblemError(f"{path}: EVOLVE-BLOCK markers: {exc}") from exc


def _read_text(path: Path) -> str:
    """A file of the problem folder as text; ProblemError naming the file, line and column when it is not UTF-8.

    The initial program is the problem's own: one that is not UTF-8 text makes the folder unusable
    (no run could start from it), so it is refused here rather than evaluated."""
    from adrs.program import NotUTF8, read_program

    try:
        return read_program(path)
    except NotUTF8 as exc:
        raise ProblemError(str(exc)) from None


def _table(path: Path, data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ProblemError(f"{path}: [{key}] must be a table")
    return value


def _array(path: Path, data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise ProblemError(f"{path}: {key} must be an array of tables ([[{key}]])")
    return value


def _number(path: Path, key: str, value: Any, **rule: Any) -> float:
    """A finite number that follows `rule` (validation.problem_with's keywords), or ProblemError naming the key."""
    phrase = problem_with(value, **rule)
    if phrase is not None:
        raise ProblemError(f"{path}: {key}: {phrase}")
    return float(value)


def _whole(path: Path, key: str, value: Any) -> int:
    """A positive whole number (of MiB), or ProblemError naming the key."""
    if problem_with(value, whole=True, at_least=1) is not None:
        raise ProblemError(f"{path}: {key}: expected a positive whole number of MiB, got {value!r}")
    return int(value)


def _reject_unknown(path: Path, prefix: str, table: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ProblemError(f"{path}: unknown key {prefix}{unknown[0]} (allowed: {', '.join(sorted(allowed))})")
