"""Runs inside the candidate's sandboxed process. Standalone: imports nothing from adrs.

Usage (by the harness only, which copies this file into the candidate's folder as runner.py):
python -I runner.py REQUEST.json

Loads the problem's driver (trusted code that calls the candidate and turns what it returns into
JSON), calls `driver.before_import(payload)` if the driver defines it, loads the candidate program
as module `candidate`, then, in one of two modes:

- one-shot (run_candidate): runs `driver.run(candidate, payload)` and writes {"ok": true, "value":
  ...} or {"ok": false, "kind": ..., "message": ...} to the result file, then, where the trusted
  side passed a socket (ADRS_CHANNEL_FD), flushes the standard streams, writes one byte on it and
  waits until the trusted side closed it (the result read);
- session (adrs/problemkit/session.py, the request says "session"): takes the channel the trusted
  side made before the launch (an inherited descriptor, or a Unix socket in the home that hands
  one over), calls `driver.start(candidate, payload)` if defined, sends a "ready" frame with what
  it returned, then answers each message the trusted side sends with `driver.handle(candidate,
  message)` until the channel closes. Frames: 4-byte big-endian length, then UTF-8 JSON, each
  {"ok": true, "value": ...} or {"ok": false, "kind": ..., "message": ...}.

Everything written here is untrusted: the candidate shares this process and could have written
the file or the frames itself, so the trusted side validates every value it reads back (it reads
the result file through a descriptor it opened itself, so renaming or replacing it changes nothing
there; for a session, it times every call from its own side).

Before anything else loads, a one-shot run opens its result file (the record goes through that
descriptor, not through whatever the name points to later), and both modes install the request's
seccomp filter (adrs/sandbox/seccomp.py), failing closed when they cannot.

Whose failure it is: the problem's (`evaluator_error`) when the driver fails to load, lacks `run`
(a session: `handle`), fails in `before_import` (the candidate has not run yet), or when a driver
call meets an error that only a bug in code can cause (a NameError, an UnboundLocalError, an
ImportError) with no candidate code on the stack and not raised on purpose by a `raise`
statement. Everything else is the candidate's (`exception`, `import`): its own code raising, or
the driver choking on what the candidate returned (a TypeError, ValueError, KeyError, IndexError
or AttributeError in the driver is most often a bad answer: None where a number was due), which
this process cannot tell apart from a driver bug on the same line.
"""

import ctypes
import importlib.util
import json
import os
import struct
import sys
import types

# ast, linecache, socket and traceback are imported where they are used (a failure, a session):
# a one-shot run that succeeds never pays the milliseconds of CPU they cost at every start.

HEADER = struct.Struct(">I")
EVALUATOR_ERROR = "evaluator_error"  # adrs.problemkit.failures.EVALUATOR (this file imports nothing from adrs)
# Exceptions only a bug in code raises, whatever data it is given: in trusted code they are the problem's.
CODE_BUGS = (NameError, ImportError)
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


def _tail_traceback():
    exc = sys.exc_info()[1]
    try:
        import traceback
    except Exception:  # the candidate broke the import system: the exception's own words
        return f"{type(exc).__name__}: {exc}"
    return "".join(traceback.format_exc(limit=-8))


def _raise_lines(filename):
    """Line numbers covered by `raise` statements of a source file (empty when it cannot be read)."""
    import ast
    import linecache

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
    try:
        import ast  # noqa: F401 - for _raise_lines, imported here where a failure can still be handled
        import linecache  # noqa: F401
        import traceback
    except Exception:  # the candidate broke the import system: the failure stays the candidate's
        return False
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames or any(f.filename == program_path or f.filename.startswith("<") for f in frames):
        return False
    innermost = frames[-1]
    return innermost.lineno not in _raise_lines(innermost.filename)


def _driver_failed(reporter, when):
    """Report a failure of the driver before the candidate ran: always the problem's bug."""
    sentence = f"the problem's driver failed {when} (a bug in the problem, not the candidate's)"
    reporter.fail(EVALUATOR_ERROR, f"{sentence}:\n{_tail_traceback()[-3000:]}")


class _ResultFile:
    """Where a one-shot run reports: the file opened before the driver and the candidate loaded,
    and the trusted side's socket (where the backend passed one) on which it says once that the
    result is in, then waits until the trusted side has read it (it closes its end, and kills
    this process): nothing this process runs after its result (threads aside), atexit hooks
    included, can change what is read, and the trusted side need not wait for the exit."""

    def __init__(self, path, ready_fd):
        self.file = open(path, "w")  # noqa: SIM115 - open for the whole run, on purpose
        self.ready_fd = ready_fd

    def write(self, text):
        self.file.seek(0)
        self.file.truncate()
        self.file.write(text)
        self.file.flush()
        if self.ready_fd is not None:
            fd, self.ready_fd = self.ready_fd, None
            for stream in (sys.stdout, sys.stderr):  # what the candidate printed, before the result is taken
                try:
                    stream.flush()
                except BaseException:  # noqa: BLE001, S110 - a stream the candidate broke: its output is lost
                    pass
            try:
                os.write(fd, b"\n")
                os.read(fd, 1)  # returns once the trusted side closed its end: the result was read
            except OSError:  # the candidate closed or replaced the descriptor: the run ends by its exit
                pass
            try:
                os.close(fd)
            except OSError:
                pass

    def fail(self, kind, message):
        self.write(json.dumps({"ok": False, "kind": kind, "message": message[-4000:]}))
        sys.exit(1)


