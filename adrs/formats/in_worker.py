"""Calling a peer folder's evaluator inside the sandboxed evaluation worker, and bringing its answer back.

Owns, for the worker (adrs/evaluate/worker.py), everything that differs from adrs's own contract:
- `prepare`: the folder as working directory (OpenEvolve and ShinkaEvolve are started from it) and
  stand-in modules for `openevolve.evaluation_result` / `shinka.core` where they are not installed;
- `call`: OpenEvolve: `evaluate(path)` or `evaluate_stageN(path)`, whose dict or EvaluationResult is
  turned into plain JSON; ShinkaEvolve: `main(path, results_dir)` into a fresh private folder, then
  metrics.json and correct.json read back here, so their values travel in the worker's token frame;
- `plain_answer`: the one-line error naming the evaluator file when it returns an unknown object.

The result files are opened by adrs.problemkit.outputs.open_output, the trusted reader of candidate
files: relative to the folder's descriptor, with O_NOFOLLOW (a symbolic link is refused, not
followed), O_NONBLOCK (a FIFO cannot stall the worker), only regular files, at most MAX_RESULT_BYTES.
What remains (docs/security.md): the candidate runs in this same process, so it can write those
files itself, as it can return anything from an in-process evaluator.

Must not: score or judge the answer (adrs/formats/scoring.py does, on the trusted side).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from adrs.formats import standins
from adrs.formats.peer import ADRS, OPENEVOLVE, SHINKA
from adrs.problemkit.outputs import CandidateFileError, open_output

MAX_RESULT_BYTES = 8 * 1024 * 1024
SHINKA_RESULTS = "shinka_results"


class AnswerError(Exception):
    """The evaluator answered with something no contract knows; `message` is the whole line."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def prepare(request: dict[str, Any]) -> None:
    problem_format = request.get("format", ADRS)
    if problem_format == ADRS:
        return
    os.chdir(request["problem_root"])
    standins.install(problem_format)


def call(module: Any, request: dict[str, Any], program_path: str) -> Any:
    """The answer of a peer folder's evaluator for this stage, as plain JSON values."""
    problem_format, entry = request["format"], request["entry"]
    function = getattr(module, entry, None)
    where = f"{request['evaluator']}: {entry}()"
    if not callable(function):
        raise AnswerError(f"{request['evaluator']}: defines no function {entry}")
    if problem_format == OPENEVOLVE:
        return plain_answer(function(program_path), where, wrap_dicts=True)
    if problem_format == SHINKA:
        results = Path(request["workdir"]) / SHINKA_RESULTS
        results.mkdir(mode=0o700)
        function(program_path, str(results))
        return read_shinka_results(results)
    raise AnswerError(f"unknown problem format {problem_format!r}")


def plain_answer(value: Any, where: str, wrap_dicts: bool = False) -> dict[str, Any]:
    """A dict as it is (or, for OpenEvolve, as its metrics); an EvaluationResult as metrics and text artifacts."""
    if isinstance(value, dict):
        return {"metrics": value, "artifacts": {}} if wrap_dicts else value
    metrics, artifacts = getattr(value, "metrics", None), getattr(value, "artifacts", None)
    if isinstance(metrics, dict) and isinstance(artifacts, dict | type(None)):
        return {"metrics": metrics, "artifacts": {str(k): _text(v) for k, v in (artifacts or {}).items()}}
    raise AnswerError(
        f"{where} returned {type(value).__name__}, expected a dict of metrics or an EvaluationResult(metrics, "
        f"artifacts)"
    )


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else repr(value)


def read_shinka_results(folder: Path) -> dict[str, Any]:
    """correct.json and metrics.json of a ShinkaEvolve evaluation, and what was wrong reading them."""
    problems: list[str] = []
    answer: dict[str, Any] = {"correct": None, "error": None, "metrics": {}, "problems": problems}
    try:
        is_folder = stat.S_ISDIR(os.stat(folder, follow_symlinks=False).st_mode)
    except OSError as exc:
        problems.append(f"results_dir {folder}: {exc.strerror}")
        return answer
    if not is_folder:  # replaced by a link or a file: refused, never followed
        problems.append(f"results_dir {folder}: not a folder")
        return answer
    correct = _read_json(folder, "correct.json", problems)
    metrics = _read_json(folder, "metrics.json", problems)
    if isinstance(correct, dict):
        answer["correct"] = correct.get("correct")
        answer["error"] = None if correct.get("error") is None else str(correct.get("error"))
    elif correct is not None:
        problems.append(f"correct.json holds {type(correct).__name__}, expected an object with 'correct'")
    if isinstance(metrics, dict):
        answer["metrics"] = metrics
    elif metrics is not None:
        problems.append(f"metrics.json holds {type(metrics).__name__}, expected an object")
    return answer


def _read_json(folder: Path, name: str, problems: list[str]) -> Any:
    """The JSON in `name`, read through the trusted reader of candidate files (problemkit/outputs)."""
    try:
        with open_output(folder, name, MAX_RESULT_BYTES) as handle:
            data = handle.read(MAX_RESULT_BYTES + 1)
    except FileNotFoundError:
        problems.append(f"evaluate.py wrote no {name}")
        return None
    except CandidateFileError as exc:  # a symbolic link, a FIFO, a device, too large
        problems.append(f"{name}: refused ({exc}); it must be a plain file of at most {MAX_RESULT_BYTES} bytes")
        return None
    except OSError as exc:  # the results folder itself was replaced (by a link: ELOOP)
        problems.append(f"results_dir {folder}: {exc.strerror}")
        return None
    if len(data) > MAX_RESULT_BYTES:
        problems.append(f"{name}: larger than {MAX_RESULT_BYTES} bytes")
        return None
    try:
        return json.loads(data)
    except ValueError as exc:
        problems.append(f"{name}: invalid JSON: {exc}")
        return None
