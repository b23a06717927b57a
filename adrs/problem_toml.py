"""problem.toml: reading a problem directory into a `Problem`, and every check of its layout.

Owns `load_problem` (which format a folder is in: folders without a problem.toml written for
OpenEvolve, ShinkaEvolve, SkyDiscover's container benchmarks or Harbor are detected here and built
by adrs/formats), `load_run_problem` (the problem a stored run evolves: `--problem DIR` of status,
export, resume and report when it moved, else the folder the run recorded, with that hint in its
one-line error), and the validation of problem.toml, with errors that name the file and the key:
no unknown key, every number checked against its range (validation.py's rules: a stage's or a
limit's timeout above 0, sizes in whole MiB, no NaN or infinity anywhere), the initial program and
the evaluator found, the evaluator defining `evaluate`, the initial program's EVOLVE-BLOCK markers.

The records it builds are adrs/problem.py's, imported here at the top; adrs/problem.py re-exports
`load_problem` and `load_run_problem` lazily, so there is no import cycle at load time.

Must not: import or run the evaluator (it is parsed, never imported: that happens only in a
sandboxed worker), or define records (adrs/problem.py holds them).
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path
from typing import Any

from adrs.problem import (
    DIRECTIONS,
    Feature,
    Objective,
    Problem,
    ProblemError,
    ProblemLimits,
    Resources,
    ScoreNoise,
    Stage,
    _read_text,
)
from adrs.validation import problem_with

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
