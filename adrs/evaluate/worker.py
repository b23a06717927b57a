"""The worker: the trusted process that runs a problem's evaluator on one program for one stage.

Started by the runner (runner.py) as `python -I -m adrs.evaluate.worker`, with a JSON request on
stdin and a pipe on the file descriptor the request names. The first thing it does is read the request (and
its one-time token) before any problem or candidate code is imported; the result frame carries the
token, so output printed by a candidate (stdout, stderr) can never pass for a result.

Must not: normalise or judge the evaluator's answer (the runner does that, on the trusted side).
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import math
import os
import sys
import traceback
from collections.abc import Collection
from types import FunctionType
from typing import Any

from adrs.evaluate import evaluator_code
from adrs.formats import in_worker


def _jsonable(value: Any) -> Any:
    """Evaluator results may hold numpy scalars or other odd types: turn them into plain JSON."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # "<string>", or a file gone: not the program
        return False


def _classify(exc: BaseException, program_path: str) -> str:
    """Failure kind of an exception that escaped evaluate().

    In-process (OpenEvolve-style) evaluators run the candidate here, so an exception raised in the
    candidate's own code is the candidate's failure, whatever its type says: a CandidateError it
    raises itself may only carry a kind a candidate may report (never evaluator_error or timeout).
    """
    from adrs.problemkit import failures
    from adrs.problemkit.failures import CandidateError

    frames = traceback.extract_tb(exc.__traceback__)
    program = os.path.abspath(program_path)
    from_candidate = any(os.path.abspath(f.filename) == program for f in frames)
    if isinstance(exc, CandidateError):
        return failures.reported_kind(exc.kind) if from_candidate else exc.kind
    if isinstance(exc, SyntaxError) and exc.filename and _same_file(exc.filename, program_path):
        return failures.SYNTAX
    if isinstance(exc, MemoryError):
        return failures.MEMORY
    if from_candidate:
        return failures.IMPORT if isinstance(exc, ImportError) else failures.EXCEPTION
    return failures.EVALUATOR


def _answer(module: Any, request: dict[str, Any], program_path: str) -> Any:
    """The evaluator's answer for this stage, as a dict."""
    if request.get("format", "adrs") != "adrs":  # OpenEvolve and ShinkaEvolve folders (adrs/formats)
        return in_worker.call(module, request, program_path)
    evaluate = module.evaluate
    offered = {
        "stage": request["stage"],
        "workdir": request["workdir"],
        "seed": request["seed"],
        "data_dir": request["data_dir"],
    }
    takes_all, params = _keywords(evaluate)
    kwargs = {k: v for k, v in offered.items() if takes_all or k in params}
    return in_worker.plain_answer(evaluate(program_path, **kwargs), f"{request['evaluator']}: evaluate()")


def _keywords(function: Any) -> tuple[bool, Collection[str]]:
    """Whether `function` takes any keyword (**kwargs), and the names of its parameters. A plain
    function is read from its code object: inspect.signature answers the same for it and, in a
    freshly forked worker, costs ≈ 0.3 ms of copied pages; anything else (a wrapper, a partial, a
    callable object, a declared __signature__) goes through inspect."""
    declared = hasattr(function, "__wrapped__") or hasattr(function, "__signature__")
    if type(function) is FunctionType and not declared:
        code = function.__code__
        star, stars = bool(code.co_flags & inspect.CO_VARARGS), bool(code.co_flags & inspect.CO_VARKEYWORDS)
        # the parameters first, *args and **kwargs last, as inspect lists them; then the locals
        named = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount + star + stars]
        return stars, frozenset(named)
    params = inspect.signature(function).parameters
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()), params.keys()


def main() -> None:
    request = json.loads(sys.stdin.readline())
    token = request["token"]
    out = os.fdopen(request["result_fd"], "w")
    os.environ["ADRS_CANDIDATE_TIMEOUT_S"] = str(request["candidate_timeout_s"])
    os.environ["ADRS_CANDIDATE_MEMORY_MB"] = str(request["candidate_memory_mb"])
    program_path = request["program"]
    sys.path.insert(0, request["problem_root"])
    # The problem folder may be a user's read-only tree, and is never ours to write into: modules
    # imported from here on (the evaluator, its driver) are compiled in memory, not cached on disk.
    sys.dont_write_bytecode = True
    frame: dict[str, Any] = {"token": token}
    try:
        in_worker.prepare(request)  # peer folders: their working directory, stand-in modules
        spec = importlib.util.spec_from_file_location("adrs_problem_evaluator", request["evaluator"])
        module = importlib.util.module_from_spec(spec)
        code = evaluator_code.load(request.get("evaluator_code"), request["evaluator"])
        if code is None:
            spec.loader.exec_module(module)
        else:
            exec(code, module.__dict__)  # what exec_module does with the code it compiles
        frame["result"] = _jsonable(_answer(module, request, program_path))
        frame["ok"] = True
    except BaseException as exc:  # noqa: BLE001 - every failure becomes a recorded result
        frame["ok"] = False
        frame["kind"] = _classify(exc, program_path)
        message = getattr(exc, "message", None)  # a CandidateError already says what went wrong
        frame["message"] = (
            message if isinstance(message, str) else "".join(traceback.format_exception(exc, limit=-6))[-6000:]
        )
    out.write(json.dumps(frame))
    out.close()  # end of file for the runner now, not after the teardown of this process's memory
    os._exit(0)  # skip interpreter teardown: candidate atexit hooks must not run after the result


if __name__ == "__main__":
    main()
