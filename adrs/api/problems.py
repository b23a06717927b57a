"""Problem directories: check one, score a program against it, write a new one, list them.

    import adrs
    report = adrs.check_problem("problems/prism")            # `adrs check`
    stages = adrs.evaluate_program("problems/prism", "p.py")  # `adrs eval`
    adrs.init_problem("problems/mine")                      # `adrs init`
    entries = adrs.list_problems()                          # `adrs problems`

Owns: the records these return (`CheckReport`, `CheckedProgram`, `ProblemEntry`) and the checks a
problem must pass before it is evolved (the initial program passes every stage, the objectives
and features named in problem.toml are among the evaluator's metrics), naming a module the
evaluator or the initial program imports that is not installed; and what `adrs check` notes or
warns about without failing: an initial program without EVOLVE-BLOCK markers (evolvable as a
whole), an offline mutator that finds (almost) nothing to change in it, and a candidate time limit
longer than the shortest stage.

Must not: open an archive, or render anything (the CLI does).
"""

from __future__ import annotations

import random
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from adrs import sandbox as backends
from adrs.evaluate.result import Evaluation
from adrs.evaluate.runner import EvalSettings, evaluate_code_sync, evaluate_file_sync, sandbox_name
from adrs.formats import container_stage
from adrs.formats.scoring import check_notes
from adrs.problem import Problem, ProblemError, load_problem
from adrs.problemkit import failures
from adrs.program import END_MARKER, START_MARKER, normalized_hash

MUTATOR_PROBE_TRIES = 20  # offline proposals `adrs check` tries on the initial program
MUTATOR_PROBE_MINIMUM = 3  # distinct children below which a run without an LLM soon runs dry
_MISSING_MODULE = re.compile(r"No module named '([^']+)'")

SKELETON = Path(__file__).resolve().parents[1] / "templates" / "skeleton"


@dataclass(frozen=True)
class CheckedProgram:
    """One program of a problem (the initial program, a baseline) and its evaluations, stage by stage."""

    label: str  # its path inside the problem directory: initial.py, baselines/<name>.py
    evaluations: list[Evaluation]

    @property
    def failed(self) -> Evaluation | None:
        """The first stage that failed, if any."""
        return next((e for e in self.evaluations if not e.ok), None)


@dataclass(frozen=True)
class CheckReport:
    """`adrs check`: the initial program, then (only when it passes) the baselines."""

    problem: Problem
    initial: CheckedProgram
    baselines: list[CheckedProgram] = field(default_factory=list)
    unknown_names: list[str] = field(default_factory=list)  # problem.toml names the evaluator does not report
    missing_module: str = ""  # when the initial program failed on an import: what is missing, and how to add it
    notes: list[str] = field(
        default_factory=list
    )  # worth knowing, not wrong: no EVOLVE-BLOCK markers; how a peer folder is read
    warnings: list[str] = field(default_factory=list)  # likely to hurt a run, but not an error

    @property
    def ok(self) -> bool:
        return self.initial.failed is None and not self.unknown_names


@dataclass(frozen=True)
class ProblemEntry:
    """One problem directory of a folder, or why it does not load (then `error` says so)."""

    directory: Path
    name: str
    summary: str = ""  # the first line of the description
    baselines: list[tuple[str, float | None]] = field(default_factory=list)  # (stem, published score)
    error: str | None = None


def require_sandbox(problem: Problem, sandbox: str | None = None) -> None:
    """Fail before anything runs when the chosen sandbox (`sandbox`, else the problem's) cannot work
    here: SandboxUnavailable says why and what to use instead. A container-format folder also
    needs its image: it is built here, once per content (a ProblemError carries the build log's tail)."""
    if container_stage.is_container_problem(problem):
        container_stage.require(problem, sandbox)
        return
    backends.require(sandbox_name(problem, EvalSettings(sandbox=sandbox)))


def sandbox_line(problem: Problem | str | Path, sandbox: str | None = None) -> str:
    """What the backend in force for this problem's candidates (`sandbox`, else the problem's, else
    the default) enforces here, in one line: the run header, `adrs eval`, `adrs check` print it."""
    problem = problem if isinstance(problem, Problem) else load_problem(problem)
    return backends.describe(sandbox_name(problem, EvalSettings(sandbox=sandbox)))


