"""Stand-ins for the few evaluator-side names of OpenEvolve and ShinkaEvolve, used in the worker.

An OpenEvolve evaluator imports `openevolve.evaluation_result.EvaluationResult`; a ShinkaEvolve one
imports `shinka.core.run_shinka_eval`. Where the real package is installed, it is used; where it is
not, these modules (written here from the frameworks' public contracts) answer those imports, so a
folder runs without installing its framework.

Owns: `install(format)`, which registers the stand-in modules for names that do not resolve.
Must not: shadow an installed package, or answer any other name.
"""

from __future__ import annotations

import importlib.util
import sys
import types

from adrs.formats.peer import OPENEVOLVE, SHINKA


def install(problem_format: str) -> None:
    """Register stand-in modules for the format's framework if it is not importable."""
    if problem_format == OPENEVOLVE and not _importable("openevolve"):
        from adrs.formats.standins import openevolve_api

        _register("openevolve", {})
        _register("openevolve.evaluation_result", {"EvaluationResult": openevolve_api.EvaluationResult})
    if problem_format == SHINKA and not _importable("shinka"):
        from adrs.formats.standins import shinka_api

        names = {"run_shinka_eval": shinka_api.run_shinka_eval, "save_json_results": shinka_api.save_json_results}
        _register("shinka", {})
        _register("shinka.core", names)
        _register("shinka.core.wrap_eval", names)


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _register(name: str, attributes: dict[str, object]) -> None:
    module = types.ModuleType(name, f"adrs's stand-in for {name} (the package is not installed)")
    module.__dict__.update(attributes)
    if "." not in name:
        module.__path__ = []  # a package, so its submodules import
    else:
        parent, _, child = name.rpartition(".")
        setattr(sys.modules[parent], child, module)
    sys.modules[name] = module
