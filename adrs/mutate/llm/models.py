"""LLM settings: which models, on which OpenAI-compatible endpoints, at what price, chosen how.

Owns: `ModelSpec` (one model on one endpoint), `LLMSettings` (the run's LLM table) and reading them
from the `[llm]` table of problem.toml, a run config file, or `--llm NAME[@URL]` flags, with errors
that name the file and the key. Also a few list prices, so `--llm gpt-5-mini --max-cost 5` counts
dollars without a price table of one's own.

Must not: open connections, read the value of an API key (only the name of its variable, resolved
at call time by the client pool), or choose between models (bandit.py does).
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adrs.problem import Problem

OPENAI_URL = "https://api.openai.com/v1"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"
EDIT_FORMATS = ("diff", "rewrite", "mixed")
SELECTIONS = ("weights", "bandit")
BANDIT_REWARDS = ("improvement", "improvement_per_dollar")

# $ per million input / output tokens, list prices as published by OpenAI in 2025. Prices change:
# set price_in / price_out in [[llm.models]] to override; unknown models count as $0.
KNOWN_PRICES: dict[str, tuple[float, float]] = {
    "gpt-5": (1.25, 10.0),
    "gpt-5-mini": (0.25, 2.0),
    "gpt-5-nano": (0.05, 0.40),
    "gpt-4.1": (2.0, 8.0),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.0),
    "gpt-4o-mini": (0.15, 0.60),
    "o4-mini": (1.10, 4.40),
}


class LLMConfigError(ValueError):
    """An LLM table that cannot be used; the message names the file (or flag) and the key."""


class LLMError(RuntimeError):
    """An endpoint that cannot be used: wrong key, unknown model, unreachable (found at start-up)."""


@dataclass(frozen=True)
class ModelSpec:
    name: str  # the model id the endpoint expects
    label: str = ""  # how the archive names it (mutator llm:<label>); default: the name
    base_url: str | None = None  # None: OpenAI's API
    api_key_env: str = DEFAULT_KEY_ENV  # the variable holding the key; local servers need none
    weight: float = 1.0  # share of proposals under fixed weights; ignored by the bandit
    price_in: float = 0.0  # $ per million prompt tokens
    price_out: float = 0.0  # $ per million completion tokens
    temperature: float | None = None  # None: the endpoint's default (reasoning models accept no other)
    max_tokens: int = 8192  # completion cap; also the worst case a cost reservation assumes
    priced: bool = False  # a price was given or known; False means spending on it is not counted

    @property
    def is_openai(self) -> bool:
        return self.base_url is None or "api.openai.com" in self.base_url

    @property
    def url(self) -> str:
        return self.base_url or OPENAI_URL

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.price_in + completion_tokens * self.price_out) / 1e6

    def api_key(self) -> str:
        """The key from the environment; local servers get a placeholder when the variable is unset."""
        value = os.environ.get(self.api_key_env, "")
        if value:
            return value
        if self.is_openai:
            raise LLMError(
                f"model {self.name}: {self.api_key_env} is not set (export your OpenAI key, or set api_key_env)"
            )
        return "not-needed"  # vLLM, Ollama and llama.cpp accept any key unless started with one


MAX_TEMPERATURE = 2.0  # the OpenAI protocol's upper bound


@dataclass(frozen=True)
class LLMSettings:
    models: tuple[ModelSpec, ...]
    selection: str = "weights"  # weights: draw by weight; bandit: UCB over the improvement children bring
    bandit_reward: str = "improvement"  # or improvement_per_dollar: cheap models earn more per success
    exploration: float = 1.0  # UCB exploration constant: higher tries weaker models more often
    concurrency: int = 4  # calls in flight; the engine keeps this many proposals going
    timeout_s: float = 180.0  # hard deadline per attempt, enforced by asyncio: a stalled endpoint cannot hold a run
    max_retries: int = 3  # retries of 429, 5xx, timeouts and dropped connections
    backoff_s: float = 1.0  # first retry waits about this long (doubling, with jitter, Retry-After honoured)
    edit_format: str = "diff"  # diff: SEARCH/REPLACE blocks; rewrite: the whole program; mixed: both
    rewrite_share: float = 0.25  # under mixed: share of proposals that ask for a full rewrite
    max_prompt_tokens: int = 16000  # prompt budget; feedback is cut first, then inspirations
    attempts_shown: int = 6  # recent attempts of the lineage shown, so failed ideas are not repeated
    preflight: bool = True  # one tiny call per model at start-up: a wrong key fails now, not in an hour
    stop_after_call_failures: int = 8  # failed calls in a row (after retries) that stop the run as a failure
    outage_limit_s: float = 600.0  # an endpoint unreachable this long (paused, probed with backoff) stops the run
    # After k duplicate answers in a row from one parent, the next call samples at the model's
    # temperature + k x this step (at most 2.0), so a model that keeps repeating itself is pushed
    # off its answer. Only for models with a `temperature`: others keep the provider's default.
    repeat_temperature_step: float = 0.2
    # A parent's newest edits already in the archive (its children, and answers that duplicated a
    # known program), listed in its next prompt by their first changed line as already tried: a
    # repeat costs a call and teaches nothing. 0 turns the list off.
    duplicates_shown: int = 5

    def model(self, label: str) -> ModelSpec:
        return next(m for m in self.models if m.label == label)

    def temperature(self, model: ModelSpec, duplicate_streak: int) -> float | None:
        """The temperature of the next call from a parent whose last `duplicate_streak` answers were duplicates."""
        if model.temperature is None:
            return None
        return min(MAX_TEMPERATURE, model.temperature + self.repeat_temperature_step * duplicate_streak)


_MODEL_KEYS = {
    "name",
    "label",
    "base_url",
    "api_key_env",
    "weight",
    "price_in",
    "price_out",
    "temperature",
    "max_tokens",
}
_SETTING_KEYS = {f for f in LLMSettings.__dataclass_fields__ if f != "models"} | {"models"}


def parse_model_flag(text: str) -> dict[str, Any]:
    """`NAME` or `NAME@BASE_URL` (the model as the endpoint names it, then its OpenAI-compatible URL)."""
    name, _, url = text.strip().partition("@")
    if not name:
        raise LLMConfigError(f"--llm {text!r}: expected NAME or NAME@URL, e.g. qwen2.5-coder@http://localhost:8000/v1")
    out: dict[str, Any] = {"name": name}
    if url:
        if not url.startswith(("http://", "https://")):
            raise LLMConfigError(f"--llm {text!r}: the URL after @ must start with http:// or https://")
        out["base_url"] = url
    return out


def load_llm_file(path: str | Path) -> dict[str, Any]:
    """The `[llm]` table of a run config file (TOML), checked now so errors name the file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError as exc:
        raise LLMConfigError(f"{path}: no such file") from exc
    except tomllib.TOMLDecodeError as exc:
        raise LLMConfigError(f"{path}: invalid TOML: {exc}") from exc
    table = data.get("llm", data)
    if not isinstance(table, dict):
        raise LLMConfigError(f"{path}: [llm] must be a table")
    parse_settings(table, str(path))
    return table


