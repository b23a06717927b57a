"""An OpenEvolve folder (initial_program.py, evaluator.py, optional config.yaml) as an adrs Problem.

Owns: the stages (`evaluate_stage1/2/3` as a cascade when cascade_evaluation is on, which is
OpenEvolve's default, and evaluator.py defines evaluate_stage1; else `evaluate` as one stage), the
thresholds between them, timeouts, the description, MAP-Elites features, the [llm] table and the
run defaults from config.yaml (config_yaml.py), and the warnings and notes `adrs check` shows.

OpenEvolve runs stage 2 only when evaluate_stage2 exists and stage 1 passes cascade_thresholds[0],
and stage 3 only when evaluate_stage3 exists, a second threshold is given, and stage 2 passes it.

Must not: import the evaluator (its function names are read from its syntax tree).
"""

from __future__ import annotations

import ast
from pathlib import Path

from adrs.formats.config_yaml import ConfigYamlError, OpenEvolveConfig, read_config
from adrs.formats.detect import OPENEVOLVE_CONFIG, OPENEVOLVE_EVALUATOR
from adrs.formats.markers import check_markers
from adrs.formats.openevolve_llm import LLMSectionError
from adrs.formats.peer import OPENEVOLVE, PeerFolder
from adrs.problem import Feature, Objective, Problem, ProblemError, ProblemLimits, Stage

CODE_LINES = Feature("code_lines", (20.0, 40.0, 80.0, 160.0))  # the archive's size descriptor (archive/elites.py)
_STAGE_FUNCTIONS = ("evaluate_stage1", "evaluate_stage2", "evaluate_stage3")


def load_openevolve(root: Path) -> Problem:
    evaluator = root / OPENEVOLVE_EVALUATOR
    if not evaluator.is_file():
        raise ProblemError(f"{root}: no problem.toml, evaluator.py (OpenEvolve) or evaluate.py (ShinkaEvolve)")
    initial = next((root / n for n in ("initial_program.py", "initial.py") if (root / n).is_file()), None)
    if initial is None:
        raise ProblemError(f"{root}: missing initial_program.py (OpenEvolve's initial program; adrs evolves Python)")
    names = defined_names(evaluator)
    if "evaluate" not in names:
        raise ProblemError(f"{evaluator}: defines no function evaluate(program_path)")
    config_path = root / OPENEVOLVE_CONFIG
    try:
        config = read_config(config_path) if config_path.exists() or config_path.is_symlink() else OpenEvolveConfig()
    except (ConfigYamlError, LLMSectionError) as exc:
        raise ProblemError(str(exc)) from exc
    stages, entry_points, notes = _stages(evaluator, names, config)
    features, feature_notes, dropped = _features(config)
    warnings = []
    ignored = list(config.ignored) + [f"database.feature_dimensions: {name!r}" for name in dropped]
    if ignored:
        warnings.append(f"{config.path}: not honoured by adrs, ignored: {', '.join(ignored)}")
    run_defaults = {
        k: v
        for k, v in (("seed", config.seed), ("budget", config.budget), ("islands", config.islands))
        if v is not None
    }
    _check_llm(config)
    check_markers(initial)
    return Problem(
        root=root,
        name=root.name,
        description=config.description,
        initial_path=initial,
        evaluator_path=evaluator,
        objectives=(Objective("score", "max"),),
        features=features,
        stages=stages,
        limits=ProblemLimits(),
        score_metric="combined_score",
        llm=config.llm,
        run_defaults=run_defaults,
        peer=PeerFolder(
            format=OPENEVOLVE,
            entry_points=entry_points,
            feature_dimensions=config.feature_dimensions,
            warnings=tuple(warnings),
            notes=tuple(notes + feature_notes),
        ),
    )


def defined_names(path: Path) -> set[str]:
    """Names a module binds at its top level (functions, imports, assignments), from its syntax tree."""
    try:
        tree = ast.parse(path.read_text(), filename=str(path))
    except SyntaxError as exc:
        raise ProblemError(f"{path}: line {exc.lineno}: syntax error: {exc.msg}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ProblemError(f"{path}: cannot read: {exc}") from exc
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _stages(
    evaluator: Path, names: set[str], config: OpenEvolveConfig
) -> tuple[tuple[Stage, ...], dict[str, str], list[str]]:
    notes: list[str] = []
    has = [f in names for f in _STAGE_FUNCTIONS]
    if not (config.cascade and has[0]):
        if config.cascade and config.path is not None and (has[1] or has[2]):
            notes.append(f"{evaluator.name} defines no evaluate_stage1: evaluate() is the one stage, as in OpenEvolve")
        return (Stage("full", timeout_s=config.timeout_s),), {"full": "evaluate"}, notes
    count = 1
    if has[1]:
        count = 2
        if not config.thresholds:
            raise ProblemError(
                f"{config.path}: evaluator.cascade_thresholds: needs a threshold for stage 1 (evaluate_stage2 exists)"
            )
        if has[2] and len(config.thresholds) >= 2:
            count = 3
        elif has[2]:
            notes.append(
                f"{evaluator.name}: evaluate_stage3 is not run: cascade_thresholds gives no second threshold (as in "
                f"OpenEvolve)"
            )
    stages = tuple(
        Stage(f"stage{i + 1}", timeout_s=config.timeout_s, threshold=config.thresholds[i] if i + 1 < count else None)
        for i in range(count)
    )
    entry_points = {s.name: f"evaluate_stage{i + 1}" for i, s in enumerate(stages)}
    if count > 1:
        shown = ", ".join(f"{s.name} >= {s.threshold:g}" for s in stages if s.threshold is not None)
        notes.append(
            f"cascade {[s.name for s in stages]}, thresholds {shown} (OpenEvolve's value: combined_score, else the "
            f"mean of the numeric metrics)"
        )
    return stages, entry_points, notes


def _features(config: OpenEvolveConfig) -> tuple[tuple[Feature, ...], list[str], list[str]]:
    """MAP-Elites features with fixed bins; the dimensions that cannot be kept."""
    features: list[Feature] = []
    notes: list[str] = []
    dropped: list[str] = []
    for name in config.feature_dimensions:
        if name == "diversity":  # OpenEvolve's edit distance to a reference set: no fixed-bin equivalent
            dropped.append(name)
        elif name == "complexity":
            features.append(CODE_LINES)
            notes.append(
                "feature 'complexity' (code length) is binned as code_lines with fixed edges 20/40/80/160 lines"
            )
        else:
            cells = config.feature_bins.get(name, 10)
            edges = tuple(i / cells for i in range(1, cells))
            features.append(Feature(name, edges))
            notes.append(
                f"feature {name!r}: {cells} fixed cells over [0, 1] (OpenEvolve rescales to the values seen;"
                " write a problem.toml [[features]] table for other edges)"
            )
    return tuple(features), notes, dropped


def _check_llm(config: OpenEvolveConfig) -> None:
    from adrs.mutate.llm.models import LLMConfigError, parse_settings

    try:
        parse_settings(config.llm, f"{config.path} (llm, as adrs reads it)")
    except LLMConfigError as exc:
        raise ProblemError(str(exc)) from exc
