"""What an exported program needs to run in another system with nothing of adrs installed.

Owns: writing, beside `<stem>.py` (the program exactly as evaluated), the files that make it run
elsewhere, and the list of what to install there:
- the project modules the program imports (for example the spot problems' Strategy base class,
  `evaluators.cant_be_late.strategy`), copied under `evaluators/` with everything they import in
  turn; a package's `__init__.py` is reduced to a docstring unless a name is read from it;
- the leaderboard module names it imports (`broadcast`, `solver`, `sky_spot.utils`, ...): short
  modules re-exporting what adrs provides under those names (the problem's PEER_MODULES);
- the problem's host files, from its export recipe (`evaluators/<package>/export.py`, found
  through the imports of the problem's evaluator.py): `<stem>_example.py`, which runs the policy
  as its host system would, and adapters to a host's contract (eplb: `<stem>_vllm.py`);
- `<stem>.README.md` (from adrs/templates/export/README.md): how to plug it in and what to install.
Requirements = the top-level imports of every file written that are neither the standard library
nor written here, named by their installed distribution (with the version evaluated with).

Must not: change the program's text, import the program, or write outside `out`.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import importlib.util
import string
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

PACKAGE = "evaluators"  # the trusted project package whose modules an export may need
TEMPLATE = Path(__file__).parent / "templates" / "export" / "README.md"
POLICY_LINE = "POLICY_MODULE = "  # the line of an example/adapter template naming the policy module


class BundleError(ValueError):
    """Something the program needs cannot be written beside it (the message names it)."""


@dataclass(frozen=True)
class Requirement:
    name: str  # the distribution to install (pip name)
    version: str | None  # the version installed where the export was made
    needed_by: tuple[str, ...]  # file names (relative to the export folder) that import it

    def line(self) -> str:
        tested = f"  # evaluated with {self.version}" if self.version else ""
        return f"{self.name}{tested}"


@dataclass
class Bundle:
    module: Path
    readme: Path
    example: Path | None = None
    adapters: dict[str, Path] = field(default_factory=dict)
    support: list[Path] = field(default_factory=list)  # bundled project modules and shims
    requirements: list[Requirement] = field(default_factory=list)

    def files(self) -> list[Path]:
        return [
            self.module,
            self.readme,
            *([self.example] if self.example else []),
            *self.adapters.values(),
            *self.support,
        ]


@dataclass(frozen=True)
class Recipe:
    """A problem's export recipe: read from the module constants of evaluators/<package>/export.py."""

    host: str = "your system"
    usage: str = "Import the module and call its entry point as the problem's README describes."
    example: str | None = None  # template module written as <stem>_example.py
    adapters: dict[str, str] = field(default_factory=dict)  # suffix -> template module (<stem>_<suffix>.py)
    peer_modules: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)

    @classmethod
    def from_module(cls, module: ModuleType) -> Recipe:
        return cls(
            host=getattr(module, "HOST", cls.host),
            usage=getattr(module, "USAGE", cls.usage),
            example=getattr(module, "EXAMPLE", None),
            adapters=dict(getattr(module, "ADAPTERS", {})),
            peer_modules={k: (m, dict(names)) for k, (m, names) in getattr(module, "PEER_MODULES", {}).items()},
        )


def find_recipe(problem_root: Path) -> Recipe:
    """The recipe of the first `evaluators.<package>` the problem's evaluator imports that has one."""
    evaluator = Path(problem_root) / "evaluator.py"
    names = imported_modules(evaluator.read_text(), "") if evaluator.exists() else []
    for package in dict.fromkeys(n.split(".")[1] for n in names if n.startswith(f"{PACKAGE}.") and n.count(".") >= 1):
        recipe = f"{PACKAGE}.{package}.export"
        if _spec(recipe) is not None:
            return Recipe.from_module(importlib.import_module(recipe))
    return Recipe()