def merged_table(problem_table: dict[str, Any], run_table: dict[str, Any]) -> dict[str, Any]:
    """The run's table over the problem's: settings key by key; a run's model list replaces the problem's."""
    return {**problem_table, **run_table}


def parse_settings(table: dict[str, Any], where: str) -> LLMSettings | None:
    """Validated settings, or None when the table names no model."""
    unknown = sorted(set(table) - _SETTING_KEYS)
    if unknown:
        raise LLMConfigError(f"{where}: unknown key llm.{unknown[0]} (allowed: {', '.join(sorted(_SETTING_KEYS))})")
    raw_models = table.get("models", [])
    if isinstance(raw_models, str | dict):
        raw_models = [raw_models]
    if not isinstance(raw_models, list):
        raise LLMConfigError(f"{where}: llm.models must be a list of model tables or NAME@URL strings")
    if not raw_models:
        return None
    models = tuple(_model(where, f"llm.models[{i}]", raw) for i, raw in enumerate(raw_models))
    labels = [m.label for m in models]
    if len(set(labels)) != len(labels):
        raise LLMConfigError(
            f"{where}: llm.models: two models share the label {_first_duplicate(labels)!r}; give each a label"
        )
    settings = LLMSettings(
        models=models,
        selection=_choice(where, table, "selection", SELECTIONS, LLMSettings.selection),
        bandit_reward=_choice(where, table, "bandit_reward", BANDIT_REWARDS, LLMSettings.bandit_reward),
        exploration=_number(where, table, "exploration", LLMSettings.exploration, minimum=0.0),
        concurrency=int(_number(where, table, "concurrency", LLMSettings.concurrency, minimum=1, integer=True)),
        timeout_s=_number(where, table, "timeout_s", LLMSettings.timeout_s, minimum=0.01),
        max_retries=int(_number(where, table, "max_retries", LLMSettings.max_retries, minimum=0, integer=True)),
        backoff_s=_number(where, table, "backoff_s", LLMSettings.backoff_s, minimum=0.0),
        edit_format=_choice(where, table, "edit_format", EDIT_FORMATS, LLMSettings.edit_format),
        rewrite_share=_number(where, table, "rewrite_share", LLMSettings.rewrite_share, minimum=0.0, maximum=1.0),
        max_prompt_tokens=int(
            _number(where, table, "max_prompt_tokens", LLMSettings.max_prompt_tokens, minimum=500, integer=True)
        ),
        attempts_shown=int(
            _number(where, table, "attempts_shown", LLMSettings.attempts_shown, minimum=0, integer=True)
        ),
        preflight=_bool(where, table, "preflight", LLMSettings.preflight),
        stop_after_call_failures=int(
            _number(
                where, table, "stop_after_call_failures", LLMSettings.stop_after_call_failures, minimum=1, integer=True
            )
        ),
        outage_limit_s=_number(where, table, "outage_limit_s", LLMSettings.outage_limit_s, minimum=0.0),
        repeat_temperature_step=_number(
            where, table, "repeat_temperature_step", LLMSettings.repeat_temperature_step, minimum=0.0, maximum=1.0
        ),
        duplicates_shown=int(
            _number(where, table, "duplicates_shown", LLMSettings.duplicates_shown, minimum=0, maximum=20, integer=True)
        ),
    )
    if settings.selection == "weights" and not any(m.weight > 0 for m in models):
        raise LLMConfigError(f"{where}: llm.models: every weight is 0; give at least one model a positive weight")
    return settings


