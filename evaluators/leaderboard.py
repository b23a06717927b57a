"""What programs written for the public ADRS leaderboard import, provided inside a candidate process.

Leaderboard programs import helper modules that the leaderboard ships beside them (`broadcast`
for cloudcast, `txn_simulator` and `workloads` for txn_scheduling, `solver` and `utils` for
llm_sql) and expect the types its evaluators pass (torch tensors, networkx graphs, pandas
DataFrames). A problem's driver calls, in the candidate's process:

- `provide_modules({name: factory})` before the program is imported: each name becomes importable
  and is built by its factory only when something imports it (so a native program pays for no
  pandas import), and only when no real module of that name is found first (a finder placed last
  on sys.meta_path never shadows an installed package). `module_factories` builds them from a
  problem's PEER_MODULES table (evaluators/<problem>/export.py, which adrs export reads too). The
  sandbox view of bwrap/docker candidates shows the folders of the packages a driver imports, so
  a source module in the same evaluators/<problem>/ folder is visible;
- `program_imports(module, package)` after the import: whether the program's source imports
  `package` anywhere, which decides the type handed to it (torch tensors instead of numpy
  arrays, a networkx DiGraph instead of a dict of dicts). `source_imports(path, package)` answers
  the same for a file, on the trusted side too (it only parses the text).

Mostly runs inside the candidate's process: nothing here is trusted for scoring (the evaluator
validates what comes back). Standard library only. Must not: import the packages it detects, or shadow a
module that is installed.
"""

from __future__ import annotations

import ast
import importlib
import importlib.abc
import importlib.machinery
import os
import stat
import sys
import types
from collections.abc import Callable, Mapping

ModuleFactory = Callable[[], Mapping[str, object]]
_MAX_SOURCE_BYTES = 4 * 1024 * 1024  # a program is source text; more is not parsed


def program_imports(module: types.ModuleType, package: str) -> bool:
    """True when the program's source names `package` in an import statement (anywhere in it)."""
    path = getattr(module, "__file__", None)
    return bool(path) and source_imports(path, package)


def source_imports(path: str, package: str) -> bool:
    """True when the Python file at `path` imports `package` (or one of its submodules).

    Decided from the source alone, not from sys.modules: a driver may have imported the package
    itself (eplb preloads torch so that its import time is not counted as policy time).
    """
    try:  # eplb's trusted evaluator asks this of the program file: a link or a FIFO is never followed
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return False
            tree = ast.parse(f.read(_MAX_SOURCE_BYTES))
    except (OSError, SyntaxError, ValueError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == package for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] == package:
            return True
    return False


def module_factories(peer_modules: Mapping[str, tuple[str, Mapping[str, str]]]) -> dict[str, ModuleFactory]:
    """Factories for a problem's PEER_MODULES ({name: (source module, {attribute: source attribute})},
    the table adrs export also reads): each imports its source module when first needed."""

    def factory(source: str, names: Mapping[str, str]) -> ModuleFactory:
        def build() -> dict[str, object]:
            module = importlib.import_module(source)
            return {alias: getattr(module, attribute) for alias, attribute in names.items()}

        return build

    return {name: factory(source, names) for name, (source, names) in peer_modules.items()}


def provide_modules(factories: Mapping[str, ModuleFactory]) -> None:
    """Make each name importable, built on first import from its factory's attributes."""
    sys.meta_path.append(_LastResortFinder(dict(factories)))


class _LastResortFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves the provided names, after every other finder (so real modules win)."""

    def __init__(self, factories: dict[str, ModuleFactory]):
        self._factories = factories

    def find_spec(self, name, path=None, target=None):
        if name not in self._factories:
            return None
        return importlib.machinery.ModuleSpec(name, self, origin=f"adrs leaderboard module {name!r}")

    def create_module(self, spec):
        return None  # the default module object

    def exec_module(self, module):
        module.__dict__.update(self._factories[module.__name__]())
