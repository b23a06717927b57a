"""Runs inside the candidate's sandboxed process. Standalone: imports nothing from adrs.

Usage (by the harness only, which copies this file into the candidate's folder as runner.py):
python -I runner.py REQUEST.json

Loads the problem's driver (trusted code that calls the candidate and turns what it returns into
JSON), calls `driver.before_import(payload)` if the driver defines it, loads the candidate program
as module `candidate`, runs `driver.run(candidate, payload)`
and writes {"ok": true, "value": ...} or {"ok": false, "kind": ..., "message": ...} to the result
file. Everything written here is untrusted: the candidate shares this process and could have
written the file itself, so the trusted side validates every value it reads back.
"""

import importlib.util
import json
import sys
import traceback
import types


def _write(path, record):
    with open(path, "w") as f:
        json.dump(record, f)


def _fail(path, kind, message):
    _write(path, {"ok": False, "kind": kind, "message": message[-4000:]})
    sys.exit(1)


def _tail_traceback():
    return "".join(traceback.format_exc(limit=-8))


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
    spec = importlib.util.spec_from_file_location("adrs_driver", request["driver"])
    driver = importlib.util.module_from_spec(spec)
    sys.modules["adrs_driver"] = driver
    spec.loader.exec_module(driver)
    with open(request["payload"]) as f:
        payload = json.load(f)
    if hasattr(driver, "before_import"):
        driver.before_import(payload)  # e.g. seed random generators the candidate uses at import time
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
    except BaseException:
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