def _model(where: str, key: str, raw: Any) -> ModelSpec:
    if isinstance(raw, str):
        try:
            raw = parse_model_flag(raw)
        except LLMConfigError as exc:
            raise LLMConfigError(f"{where}: {key}: {exc}") from exc
    if not isinstance(raw, dict):
        raise LLMConfigError(f"{where}: {key}: expected a table with at least a name, or a NAME@URL string")
    unknown = sorted(set(raw) - _MODEL_KEYS)
    if unknown:
        raise LLMConfigError(f"{where}: unknown key {key}.{unknown[0]} (allowed: {', '.join(sorted(_MODEL_KEYS))})")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise LLMConfigError(f"{where}: {key}.name: expected the model's name, got {name!r}")
    for text_key in ("label", "base_url", "api_key_env"):
        if text_key in raw and (not isinstance(raw[text_key], str) or not raw[text_key].strip()):
            raise LLMConfigError(f"{where}: {key}.{text_key}: expected a non-empty string, got {raw[text_key]!r}")
    base_url = raw.get("base_url")
    if base_url is not None and not base_url.startswith(("http://", "https://")):
        raise LLMConfigError(f"{where}: {key}.base_url: {base_url!r} must start with http:// or https://")
    known = KNOWN_PRICES.get(name) if base_url is None or "api.openai.com" in base_url else None
    priced = "price_in" in raw or "price_out" in raw or known is not None
    spec = ModelSpec(
        name=name,
        label=raw.get("label", name),
        base_url=base_url.rstrip("/") if base_url else None,
        api_key_env=raw.get("api_key_env", DEFAULT_KEY_ENV),
        weight=_number(where, raw, "weight", 1.0, minimum=0.0, prefix=key),
        price_in=_number(where, raw, "price_in", known[0] if known else 0.0, minimum=0.0, prefix=key),
        price_out=_number(where, raw, "price_out", known[1] if known else 0.0, minimum=0.0, prefix=key),
        temperature=None
        if "temperature" not in raw
        else _number(where, raw, "temperature", 1.0, minimum=0.0, maximum=2.0, prefix=key),
        max_tokens=int(_number(where, raw, "max_tokens", ModelSpec.max_tokens, minimum=1, integer=True, prefix=key)),
        priced=priced,
    )
    return spec


def _first_duplicate(labels: list[str]) -> str:
    seen: set[str] = set()
    for label in labels:
        if label in seen:
            return label
        seen.add(label)
    return ""


def _number(
    where: str,
    table: dict[str, Any],
    key: str,
    default: float,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    integer: bool = False,
    prefix: str = "llm",
) -> float:
    value = table.get(key, default)
    name = f"{prefix}.{key}"
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise LLMConfigError(f"{where}: {name}: expected a number, got {value!r}")
    if integer and value != int(value):
        raise LLMConfigError(f"{where}: {name}: expected a whole number, got {value!r}")
    if minimum is not None and value < minimum:
        raise LLMConfigError(f"{where}: {name}: must be at least {minimum:g}, got {value!r}")
    if maximum is not None and value > maximum:
        raise LLMConfigError(f"{where}: {name}: must be at most {maximum:g}, got {value!r}")
    return float(value)


def _choice(where: str, table: dict[str, Any], key: str, allowed: tuple[str, ...], default: str) -> str:
    value = table.get(key, default)
    if value not in allowed:
        raise LLMConfigError(f"{where}: llm.{key}: {value!r} is not one of {', '.join(allowed)}")
    return str(value)


def _bool(where: str, table: dict[str, Any], key: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise LLMConfigError(f"{where}: llm.{key}: expected true or false, got {value!r}")
    return value


def llm_settings(problem: Problem, run_table: dict[str, Any]) -> LLMSettings | None:
    """The run's LLM settings (problem.toml's [llm] under the run's own), or None when no model is named."""
    toml = problem.root / "problem.toml"
    parse_settings(problem.llm, str(toml))  # errors name problem.toml and the key
    parse_settings(run_table, "the run's LLM settings (--llm / --llm-config)")
    return parse_settings(merged_table(problem.llm, run_table), f"{toml} with the run's LLM settings")
