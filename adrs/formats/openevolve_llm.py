"""OpenEvolve's `llm:` section of config.yaml, translated into adrs's [llm] table.

Owns: the mapping (models and their weights, primary_model/secondary_model, api_base, a key given
as ${VAR}, temperature, max_tokens, timeout, retries, retry_delay; section-level values apply to
every model that does not set its own, as in OpenEvolve) and the list of keys it cannot honour.
The table is validated later by adrs.mutate.llm.models like any problem.toml [llm] table.

Must not: read or keep the value of an API key: a key written in the file is reported, not used.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

_VARIABLE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
# Values OpenEvolve lets the section give to every model (those adrs has a place for).
_SHARED = ("api_base", "api_key", "temperature", "max_tokens")
_MODEL_KEYS = {"name", "weight", *_SHARED}
_SECTION_KEYS = {
    "models", "primary_model", "primary_model_weight", "secondary_model", "secondary_model_weight",
    "timeout", "retries", "retry_delay", *_SHARED,
}  # fmt: skip
_SECONDARY_WEIGHT = 0.2  # OpenEvolve's default weight of secondary_model


class LLMSectionError(ValueError):
    """An llm: section whose shape adrs cannot read (the message names the file and key)."""


def llm_table(path: Path, section: Any) -> tuple[dict[str, Any], list[str]]:
    """adrs's [llm] table (possibly without models) and the dotted keys not honoured."""
    if section is None:
        return {}, []
    if not isinstance(section, dict):
        raise LLMSectionError(f"{path}: llm: expected a mapping, got {section!r}")
    ignored = [f"llm.{k}" for k, v in section.items() if k not in _SECTION_KEYS and v is not None and v is not False]
    raw_models = section.get("models") or []
    if not isinstance(raw_models, list) or not all(isinstance(m, dict) for m in raw_models):
        raise LLMSectionError(f"{path}: llm.models: expected a list of mappings with a name each")
    entries: list[tuple[str, dict[str, Any]]] = [(f"llm.models[{i}]", dict(m)) for i, m in enumerate(raw_models)]
    if section.get("primary_model"):
        weight = section.get("primary_model_weight")
        entries.append(
            ("llm.primary_model", {"name": section["primary_model"], "weight": 1.0 if weight is None else weight})
        )
    if section.get("secondary_model"):
        weight = section.get("secondary_model_weight")
        weight = _SECONDARY_WEIGHT if weight is None else weight
        if weight > 0:  # OpenEvolve drops a secondary model of weight 0
            entries.append(("llm.secondary_model", {"name": section["secondary_model"], "weight": weight}))
    models = []
    for where, raw in entries:
        ignored += [f"{where}.{k}" for k, v in raw.items() if k not in _MODEL_KEYS and v is not None]
        for key in _SHARED:  # the section's value reaches models that do not set their own
            if raw.get(key) is None and section.get(key) is not None:
                raw[key] = section[key]
        models.append(_model(path, where, raw, ignored))
    _unique_labels(models)
    table: dict[str, Any] = {"models": models} if models else {}
    for ours, theirs in (("timeout_s", "timeout"), ("max_retries", "retries"), ("backoff_s", "retry_delay")):
        if section.get(theirs) is not None:
            table[ours] = section[theirs]
    if not models:
        ignored += [f"llm.{k}" for k in _SHARED if section.get(k) is not None]
    return table, ignored


def _model(path: Path, where: str, raw: dict[str, Any], ignored: list[str]) -> dict[str, Any]:
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise LLMSectionError(f"{path}: {where}.name: expected the model's name, got {name!r}")
    model: dict[str, Any] = {"name": name}
    if raw.get("weight") is not None:
        model["weight"] = raw["weight"]
    base = raw.get("api_base")
    if base is not None:
        if not isinstance(base, str) or not base.startswith(("http://", "https://")):
            raise LLMSectionError(f"{path}: {where}.api_base: expected an http(s) URL, got {base!r}")
        if "api.openai.com" not in base:
            model["base_url"] = base
    key = raw.get("api_key")
    if isinstance(key, str) and (match := _VARIABLE.match(key)):
        model["api_key_env"] = match.group(1)
    elif key is not None:
        ignored.append(
            f"{where}.api_key (a key written in the file; adrs reads keys from the environment: write ${{VAR}})"
        )
    for field in ("temperature", "max_tokens"):
        if raw.get(field) is not None:
            model[field] = raw[field]
    return model


def _unique_labels(models: list[dict[str, Any]]) -> None:
    """Two entries of one model name (different endpoints) get distinct labels, as adrs requires."""
    seen: dict[str, int] = {}
    for model in models:
        count = seen.get(model["name"], 0) + 1
        seen[model["name"]] = count
        if count > 1:
            model["label"] = f"{model['name']}#{count}"
