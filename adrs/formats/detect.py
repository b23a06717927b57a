"""Which framework a problem folder was written for, decided from the files it holds.

Owns: the rules, and the one-line errors for folders that mix formats:
- problem.toml: adrs's own folder (it may name any initial program and evaluator);
- evaluator.py without problem.toml: OpenEvolve (initial_program.py, optional config.yaml);
- evaluate.py without problem.toml: ShinkaEvolve (initial.py, evaluate.py's main writes JSON files);
- instruction.md and environment/ without problem.toml: a Harbor task;
- Dockerfile and evaluate.sh, in the folder or in its evaluator/ folder, without problem.toml: a
  SkyDiscover container benchmark (an evaluator.py beside them is part of the image).

Must not: parse or import anything; only file names are looked at.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from adrs.formats.peer import ADRS, CONTAINER, HARBOR, OPENEVOLVE, SHINKA

__all__ = [
    "ADRS", "CONTAINER", "HARBOR", "OPENEVOLVE", "SHINKA", "MixedFormatError", "container_context", "detect_format",
]  # fmt: skip

OPENEVOLVE_EVALUATOR = "evaluator.py"
OPENEVOLVE_CONFIG = "config.yaml"
SHINKA_EVALUATOR = "evaluate.py"
HARBOR_INSTRUCTION = "instruction.md"
CONTAINER_FILES = ("Dockerfile", "evaluate.sh")


class MixedFormatError(ValueError):
    """A folder holding the files of two formats in a way that leaves the meaning open."""


def detect_format(root: Path) -> str:
    """adrs, openevolve, shinka, container or harbor; raises MixedFormatError naming the files that conflict."""
    toml = root / "problem.toml"
    oe_evaluator, oe_config, shinka_evaluator = (
        root / n for n in (OPENEVOLVE_EVALUATOR, OPENEVOLVE_CONFIG, SHINKA_EVALUATOR)
    )
    if toml.is_file():
        if oe_config.is_file():
            raise MixedFormatError(
                f"{oe_config}: OpenEvolve's config.yaml beside adrs's {toml.name}: both configure this folder;"
                " keep problem.toml (and move config.yaml away) or remove problem.toml to run it as an OpenEvolve "
                "folder"
            )
        if shinka_evaluator.is_file() and not oe_evaluator.is_file() and not _names_evaluator(toml):
            raise MixedFormatError(
                f"{shinka_evaluator}: ShinkaEvolve's evaluate.py beside adrs's {toml.name}, which expects evaluator.py;"
                " remove problem.toml to run it as a ShinkaEvolve folder, or name the evaluator in [problem] evaluator"
            )
        return ADRS
    container = _container_format(root, oe_evaluator, shinka_evaluator)
    if container is not None:
        return container
    if oe_evaluator.is_file() and shinka_evaluator.is_file():
        raise MixedFormatError(
            f"{shinka_evaluator}: this folder holds both OpenEvolve's evaluator.py and ShinkaEvolve's evaluate.py;"
            " keep one of them (or write a problem.toml naming the evaluator)"
        )
    if shinka_evaluator.is_file():
        if oe_config.is_file():
            raise MixedFormatError(
                f"{oe_config}: OpenEvolve's config.yaml in a ShinkaEvolve folder (evaluate.py); remove one of them"
            )
        if (root / "initial_program.py").is_file() and not (root / "initial.py").is_file():
            raise MixedFormatError(
                f"{root / 'initial_program.py'}: OpenEvolve's initial program beside ShinkaEvolve's evaluate.py;"
                " ShinkaEvolve's initial program is initial.py"
            )
        return SHINKA
    return OPENEVOLVE


def container_context(root: Path) -> Path | None:
    """The folder holding a SkyDiscover benchmark's Dockerfile and evaluate.sh: the folder, or its evaluator/."""
    for folder in (root, root / "evaluator"):
        if all((folder / name).is_file() for name in CONTAINER_FILES):
            return folder
    return None


def _container_format(root: Path, oe_evaluator: Path, shinka_evaluator: Path) -> str | None:
    if (root / HARBOR_INSTRUCTION).is_file() and (root / "environment").is_dir():
        for peer in (oe_evaluator, shinka_evaluator, *(root / n for n in CONTAINER_FILES)):
            if peer.is_file():
                raise MixedFormatError(
                    f"{peer}: a Harbor task (instruction.md, environment/) also holds {peer.name};"
                    " keep one format per folder"
                )
        return HARBOR
    context = container_context(root)
    if context is None:
        return None
    if context != root and (oe_evaluator.is_file() or shinka_evaluator.is_file()):
        other = oe_evaluator if oe_evaluator.is_file() else shinka_evaluator
        raise MixedFormatError(
            f"{other}: beside the container benchmark in {context.name}/ (Dockerfile, evaluate.sh); keep one evaluator"
        )
    return CONTAINER


def _names_evaluator(toml: Path) -> bool:
    try:
        data = tomllib.loads(toml.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return False  # load_problem reports the broken file itself
    problem = data.get("problem")
    return isinstance(problem, dict) and "evaluator" in problem