def write_bundle(problem_root: Path, problem_name: str, code: str, stem: str, out: Path, notes: dict) -> Bundle:
    """Write `<stem>.py` (exactly `code`) and everything it needs elsewhere into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    recipe = find_recipe(problem_root)
    module = out / f"{stem}.py"
    module.write_text(code)
    bundle = Bundle(module=module, readme=out / f"{stem}.README.md")
    written: dict[str, str] = {module.name: code}  # file name -> source, for the requirements
    if recipe.example:
        bundle.example = out / f"{stem}_example.py"
        written[bundle.example.name] = _instantiate(recipe.example, stem, bundle.example)
    for suffix, template in recipe.adapters.items():
        path = out / f"{stem}_{suffix}.py"
        bundle.adapters[suffix] = path
        written[path.name] = _instantiate(template, stem, path)

    shims = _peer_shims(code, recipe, out)
    bundle.support.extend(shims)
    written.update({str(p.relative_to(out)): p.read_text() for p in shims})
    copied = _copy_project_modules(written, out)
    bundle.support.extend(copied)
    written.update({str(p.relative_to(out)): p.read_text() for p in copied})
    local = {_top(str(p.relative_to(out))) for p in bundle.files()}
    bundle.requirements = _requirements(written, local, program=module.name)
    _write_readme(bundle, recipe, problem_name, stem, out, notes)
    return bundle


# --- imports -----------------------------------------------------------------------------------


def imported_modules(source: str, package: str, *, lazy: bool = True) -> list[str]:
    """Absolute names of what `source` imports (with `from a import b`, also a.b), in order.

    Imports under `if TYPE_CHECKING:` are skipped: they never run. With lazy=False, so are the
    imports inside functions (the optional paths of the bundled helpers, such as networkx for a
    policy that uses it).
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names: list[str] = []
    for node in _runtime_nodes(tree, lazy):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - (node.level - 1)] if package else []
                base = ".".join([*parts, base] if base else parts)
            if base:
                names.append(base)
                names.extend(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return list(dict.fromkeys(names))


def _runtime_nodes(tree: ast.AST, lazy: bool = True):
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        if not lazy and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _top(name: str) -> str:
    return name.split("/")[0].split(".")[0]


def _spec(name: str):
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError, AttributeError):
        return None


# --- files written -----------------------------------------------------------------------------


def _instantiate(template_module: str, stem: str, path: Path) -> str:
    """A template module's source with its POLICY_MODULE line naming the exported module."""
    spec = _spec(template_module)
    if spec is None or not spec.origin:
        raise BundleError(f"export template {template_module} not found")
    lines = Path(spec.origin).read_text().splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith(POLICY_LINE):
            lines[i] = f'{POLICY_LINE}"{stem}"  # the exported policy, beside this file\n'
            break
    else:
        raise BundleError(f"export template {template_module} has no {POLICY_LINE.strip()} line")
    text = "".join(lines)
    path.write_text(text)
    return text


