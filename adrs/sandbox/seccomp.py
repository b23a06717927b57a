"""The seccomp filter every candidate process runs under, on every backend.

Owns: a small classic-BPF program, built here and installed inside the candidate's process by
adrs/candidate/runner.py before the driver or the candidate loads (no_new_privs, then
PR_SET_SECCOMP; once installed no process of the tree can remove it). It refuses, with EPERM:

- the kernel keyring (add_key, request_key, keyctl): keyrings are not namespaced with IPC, so a
  key added by one candidate would be found by the next (and hold kernel memory outside any limit);
- AF_VSOCK sockets (socket, socketpair): vsock reaches the hypervisor or host whatever the network
  namespace says;
- io_uring (setup, enter, register): its operations open sockets and files without the system
  calls above, so the filter could not see them;
- any system call of another architecture's table (a 32-bit call from a 64-bit process, x32).

Everything else is left to the backends' namespaces and limits. Only x86-64 and aarch64 have a
filter; elsewhere `candidate_filter` returns None and the backend's description says so.
The installation is in-process, so a pre-forked server can install it in each child it forks.

Must not: start processes.
"""

from __future__ import annotations

import errno
import functools
import platform
import struct
import sys

AF_VSOCK = 40
_ARCHES = {
    # machine: (AUDIT_ARCH_*, {name: number}, x32 bit)
    "x86_64": (
        0xC000003E,
        {"add_key": 248, "request_key": 249, "keyctl": 250, "socket": 41, "socketpair": 53,
         "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427},
        0x40000000,
    ),
    "aarch64": (
        0xC00000B7,
        {"add_key": 217, "request_key": 218, "keyctl": 219, "socket": 198, "socketpair": 199,
         "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427},
        None,
    ),
}  # fmt: skip
_DENIED = ("add_key", "request_key", "keyctl", "io_uring_setup", "io_uring_enter", "io_uring_register")
_SOCKET_CALLS = ("socket", "socketpair")

_LD_ABS_W = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_RET = 0x06  # BPF_RET | BPF_K
_ALLOW = 0x7FFF0000
_DENY = 0x00050000 | errno.EPERM  # SECCOMP_RET_ERRNO | EPERM
_NR, _ARCH, _ARG0 = 0, 4, 16  # offsets in struct seccomp_data
_ARG0_LOW = _ARG0 + (0 if sys.byteorder == "little" else 4)


def _assemble(program: list[tuple]) -> bytes:
    """(code, k) or (code, k, true_label, false_label) with labels as names; ("label", name) marks."""
    positions, index = {}, 0
    for item in program:
        if item[0] == "label":
            positions[item[1]] = index
        else:
            index += 1
    out, index = [], 0
    for item in program:
        if item[0] == "label":
            continue
        code, k, *jumps = item
        jt = jf = 0
        if jumps:
            jt, jf = (positions[label] - index - 1 if label else 0 for label in jumps)
        out.append(struct.pack("=HBBI", code, jt, jf, k))
        index += 1
    return b"".join(out)


@functools.cache
def candidate_filter() -> bytes | None:
    """The filter as raw `struct sock_filter` entries, or None on an architecture without one."""
    arch = _ARCHES.get(platform.machine())
    if arch is None:
        return None
    audit_arch, numbers, x32_bit = arch
    program: list[tuple] = [(_LD_ABS_W, _ARCH), (_JEQ, audit_arch, None, "deny"), (_LD_ABS_W, _NR)]
    if x32_bit is not None:
        program.append((_JGE, x32_bit, "deny", None))
    for name in _DENIED:
        program.append((_JEQ, numbers[name], "deny", None))
    for name in _SOCKET_CALLS:
        program.append((_JEQ, numbers[name], "family", None))
    program += [
        (_RET, _ALLOW),
        ("label", "family"),
        (_LD_ABS_W, _ARG0_LOW),
        (_JEQ, AF_VSOCK, "deny", None),
        (_RET, _ALLOW),
        ("label", "deny"),
        (_RET, _DENY),
    ]
    return _assemble(program)


def candidate_filter_hex() -> str | None:
    """The filter for a candidate's request file (the runner installs it), or None."""
    code = candidate_filter()
    return None if code is None else code.hex()