def default_sandbox_line() -> str:
    """`sandbox_line` for a problem that names no backend (`adrs doctor` prints it)."""
    return backends.describe(backends.default_name())


def check_problem(
    problem: str | Path | Problem,
    *,
    sandbox: str | None = None,
    data_dir: str | None = None,
    on_program: Callable[[CheckedProgram], None] | None = None,
    warm: bool = True,
) -> CheckReport:
    """Evaluate the initial program through every stage, check that the objectives and features of
    problem.toml are among its metrics, then evaluate each baseline. `on_program` hears each program
    as soon as it is scored (baselines can take a while)."""
    problem = problem if isinstance(problem, Problem) else load_problem(problem)
    require_sandbox(problem, sandbox)
    settings = EvalSettings(data_dir=data_dir, sandbox=sandbox, warm=warm)
    heard = on_program or (lambda _checked: None)
    notes = _notes(problem)
    if problem.initial_source is not None:  # kept inside another file (a Harbor task's solve.sh writes it)
        first = evaluate_code_sync(problem, problem.initial_source, settings, problem.stages)
    else:  # read here, so bytes that are not UTF-8 are a syntax failure naming the file
        first = evaluate_file_sync(problem, problem.initial_path, settings, problem.stages)
    # After the first evaluation: the offline mutator's import and its probe (30-60 ms) would
    # otherwise hold back the first worker; the warnings are printed after the evaluations anyway.
    warnings = _warnings(problem)
    initial = CheckedProgram(problem.initial_path.name, first)
    heard(initial)
    if initial.failed is not None:
        return CheckReport(
            problem, initial, missing_module=_missing_module(problem, initial.failed), notes=notes, warnings=warnings
        )
    notes += check_notes(problem, initial.evaluations)
    unknown = _unknown_names(problem, initial.evaluations[-1])
    if unknown:
        return CheckReport(problem, initial, unknown_names=unknown, notes=notes, warnings=warnings)
    baselines = []
    for path in problem.baselines():
        checked = CheckedProgram(f"baselines/{path.name}", evaluate_file_sync(problem, path, settings, problem.stages))
        heard(checked)
        baselines.append(checked)
    return CheckReport(problem, initial, baselines, notes=notes, warnings=warnings)


def _notes(problem: Problem) -> list[str]:
    if START_MARKER in problem.initial_code():
        return []
    return [
        f"{problem.initial_path.name} has no EVOLVE-BLOCK markers: the whole file is evolvable. To keep parts of it "
        f"fixed, put the evolvable part between '# {START_MARKER}' and '# {END_MARKER}' lines."
    ]


def _warnings(problem: Problem) -> list[str]:
    out = []
    distinct = offline_children(problem.initial_code())
    if distinct < MUTATOR_PROBE_MINIMUM:
        found = "nothing" if distinct == 0 else f"only {distinct} distinct change(s)"
        out.append(
            f"the offline mutator found {found} to make in {problem.initial_path.name} in {MUTATOR_PROBE_TRIES} tries: "
            "a run without an LLM would soon stop (every proposal a duplicate). Give the EVOLVE block constants, "
            "expressions and statements to vary, or run with --llm."
        )
    shortest = min(problem.stages, key=lambda s: s.timeout_s)
    if problem.limits.candidate_timeout_s > shortest.timeout_s:
        out.append(
            f"{problem.root / 'problem.toml'}: limits.candidate_timeout_s ({problem.limits.candidate_timeout_s:g} s) "
            f"is "
            f"longer than stage {shortest.name!r} ({shortest.timeout_s:g} s): a candidate that hangs there is cut by "
            "the stage's limit instead, which fails the whole stage as a timeout. Keep it at most the shortest "
            "stage's timeout_s, or pass a shorter limit to run_candidate(s) in that stage."
        )
    return out


