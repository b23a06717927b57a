"""The small JSON replies of the pre-started servers (the warm server, adrs/evaluate/warm_server.py,
and the candidate zygote, adrs/sandbox/zygote.py) on their SOCK_SEQPACKET sockets.

Owns: receiving one request with its descriptors (`receive`: None once the other end is gone;
`discard` closes what a malformed one brought), reading one reply (`parse_reply`: a JSON object, or
None for end of file and anything else) and refusing one request (`refuse`: the reply socket says
why, the other descriptors are closed).

Must not: import anything from adrs (both servers and their clients use it), run or read anything
a candidate could have touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket


def receive(control: socket.socket, max_fds: int) -> tuple[bytes, list[int]] | None:
    """One request on a server's control socket and the descriptors it brought; None once every
    holder of the other end is gone (end of file) or the socket failed."""
    try:
        data, fds, _flags, _addr = socket.recv_fds(control, 1 << 20, max_fds)
    except OSError:
        return None
    if not data:
        discard(fds)
        return None
    return data, fds


def discard(fds: list[int]) -> None:
    """Close the descriptors of a request that is dropped without an answer."""
    for fd in fds:
        os.close(fd)


def parse_reply(data: bytes) -> dict | None:
    """A server's reply as a dictionary; None for end of file (the server is gone) or a bad one."""
    try:
        reply = json.loads(data) if data else None
    except ValueError:
        return None
    return reply if isinstance(reply, dict) else None


def refuse(fds: list[int], reason: str) -> None:
    """Answer a request received with `fds` (the reply socket first) with why it was refused."""
    for fd in fds[1:]:
        os.close(fd)
    conn = socket.socket(fileno=fds[0])
    with contextlib.suppress(OSError):
        conn.send(json.dumps({"refused": reason}).encode())
    conn.close()