def _peer_shims(code: str, recipe: Recipe, out: Path) -> list[Path]:
    """Modules under the leaderboard's names that the program imports, re-exporting adrs's own."""
    imported = set(imported_modules(code, ""))
    wanted = [name for name in recipe.peer_modules if name in imported]
    written: list[Path] = []
    for name in wanted:
        source, names = recipe.peer_modules[name]
        parts = name.split(".")
        for depth in range(1, len(parts)):  # parent packages of a dotted name
            init = out.joinpath(*parts[:depth], "__init__.py")
            if not init.exists():
                init.parent.mkdir(parents=True, exist_ok=True)
                init.write_text(
                    f'"""{".".join(parts[:depth])}: written by adrs export for the leaderboard\'s import names."""\n'
                )
                written.append(init)
        path = out.joinpath(*parts[:-1], parts[-1] + ".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        imports = ", ".join(attr if attr == alias else f"{attr} as {alias}" for alias, attr in names.items())
        path.write_text(
            f'"""`{name}` as the leaderboard\'s programs import it, provided by adrs (written by adrs export)."""\n\n'
            f"from {source} import {imports}  # noqa: F401\n"
        )
        written.append(path)
    return written


def _copy_project_modules(written: dict[str, str], out: Path) -> list[Path]:
    """Copy every module of PACKAGE that the written files import, transitively, under out/."""
    root_spec = _spec(PACKAGE)
    if root_spec is None or not root_spec.submodule_search_locations:
        return []
    root = Path(list(root_spec.submodule_search_locations)[0])
    modules: dict[str, Path] = {}  # module name -> source file
    full_inits: set[str] = set()  # packages whose names are read: their real __init__ is copied
    queue = [(source, "") for source in written.values()]
    while queue:
        source, package = queue.pop()
        for name in imported_modules(source, package):
            if not (name == PACKAGE or name.startswith(PACKAGE + ".")):
                continue
            spec = _spec(name)
            if spec is None or not spec.origin or not spec.origin.endswith(".py"):
                continue  # `from package import name`: a name, not a module (see below)
            if spec.submodule_search_locations:  # a package: its __init__ runs; keep it only if read
                if _reads_package_names(source, name, package):
                    full_inits.add(name)
                continue
            if name not in modules:
                modules[name] = Path(spec.origin)
                queue.append((Path(spec.origin).read_text(), name.rpartition(".")[0]))
        for name in list(full_inits):
            if name not in modules:
                init = Path(_spec(name).origin)
                modules[name] = init
                queue.append((init.read_text(), name))
    copied: list[Path] = []
    for _, origin in sorted(modules.items()):
        target = out / origin.relative_to(root.parent)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(origin.read_text())
        copied.append(target)
    for name in sorted({".".join(n.split(".")[:i]) for n in modules for i in range(1, n.count(".") + 1)}):
        init = out.joinpath(*name.split("."), "__init__.py")
        if name not in modules and not init.exists():
            init.parent.mkdir(parents=True, exist_ok=True)
            init.write_text(f'"""{name}: only the modules an exported program needs (copied by adrs export)."""\n')
            copied.append(init)
    return copied


def _reads_package_names(source: str, package_name: str, importer_package: str) -> bool:
    """True when `source` takes a non-module name from `package_name` or imports it as a whole."""
    for node in _runtime_nodes(ast.parse(source)):
        if isinstance(node, ast.Import) and any(a.name == package_name for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = importer_package.split(".")[: len(importer_package.split(".")) - (node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            if base == package_name and any(_spec(f"{base}.{a.name}") is None for a in node.names):
                return True
    return False


def _requirements(written: dict[str, str], local: set[str], program: str) -> list[Requirement]:
    """Third-party top-level imports of the written files, as installable distributions: all of
    the program's, the module-level ones of the files written with it."""
    needed: dict[str, list[str]] = {}
    for file_name, source in written.items():
        for name in imported_modules(source, "", lazy=file_name == program):
            top = name.split(".")[0]
            if top in sys.stdlib_module_names or top in local or top == "__future__":
                continue
            needed.setdefault(top, [])
            if file_name not in needed[top]:
                needed[top].append(file_name)
    distributions = importlib.metadata.packages_distributions()
    out: dict[str, Requirement] = {}
    for top, files in sorted(needed.items()):
        dist = (distributions.get(top) or [top])[0]
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            version = None
        previous = out.get(dist)
        merged = tuple(dict.fromkeys([*(previous.needed_by if previous else ()), *files]))
        out[dist] = Requirement(dist, version, merged)
    return list(out.values())


def _write_readme(bundle: Bundle, recipe: Recipe, problem_name: str, stem: str, out: Path, notes: dict) -> None:
    requirements = (
        "\n".join(
            f"- `{r.name}`" + (f" ({r.version} when exported)" if r.version else "") + f": {', '.join(r.needed_by)}"
            for r in bundle.requirements
        )
        or "- nothing beyond the Python standard library"
    )
    pip_line = " ".join(r.name for r in bundle.requirements)
    support = sorted({str(p.relative_to(out)).split("/")[0] for p in bundle.support})
    values = {
        "stem": stem,
        "module": stem,
        "problem": problem_name,
        "host": recipe.host,
        "usage": string.Template(recipe.usage).safe_substitute(module=stem, stem=stem),
        "requirements": requirements,
        "install": f"pip install {pip_line}" if pip_line else "(nothing to install)",
        "example": f"`python {bundle.example.name}` (from this folder) runs the policy on a small input as "
        f"{recipe.host} would."
        if bundle.example
        else "No example: see the problem's README for the entry point.",
        "adapters": "\n".join(f"- `{p.name}`" for p in bundle.adapters.values()) or "- none",
        "support": ", ".join(f"`{s}`" for s in support) or "none",
        "adrs_note": "It imports adrs, so adrs is among the requirements."
        if any(r.name == "adrs" for r in bundle.requirements)
        else "It imports nothing from adrs.",
        "score": notes.get("score", "n/a"),
        "provenance": notes.get("provenance", f"{stem}.json"),
    }
    bundle.readme.write_text(string.Template(TEMPLATE.read_text()).safe_substitute(values))