class _Channel:
    """A session's channel: length-prefixed JSON frames over a stream socket."""

    def __init__(self, sock):
        self.sock = sock

    @classmethod
    def open(cls):
        import socket  # before any candidate code runs, like the channel itself

        fd = os.environ.pop("ADRS_CHANNEL_FD", None)
        if fd is not None:
            return cls(socket.socket(fileno=int(fd)))
        path = os.environ.pop("ADRS_CHANNEL_SOCKET", None)
        if path is None:
            raise RuntimeError("a session was requested but no channel was given")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as handover:
            handover.connect(path)
            _, fds, _, _ = socket.recv_fds(handover, 1, 1)
        if not fds:
            raise RuntimeError("the channel's descriptor was not handed over")
        return cls(socket.socket(fileno=fds[0]))

    def receive(self):
        header = self._exactly(HEADER.size)
        if header is None:
            return None
        body = self._exactly(HEADER.unpack(header)[0])
        if body is None:
            return None
        return json.loads(body)

    def _exactly(self, size):
        chunks, left = [], size
        while left:
            chunk = self.sock.recv(min(left, 1 << 20))
            if not chunk:
                return None
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def send(self, record):
        try:
            body = json.dumps(record, separators=(",", ":")).encode()
        except (TypeError, ValueError) as exc:
            body = json.dumps(
                {
                    "ok": False,
                    "kind": "invalid_output",
                    "message": f"the driver's value is not JSON-serialisable: {exc}",
                }
            ).encode()
        self.sock.sendall(HEADER.pack(len(body)) + body)

    def fail(self, kind, message):
        self.send({"ok": False, "kind": kind, "message": message[-4000:]})
        sys.exit(1)


def _load_candidate(program_path, driver, payload, reporter):
    try:
        with open(program_path) as f:
            source = f.read()
        code = compile(source, program_path, "exec")
    except SyntaxError as exc:
        reporter.fail("syntax", f"line {exc.lineno}: {exc.msg}\n{exc.text or ''}")
    try:
        if hasattr(driver, "before_import"):
            driver.before_import(payload)  # e.g. seed random generators the candidate uses at import time
    except Exception:
        _driver_failed(reporter, "in before_import, before the candidate was loaded")
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
        reporter.fail(*failure)
    return module


def _call(program_path, function, *args):
    """(True, value) or (False, (kind, message)); the traceback is released before returning."""
    failure = None
    try:
        return True, function(*args)
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
    return False, failure


def _lower_nproc():
    """Where the backend asks (bwrap: adrs.sandbox.base.NPROC_ENV), lower RLIMIT_NPROC before
    anything else runs: inside the sandbox's own user namespace the kernel counts its tasks alone
    against it. Fails closed."""
    processes = os.environ.pop("ADRS_CANDIDATE_NPROC", None)
    if processes is None:
        return
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_NPROC, (int(processes), int(processes)))
    except (ImportError, OSError, ValueError) as exc:
        sys.stderr.write(f"adrs: the process limit could not be set, the candidate was not run: {exc}\n")
        os._exit(125)


def _ready_fd():
    """A one-shot run's socket to say the result is in (an inherited descriptor the environment
    names), or None; not passed on to processes the candidate starts."""
    fd = os.environ.pop("ADRS_CHANNEL_FD", None)
    if fd is None:
        return None
    try:
        os.set_inheritable(int(fd), False)
    except (OSError, ValueError):
        return None
    return int(fd)


def _run_once(request, result, driver, payload):
    module = _load_candidate(request["program"], driver, payload, result)
    ok, value = _call(request["program"], driver.run, module, payload)
    if not ok:
        module = driver = None  # the memory the failure's frames held goes with them
        result.fail(*value)
    try:
        text = json.dumps({"ok": True, "value": value})
    except (TypeError, ValueError) as exc:
        result.fail("invalid_output", f"the driver's value is not JSON-serialisable: {exc}")
    result.write(text)


def _serve(request, driver, payload, channel):
    module = _load_candidate(request["program"], driver, payload, channel)
    started = None
    if hasattr(driver, "start"):
        ok, started = _call(request["program"], driver.start, module, payload)
        if not ok:
            channel.fail(*started)
    channel.send({"ok": True, "value": started})
    while True:
        message = channel.receive()
        if message is None:
            return  # the trusted side closed the session
        ok, value = _call(request["program"], driver.handle, module, message)
        if ok:
            channel.send({"ok": True, "value": value})
        else:
            kind, text = value
            value = None
            channel.send({"ok": False, "kind": kind, "message": text[-4000:]})


def main():
    _lower_nproc()
    with open(sys.argv[1]) as f:
        request = json.load(f)
    session = bool(request.get("session"))
    result = None if session else _ResultFile(request["result"], _ready_fd())
    if request.get("seccomp"):
        try:
            install_filter(bytes.fromhex(request["seccomp"]))
        except OSError as exc:
            sys.stderr.write(f"adrs: the seccomp filter could not be installed, the candidate was not run: {exc}\n")
            os._exit(125)
    # A session's channel is taken before any candidate code runs; it also carries a driver's failure.
    reporter = _Channel.open() if session else result
    try:
        spec = importlib.util.spec_from_file_location("adrs_driver", request["driver"])
        driver = importlib.util.module_from_spec(spec)
        sys.modules["adrs_driver"] = driver
        spec.loader.exec_module(driver)
        with open(request["payload"]) as f:
            payload = json.load(f)
    except Exception:
        _driver_failed(reporter, "to load")
    entry = "handle(candidate, message)" if session else "run(candidate, payload)"
    if not callable(getattr(driver, entry.split("(")[0], None)):
        reporter.fail(EVALUATOR_ERROR, f"the problem's driver {request['driver']} defines no function {entry}")
    if session:
        _serve(request, driver, payload, reporter)
    else:
        _run_once(request, result, driver, payload)


if __name__ == "__main__":
    main()
