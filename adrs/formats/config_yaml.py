"""OpenEvolve's config.yaml, read into what adrs honours plus the list of keys it does not.

Owns: parsing the file (PyYAML's safe loader), checking the type of every key adrs honours (errors
name the file and the key), and translating them:

    prompt.system_message            -> the problem's description (the LLM's task text)
    evaluator.timeout                -> every stage's timeout
    evaluator.cascade_evaluation     -> whether evaluate_stage1/2/3 are the stages
    evaluator.cascade_thresholds     -> the thresholds between those stages
    random_seed (database.random_seed) -> the run's seed unless --seed is given
    max_iterations                   -> the run's budget unless --budget is given
    database.num_islands             -> the run's islands unless --islands is given
    database.feature_dimensions/_bins -> MAP-Elites features with fixed bins
    diff_based_evolution             -> the LLM's edit format (diff or rewrite)
    llm.*                            -> the [llm] table (openevolve_llm.py)

Every other key present in the file is collected, by its dotted name, for one warning.

Must not: decide stages or build the Problem (openevolve.py does), nor read the evaluator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from adrs.formats.openevolve_llm import llm_table

# OpenEvolve's own defaults where config.yaml says nothing (openevolve.config, version 0.4.0).
DEFAULT_TIMEOUT_S = 300.0
DEFAULT_CASCADE = True
DEFAULT_THRESHOLDS = (0.5, 0.75, 0.9)
DEFAULT_FEATURE_BINS = 10


class ConfigYamlError(ValueError):
    """A config.yaml that cannot be read or holds a wrong value for a key adrs honours."""


@dataclass(frozen=True)
class OpenEvolveConfig:
    path: Path | None = None  # None: the folder has no config.yaml (OpenEvolve's defaults apply)
    description: str = ""
    timeout_s: float = DEFAULT_TIMEOUT_S
    cascade: bool = DEFAULT_CASCADE
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    seed: int | None = None
    budget: int | None = None
    islands: int | None = None
    feature_dimensions: tuple[str, ...] = ()
    feature_bins: dict[str, int] = field(default_factory=dict)
    llm: dict[str, Any] = field(default_factory=dict)
    ignored: tuple[str, ...] = ()  # dotted names of keys present but not honoured


# Sections whose keys are read one by one; any other key inside them is reported as ignored.
_READ = {
    "": {
        "prompt",
        "evaluator",
        "database",
        "llm",
        "random_seed",
        "max_iterations",
        "diff_based_evolution",
        "language",
        "file_suffix",
    },
    "prompt": {"system_message"},
    "evaluator": {"timeout", "cascade_evaluation", "cascade_thresholds"},
    "database": {"feature_dimensions", "feature_bins", "random_seed", "num_islands"},
}


def read_config(path: Path) -> OpenEvolveConfig:
    """The honoured values of config.yaml; raises ConfigYamlError naming the file and key."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigYamlError(f"{path}: cannot read: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ConfigYamlError(f"{path}: invalid YAML: {where}{getattr(exc, 'problem', None) or exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigYamlError(f"{path}: expected a mapping of keys at the top, got {type(data).__name__}")
    reader = _Reader(path)
    prompt = reader.section(data, "prompt")
    evaluator = reader.section(data, "evaluator")
    database = reader.section(data, "database")
    ignored = _unread(data, "")
    for name, section in (("prompt", prompt), ("evaluator", evaluator), ("database", database)):
        ignored += _unread(section, name)
    language = data.get("language")
    if language not in (None, "python"):
        raise ConfigYamlError(f"{path}: language: adrs evolves Python programs, got {language!r}")
    suffix = data.get("file_suffix")
    if suffix not in (None, ".py"):
        raise ConfigYamlError(f"{path}: file_suffix: adrs evolves Python programs (.py), got {suffix!r}")
    table, llm_ignored = llm_table(path, data.get("llm"))
    ignored += llm_ignored
    if "diff_based_evolution" in data:  # kept even without a model: it shapes the edits of a model given by --llm
        table["edit_format"] = "diff" if reader.boolean(data, "diff_based_evolution") else "rewrite"
    dimensions = reader.names(database, "database.feature_dimensions")
    seed = reader.whole(data, "random_seed")
    if seed is None:
        seed = reader.whole(database, "database.random_seed")
    return OpenEvolveConfig(
        path=path,
        description=reader.text(prompt, "prompt.system_message"),
        timeout_s=reader.positive(evaluator, "evaluator.timeout", DEFAULT_TIMEOUT_S),
        cascade=reader.boolean(evaluator, "evaluator.cascade_evaluation", DEFAULT_CASCADE),
        thresholds=reader.numbers(evaluator, "evaluator.cascade_thresholds", DEFAULT_THRESHOLDS),
        seed=seed,
        budget=reader.whole(data, "max_iterations", minimum=1),
        islands=reader.whole(database, "database.num_islands", minimum=1),
        feature_dimensions=dimensions,
        feature_bins=reader.bins(database, dimensions),
        llm=table,
        ignored=tuple(ignored),
    )


def _unread(section: dict[str, Any], name: str) -> list[str]:
    prefix = f"{name}." if name else ""
    # A key set to false or null switches off something adrs does not do: nothing is lost.
    return [f"{prefix}{key}" for key, value in section.items() if key not in _READ[name] and value not in (False, None)]


@dataclass
class _Reader:
    path: Path

    def fail(self, key: str, message: str) -> ConfigYamlError:
        return ConfigYamlError(f"{self.path}: {key}: {message}")

    def section(self, data: dict[str, Any], key: str) -> dict[str, Any]:
        value = data.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a mapping, got {value!r}")
        return value

    def _last(self, key: str) -> str:
        return key.rsplit(".", 1)[-1]

    def text(self, table: dict[str, Any], key: str) -> str:
        value = table.get(self._last(key))
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self.fail(key, f"expected text, got {value!r}")
        return value

    def boolean(self, table: dict[str, Any], key: str, default: bool = False) -> bool:
        value = table.get(self._last(key), default)
        if not isinstance(value, bool):
            raise self.fail(key, f"expected true or false, got {value!r}")
        return value

    def positive(self, table: dict[str, Any], key: str, default: float) -> float:
        value = table.get(self._last(key), default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
            raise self.fail(key, f"expected a positive number of seconds, got {value!r}")
        return float(value)

    def whole(self, table: dict[str, Any], key: str, minimum: int | None = None) -> int | None:
        value = table.get(self._last(key))
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or (minimum is not None and value < minimum):
            bound = f" of at least {minimum}" if minimum is not None else ""
            raise self.fail(key, f"expected a whole number{bound}, got {value!r}")
        return value

    def numbers(self, table: dict[str, Any], key: str, default: tuple[float, ...]) -> tuple[float, ...]:
        value = table.get(self._last(key))
        if value is None:
            return default
        if not isinstance(value, list) or any(isinstance(v, bool) or not isinstance(v, int | float) for v in value):
            raise self.fail(key, f"expected a list of numbers, got {value!r}")
        return tuple(float(v) for v in value)

    def names(self, table: dict[str, Any], key: str) -> tuple[str, ...]:
        value = table.get(self._last(key))
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(key, f"expected a list of metric names, got {value!r}")
        return tuple(value)

    def bins(self, table: dict[str, Any], dimensions: tuple[str, ...]) -> dict[str, int]:
        value = table.get("feature_bins", DEFAULT_FEATURE_BINS)
        key = "database.feature_bins"
        if isinstance(value, dict):
            out = {}
            for name in dimensions:
                count = value.get(name, DEFAULT_FEATURE_BINS)
                if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                    raise self.fail(f"{key}.{name}", f"expected a whole number of bins, got {count!r}")
                out[name] = count
            return out
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.fail(key, f"expected a whole number of bins (or one per dimension), got {value!r}")
        return {name: value for name in dimensions}
