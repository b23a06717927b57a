"""Runs inside the candidate's sandboxed process. Standalone: imports nothing from adrs.

Usage (by the harness only, which copies this file into the candidate's folder as runner.py):
python -I runner.py REQUEST.json

Loads the problem's driver (trusted code that calls the candidate and turns what it returns into
JSON), calls `driver.before_import(payload)` if the driver defines it, loads the candidate program
as module `candidate`, runs `driver.run(candidate, payload)`
and writes {"ok": true, "value": ...} or {"ok": false, "kind": ..., "message": ...} to the result
file. Everything written here is untrusted: the candidate shares this process and could have
written the file itself, so the trusted side validates every value it reads back (and reads the
file through a descriptor it opened itself, so renaming or replacing it changes nothing there).

Before anything else loads, it opens the result file (the record goes through that descriptor, not
through whatever the name points to later) and installs the request's seccomp filter
(adrs/sandbox/seccomp.py), failing closed when it cannot.
"""

import ctypes
import importlib.util
import json
import os
import sys
import traceback
import types

PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
PR_SET_NO_NEW_PRIVS = 38


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_filter(code):
    """Install a seccomp filter (raw struct sock_filter entries) on this process and its children."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, ctypes.c_ulong(1), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)):
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    buffer = ctypes.create_string_buffer(code, len(code))
    program = _SockFprog(len(code) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    if libc.prctl(PR_SET_SECCOMP, ctypes.c_ulong(SECCOMP_MODE_FILTER), ctypes.byref(program), ctypes.c_ulong(0),
                  ctypes.c_ulong(0)):  # fmt: skip
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")


_result_file = None


def _write(record):
    _result_file.seek(0)
    _result_file.truncate()
    _result_file.write(json.dumps(record))
    _result_file.flush()


def _fail(kind, message):
    _write({"ok": False, "kind": kind, "message": message[-4000:]})
    sys.exit(1)


def _tail_traceback():
    return "".join(traceback.format_exc(limit=-8))


def main():
    global _result_file
    with open(sys.argv[1]) as f:
        request = json.load(f)
    _result_file = open(request["result"], "w")  # noqa: SIM115 - open for the whole run, on purpose
    if request.get("seccomp"):
        try:
            install_filter(bytes.fromhex(request["seccomp"]))
        except OSError as exc:
            sys.stderr.write(f"adrs: the seccomp filter could not be installed, the candidate was not run: {exc}\n")
            os._exit(125)
    program_path = request["program"]
    try:
        with open(program_path) as f:
            source = f.read()
        code = compile(source, program_path, "exec")
    except SyntaxError as exc:
        _fail("syntax", f"line {exc.lineno}: {exc.msg}\n{exc.text or ''}")
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
        _fail(*failure)

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
        _fail(*failure)
    try:
        text = json.dumps({"ok": True, "value": value})
    except (TypeError, ValueError) as exc:
        _fail("invalid_output", f"the driver's value is not JSON-serialisable: {exc}")
    _result_file.seek(0)
    _result_file.truncate()
    _result_file.write(text)
    _result_file.flush()


if __name__ == "__main__":
    main()
