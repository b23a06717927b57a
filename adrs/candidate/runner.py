"""Runs inside the candidate's sandboxed process. Standalone: imports nothing from adrs.

Usage (by the harness only, which copies this file into the candidate's folder as runner.py):
python -I runner.py REQUEST.json

Loads the problem's driver (trusted code that calls the candidate and turns what it returns into
JSON), calls `driver.before_import(payload)` if the driver defines it, loads the candidate program
as module `candidate`, runs `driver.run(candidate, payload)`
and writes {"ok": true, "value": ...} or {"ok": false, "kind": ..., "message": ...} to the result
file. Everything written here is untrusted: the candidate shares this process and could have
written the file itself, so the trusted side validates every value it reads back.

Whose failure it is: the problem's (`evaluator_error`) when the driver fails to load, has no
`run`, fails in `before_import` (the candidate has not run yet), or when `run` meets an error that
only a bug in code can cause (a NameError, an UnboundLocalError, an ImportError) with no candidate
code on the stack and not raised on purpose by a `raise` statement. Everything else is the
candidate's (`exception`, `import`): its own code raising, or the driver choking on what the
candidate returned (a TypeError, ValueError, KeyError, IndexError or AttributeError in the driver
is most often a bad answer: None where a number was due), which this process cannot tell apart
from a driver bug on the same line.
"""

import ast
import importlib.util
import json
import linecache
import sys
import traceback
import types

EVALUATOR_ERROR = "evaluator_error"  # adrs.problemkit.failures.EVALUATOR (this file imports nothing from adrs)
# Exceptions only a bug in code raises, whatever data it is given: in trusted code they are the problem's.
CODE_BUGS = (NameError, ImportError)


def _write(path, record):
    with open(path, "w") as f:
        json.dump(record, f)


def _fail(path, kind, message):
    _write(path, {"ok": False, "kind": kind, "message": message[-4000:]})
    sys.exit(1)


def _tail_traceback():
    return "".join(traceback.format_exc(limit=-8))


def _raise_lines(filename):
    """Line numbers covered by `raise` statements of a source file (empty when it cannot be read)."""
    try:
        tree = ast.parse("".join(linecache.getlines(filename)), filename)
    except (SyntaxError, ValueError):
        return set()
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise):
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def _driver_fault(exc, program_path):
    """True when `exc` is a bug of trusted code: a CODE_BUGS exception with no candidate frame on
    its stack (code the candidate compiled from a string counts as the candidate's), not raised on
    purpose by a `raise`."""
    if not isinstance(exc, CODE_BUGS):
        return False
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames or any(f.filename == program_path or f.filename.startswith("<") for f in frames):
        return False
    innermost = frames[-1]
    return innermost.lineno not in _raise_lines(innermost.filename)


def _driver_failed(path, when):
    """Report a failure of the driver before the candidate ran: always the problem's bug."""
    sentence = f"the problem's driver failed {when} (a bug in the problem, not the candidate's)"
    _fail(path, EVALUATOR_ERROR, f"{sentence}:\n{_tail_traceback()[-3000:]}")


def main():
    with open(sys.argv[1]) as f:
        request = json.load(f)
    result_path = request["result"]
    program_path = request["program"]
    try:
        with open(program_path) as f:
            source = f.read()
        code = compile(source, program_path, "exec")
    except SyntaxError as exc:
        _fail(result_path, "syntax", f"line {exc.lineno}: {exc.msg}\n{exc.text or ''}")
    try:
        spec = importlib.util.spec_from_file_location("adrs_driver", request["driver"])
        driver = importlib.util.module_from_spec(spec)
        sys.modules["adrs_driver"] = driver
        spec.loader.exec_module(driver)
        with open(request["payload"]) as f:
            payload = json.load(f)
    except Exception:
        _driver_failed(result_path, "to load")
    if not callable(getattr(driver, "run", None)):
        missing = f"the problem's driver {request['driver']} defines no function run(candidate, payload)"
        _fail(result_path, EVALUATOR_ERROR, missing)
    try:
        if hasattr(driver, "before_import"):
            driver.before_import(payload)  # e.g. seed random generators the candidate uses at import time
    except Exception:
        _driver_failed(result_path, "in before_import, before the candidate was loaded")
    module = types.ModuleType("candidate")
    module.__file__ = program_path
    sys.modules["candidate"] = module
    failure = None
    try:
        exec(code, module.__dict__)
    except MemoryError:
        failure = ("memory", "MemoryError while importing the candidate")
    except BaseException:
        failure = ("import", _tail_traceback())
    if failure is not None:
        _fail(result_path, *failure)

    failure = None
    try:
        value = driver.run(module, payload)
    except MemoryError:
        failure = ("memory", "MemoryError while running the candidate")
    except BaseException as exc:
        if _driver_fault(exc, program_path):
            message = (
                "the problem's driver has a bug (no candidate code on the stack)"
                " - a bug in the problem, not the candidate's"
            )
            failure = (EVALUATOR_ERROR, f"{message}:\n{_tail_traceback()[-3000:]}")
        else:
            failure = ("exception", _tail_traceback())
    if failure is not None:
        # Outside the except block the traceback, and the memory its frames hold, is released.
        module = driver = None
        _fail(result_path, *failure)
    try:
        text = json.dumps({"ok": True, "value": value})
    except (TypeError, ValueError) as exc:
        _fail(result_path, "invalid_output", f"the driver's value is not JSON-serialisable: {exc}")
    with open(result_path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