def offline_children(code: str, tries: int = MUTATOR_PROBE_TRIES) -> int:
    """How many distinct children the offline mutator makes of `code` in `tries` seeded proposals."""
    from adrs.mutate.offline import OfflineMutator

    mutator, rng = OfflineMutator(), random.Random(0)
    children = set()
    for _ in range(tries):
        mutation = mutator.propose(code, [], rng)
        if mutation is not None:
            children.add(normalized_hash(mutation.code))
    children.discard(normalized_hash(code))
    return len(children)


def _missing_module(problem: Problem, failed: Evaluation) -> str:
    """What to say when a stage failed on `import` of a package that is not installed, else ""."""
    match = _MISSING_MODULE.search(failed.error)
    if match is None or ("ModuleNotFoundError" not in failed.error and failed.error_kind != failures.IMPORT):
        return ""
    package = match.group(1).split(".")[0]
    who = (
        problem.evaluator_path.name + " (or a module it imports)"
        if failed.error_kind == failures.EVALUATOR
        else problem.initial_path.name
    )
    return (
        f"{who} imports the module {package!r}, which is not installed in the Python that runs adrs "
        f"({sys.executable}). "
        f"Install it there, e.g. uv pip install --python {sys.executable} {package} "
        "(docs/problem-authoring.md, 'Dependencies of an evaluator')."
    )


def _unknown_names(problem: Problem, evaluation: Evaluation) -> list[str]:
    known = set(evaluation.metrics) | {"score"}
    out = [
        f"objective {o.name!r} is not among the evaluator's metrics {sorted(known)}"
        for o in problem.objectives
        if o.name not in known
    ]
    feature_names = known | set(evaluation.features) | {"code_lines"}  # code_lines: measured by the archive
    out += [
        f"feature {f.name!r} is not among the evaluator's metrics or features"
        for f in problem.features
        if f.name not in feature_names
    ]
    return out


def evaluate_program(
    problem: str | Path | Problem,
    program: str | Path,
    *,
    stage: str | None = None,
    seed: int = 0,
    sandbox: str | None = None,
    data_dir: str | None = None,
    warm: bool = True,
) -> list[Evaluation]:
    """Score one program file with the engine's sandbox: one `stage`, or the evolution cascade
    (`warm`: workers forked by a pre-started server; False: a fresh interpreter per stage)."""
    problem = problem if isinstance(problem, Problem) else load_problem(problem)
    program = Path(program)
    if not program.is_file():
        raise ProblemError(f"{program}: no such program file")
    stages = (problem.stage(stage),) if stage else None
    require_sandbox(problem, sandbox)
    settings = EvalSettings(seed=seed, data_dir=data_dir, sandbox=sandbox, warm=warm)
    return evaluate_file_sync(problem, program, settings, stages)  # bytes that are not UTF-8: a syntax failure


def init_problem(directory: str | Path) -> Path:
    """Write a working problem skeleton (initial program, evaluator, driver, a baseline) in `directory`."""
    target = Path(directory)
    if target.exists() and any(target.iterdir()):
        raise ProblemError(f"{target}: exists and is not empty; choose a new directory")
    shutil.copytree(SKELETON, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    name = target.resolve().name
    for path in (target / "problem.toml", target / "README.md"):
        path.write_text(path.read_text().replace("{name}", name))
    return target


def problems_dir(explicit: str | Path | None = None) -> Path:
    """The folder of problem directories: `explicit`, else ./problems, else the source tree's."""
    if explicit:
        return Path(explicit)
    local = Path("problems")
    return local if local.is_dir() else Path(__file__).resolve().parents[2] / "problems"


def list_problems(folder: str | Path | None = None) -> list[ProblemEntry]:
    """Every problem directory of `folder` (see `problems_dir`), sorted by directory name."""
    entries = []
    for directory in sorted(p for p in problems_dir(folder).iterdir() if (p / "problem.toml").exists()):
        try:
            problem = load_problem(directory)
        except ProblemError as exc:
            entries.append(ProblemEntry(directory, directory.name, error=str(exc)))
            continue
        baselines = [(path.stem, problem.references.get(f"baselines/{path.name}")) for path in problem.baselines()]
        summary = problem.description.strip().splitlines()[0] if problem.description.strip() else ""
        entries.append(ProblemEntry(directory, problem.name, summary, baselines))
    return entries
