"""A Harbor task folder (instruction.md, environment/Dockerfile, tests/test.sh, task.toml) as an adrs Problem.

What evolves: the one Python file the task's reference solution writes. Harbor's oracle agent
runs `solution/solve.sh`, which in most published tasks writes the answer file with a heredoc
(`cat > /app/solution.py << 'EOF' ... EOF`) or copies it from solution/ (`cp /solution/x.py
/app/`); that file's text is the initial program, and its path (relative ones resolved against the
script's `cd` or the Dockerfile's WORKDIR) is where each candidate is put. Then, as Harbor's
verifier does, `tests/` is copied to /tests and `bash /tests/test.sh` runs from the image's working
directory; the score is /logs/verifier/reward.txt, else reward.json (container_scoring.py).

Owns: finding the evolvable file (`solution_file`), task.toml's honoured keys

    verifier.timeout_sec            -> the stage's timeout (Harbor's default 600 s)
    verifier.env, verifier.user     -> test.sh's environment and user
    environment.cpus/memory_mb/storage_mb (or memory/storage as "4G") -> the container's limits
    environment.build_timeout_sec   -> the image build's timeout

and one warning naming what is present but not honoured (a prebuilt `docker_image`, GPUs, MCP
servers, `allow_internet = true`: evaluations never have a network).

Must not: build the image or run anything (container_stage.py does).
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from adrs.formats.detect import HARBOR_INSTRUCTION
from adrs.formats.peer import HARBOR, ContainerSpec, PeerFolder
from adrs.problem import Objective, Problem, ProblemError, ProblemLimits, Resources, Stage
from adrs.sandbox import images

STAGE = "verifier"
TEST_COMMAND = "if command -v bash >/dev/null 2>&1; then exec bash /tests/test.sh; fi; exec sh /tests/test.sh"
LOG_DIRS = ("/logs/verifier", "/logs/agent", "/logs/artifacts")
# Harbor's defaults (its task.toml reference)
TIMEOUT_S, CPUS, MEMORY_MB, STORAGE_MB, BUILD_TIMEOUT_S = 600.0, 1.0, 2048, 10240, 600.0
_UNITS = {"": 1 / (1 << 20), "B": 1 / (1 << 20), "K": 1 / 1024, "M": 1, "G": 1024, "T": 1 << 20}
_HEREDOC = re.compile(
    r"""\bcat\s+(?:>\s*(?P<path1>\S+)\s*<<(?P<dash1>-?)\s*(?P<quote1>['"]?)(?P<tag1>\w+)(?P=quote1)"""
    r"""|<<(?P<dash2>-?)\s*(?P<quote2>['"]?)(?P<tag2>\w+)(?P=quote2)\s*>\s*(?P<path2>\S+))"""
)
_COPY = re.compile(r"""\bcp\s+(?:-\w+\s+)*(?P<source>\S+)\s+(?P<target>\S+)\s*$""")
_CD = re.compile(r"""^\s*cd\s+(?P<folder>\S+)\s*(?:&&.*)?$""")


@dataclass(frozen=True)
class SolutionFile:
    path: str  # absolute, inside the container
    text: str  # the reference's content: the initial program


def load_harbor(root: Path) -> Problem:
    instruction = root / HARBOR_INSTRUCTION
    dockerfile = root / "environment" / "Dockerfile"
    if not dockerfile.is_file():
        compose = root / "environment" / "docker-compose.yaml"
        extra = " (docker-compose environments are not supported)" if compose.exists() else ""
        raise ProblemError(f"{root / 'environment'}: no Dockerfile{extra}; adrs builds environment/Dockerfile")
    test_sh = root / "tests" / "test.sh"
    if not test_sh.is_file():
        raise ProblemError(f"{root / 'tests'}: no test.sh (Harbor's verifier entry point)")
    settings = _task_toml(root / "task.toml")
    solution = solution_file(root, dockerfile)
    recipe = images.recipe(HARBOR, root / "environment", dockerfile, settings.build_timeout_s)
    spec = ContainerSpec(
        image=recipe,
        argv=("/bin/sh", "-c", TEST_COMMAND),
        solution_path=solution.path,
        folders={"/tests": root / "tests"},
        empty_dirs=LOG_DIRS,
        env=settings.env,
        user=settings.user,
        host_runtime=recipe.on_host_runtime,
        memory_mb=settings.memory_mb,
        cpus=settings.cpus,
        disk_mb=settings.storage_mb,
    )
    from adrs.formats.container import container_note

    notes = (
        f"the candidate is {solution.path}, the file solution/solve.sh writes (its text is the initial program);"
        " then bash /tests/test.sh runs in the image's working directory",
        "score: /logs/verifier/reward.txt, else reward.json ('reward', else 'score', else its first number)",
        container_note(spec, settings.timeout_s),
    )
    return Problem(
        root=root,
        name=root.name,
        description=_read(instruction),
        initial_path=root / "solution" / "solve.sh",
        initial_source=solution.text,
        evaluator_path=test_sh,
        objectives=(Objective("score", "max"),),
        features=(),
        stages=(Stage(STAGE, timeout_s=settings.timeout_s),),
        limits=ProblemLimits(),
        score_metric="reward",
        sandbox="docker",
        resources=Resources(cpus=settings.cpus, memory_mb=settings.memory_mb),
        peer=PeerFolder(
            format=HARBOR, entry_points={STAGE: STAGE}, warnings=settings.warnings, notes=notes, container=spec
        ),
    )


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ProblemError(f"{path}: cannot read: {exc}") from exc


# solution/solve.sh ----------------------------------------------------------------------------


def solution_file(root: Path, dockerfile: Path) -> SolutionFile:
    """The one Python file solve.sh writes, with the reference's text; ProblemError naming solve.sh otherwise."""
    solve = root / "solution" / "solve.sh"
    if not solve.is_file():
        raise ProblemError(
            f"{solve}: missing; adrs evolves the file a Harbor task's reference solution writes,"
            " and starts from its text"
        )
    lines = _read(solve).splitlines()
    written: list[SolutionFile] = []
    unresolved: list[str] = []  # paths made of shell variables
    folder = _workdir(dockerfile)
    index = 0
    while index < len(lines):
        line = lines[index]
        if (cd := _CD.match(line)) and cd.group("folder").startswith("/"):
            folder = cd.group("folder").strip("'\"")
        if heredoc := _HEREDOC.search(line):
            path, dash, tag = (
                heredoc.group("path1", "dash1", "tag1")
                if heredoc.group("tag1")
                else heredoc.group("path2", "dash2", "tag2")
            )
            body, index = _heredoc_body(lines, index + 1, tag, bool(dash))
            _add(written, unresolved, path, folder, body)
            continue
        if (copy := _COPY.search(line)) and (
            source := root / "solution" / PurePosixPath(copy.group("source").strip("'\"")).name
        ).is_file():
            target = copy.group("target").strip("'\"")
            if target.endswith("/") or not PurePosixPath(target).suffix:
                target = f"{target.rstrip('/')}/{source.name}"
            _add(written, unresolved, target, folder, _read(source))
        index += 1
    python = [w for w in written if w.path.endswith(".py")]
    if len(python) == 1:
        return python[0]
    if python:
        raise ProblemError(
            f"{solve}: writes {len(python)} Python files ({', '.join(w.path for w in python)}); adrs evolves one file"
        )
    paths = [w.path for w in written] + unresolved
    others = f" (it writes {', '.join(paths)})" if paths else ""
    raise ProblemError(
        f"{solve}: writes no Python file adrs can find{others}: adrs evolves one Python file, written by solve.sh as"
        " `cat > /path/file.py << 'EOF'` ... `EOF` or copied from solution/ with `cp`"
    )


def _heredoc_body(lines: list[str], start: int, tag: str, strip_tabs: bool) -> tuple[str, int]:
    for end in range(start, len(lines)):
        line = lines[end].lstrip("\t") if strip_tabs else lines[end]
        if line.strip() == tag:
            body = lines[start:end]
            return "".join(f"{b.lstrip(chr(9)) if strip_tabs else b}\n" for b in body), end + 1
    return "".join(f"{b}\n" for b in lines[start:]), len(lines)


def _add(written: list[SolutionFile], unresolved: list[str], path: str, folder: str, text: str) -> None:
    path = path.strip("'\"")
    if "$" in path or "`" in path:
        unresolved.append(f"{path} (a path made of shell variables)")
    else:
        written.append(SolutionFile(path if path.startswith("/") else str(PurePosixPath(folder) / path), text))


def _workdir(dockerfile: Path) -> str:
    """The image's working directory as its Dockerfile's last WORKDIR says (relative ones stack)."""
    folder = "/"
    for line in _read(dockerfile).splitlines():
        words = line.split()
        if len(words) >= 2 and words[0].upper() == "WORKDIR":
            folder = str(PurePosixPath(folder) / words[1].strip("'\""))
    return folder


# task.toml ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskSettings:
    timeout_s: float = TIMEOUT_S
    env: dict[str, str] | None = None
    user: str | None = None
    cpus: float = CPUS
    memory_mb: int = MEMORY_MB
    storage_mb: int = STORAGE_MB
    build_timeout_s: float = BUILD_TIMEOUT_S
    warnings: tuple[str, ...] = ()


def _task_toml(path: Path) -> TaskSettings:
    if not path.is_file():
        return TaskSettings(env={})
    try:
        data = tomllib.loads(_read(path))
    except tomllib.TOMLDecodeError as exc:
        raise ProblemError(f"{path}: invalid TOML: {exc}") from exc
    verifier, environment = _table(path, data, "verifier"), _table(path, data, "environment")
    env = verifier.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(v, str | int | float) for v in env.values()):
        raise ProblemError(f"{path}: verifier.env: expected a table of strings, got {env!r}")
    user = verifier.get("user")
    if user is not None and not isinstance(user, str | int):
        raise ProblemError(f"{path}: verifier.user: expected a user name or id, got {user!r}")
    cpus = _positive(path, "environment.cpus", environment.get("cpus", CPUS))
    if cpus > 1 and not cpus.is_integer():
        raise ProblemError(f"{path}: environment.cpus: expected 0 to 1 or a whole number, got {cpus!r}")
    ignored = []
    if environment.get("docker_image"):
        ignored.append("environment.docker_image (adrs builds environment/Dockerfile)")
    if environment.get("gpus"):
        ignored.append("environment.gpus")
    if environment.get("allow_internet") is True:
        ignored.append("environment.allow_internet = true (evaluations never have a network)")
    if environment.get("mcp_servers"):
        ignored.append("environment.mcp_servers")
    warnings = (f"{path}: not honoured by adrs, ignored: {', '.join(ignored)}",) if ignored else ()
    return TaskSettings(
        timeout_s=_positive(path, "verifier.timeout_sec", verifier.get("timeout_sec", TIMEOUT_S)),
        env={str(k): str(v) for k, v in env.items()},
        user=None if user is None else str(user),
        cpus=cpus,
        memory_mb=_megabytes(path, environment, "memory", MEMORY_MB),
        storage_mb=_megabytes(path, environment, "storage", STORAGE_MB),
        build_timeout_s=_positive(
            path, "environment.build_timeout_sec", environment.get("build_timeout_sec", BUILD_TIMEOUT_S)
        ),
        warnings=warnings,
    )


def _table(path: Path, data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ProblemError(f"{path}: [{key}] must be a table")
    return value


def _positive(path: Path, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise ProblemError(f"{path}: {key}: expected a positive number, got {value!r}")
    return float(value)


def _megabytes(path: Path, table: dict[str, Any], name: str, default: int) -> int:
    """`<name>_mb` as a number, or `<name>` as a size such as "4G" (Harbor's older spelling)."""
    if f"{name}_mb" in table:
        return int(_positive(path, f"environment.{name}_mb", table[f"{name}_mb"]))
    if name not in table:
        return default
    size = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*", str(table[name]), re.IGNORECASE)
    if size is None or isinstance(table[name], bool):
        raise ProblemError(f'{path}: environment.{name}: expected a size such as "4G", got {table[name]!r}')
    megabytes = float(size.group(1)) * _UNITS[size.group(2).upper()]
    if megabytes < 1:
        raise ProblemError(f"{path}: environment.{name}: {table[name]!r} is less than 1 MB")
    return int(megabytes)
