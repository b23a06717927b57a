"""How a stored-once text is written down and read back, without a database library.

Owns: the reference a row holds instead of a long text (`\\x01sha256:<hex digest>`), the zlib
stream with a similar text as its preset dictionary, the placeholder for a text lost from the
archive, the per-process cache of decoded texts (texts never change once stored), and
`decode_texts`: the text of each digest, following chains of bases, given a function that fetches
`texts` rows by digest. texts.py (SQLAlchemy: what the engine and most commands use) and
sqlite_reader.py (the stdlib sqlite3 reader of the read-only commands) both read through it, so the
two paths decode alike.

Must not: import SQLAlchemy or open a database (the caller's `fetch` runs the query), or be
imported outside adrs/archive/.
"""

from __future__ import annotations

import re
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

# A shorter text stays in its row: the reference (72 characters) and a texts row cost about as much.
INLINE_MAX = 160
MAX_DEPTH = 16  # bases behind one text at most: a read of one text needs at most this many more
PREFIX = "\x01sha256:"
REFERENCE = re.compile("\x01sha256:([0-9a-f]{64})")
CHUNK = 500  # digests per IN (...) query
_CACHED = 4096  # decoded texts kept per process
_decoded: OrderedDict[bytes, str] = OrderedDict()

# One `texts` row as a fetch returns it: (digest, compression, base digest or None, data).
TextRow = tuple[bytes, str, bytes | None, bytes]


def reference(digest: bytes) -> str:
    return PREFIX + digest.hex()


def digest_of(value: Any) -> bytes | None:
    """The digest a reference names; None for anything else (an inline text, None)."""
    if isinstance(value, str) and value.startswith(PREFIX) and (match := REFERENCE.fullmatch(value)):
        return bytes.fromhex(match.group(1))
    return None


def compress(raw: bytes, base: str | None) -> bytes:
    packer = zlib.compressobj(9, zdict=base.encode("utf-8")) if base else zlib.compressobj(9)
    return packer.compress(raw) + packer.flush()


def decompress(data: bytes, base: str | None) -> bytes:
    unpacker = zlib.decompressobj(zdict=base.encode("utf-8")) if base else zlib.decompressobj()
    return unpacker.decompress(bytes(data)) + unpacker.flush()


def remember(digest: bytes, text: str) -> str:
    _decoded[digest] = text
    _decoded.move_to_end(digest)
    while len(_decoded) > _CACHED:
        _decoded.popitem(last=False)
    return text


def lost(digest: bytes) -> str:
    return f"[text lost from the archive: sha256 {digest.hex()}]"


def decode_texts(fetch: Callable[[list[bytes]], Iterable[Any]], digests: Iterable[bytes]) -> dict[bytes, str]:
    """The text of each digest (a placeholder for one that is missing or whose base is).

    `fetch(digests)` returns the `texts` rows of at most CHUNK digests as TextRow tuples."""
    wanted = set(digests)
    missing: set[bytes] = set()
    texts = {d: _decoded[d] for d in wanted if d in _decoded}
    rows: dict[bytes, tuple[str, bytes | None, bytes]] = {}
    frontier = wanted - texts.keys()
    while frontier:  # each round fetches the bases the previous one named: at most MAX_DEPTH + 1 rounds
        ordered = sorted(frontier)
        for start in range(0, len(ordered), CHUNK):
            for digest, compression, base, data in fetch(ordered[start : start + CHUNK]):
                rows[bytes(digest)] = (compression, None if base is None else bytes(base), data)
        frontier = {
            row[1] for d in frontier if (row := rows.get(d)) and row[1] is not None and row[1] not in rows
        } - _decoded.keys()

    def text_of(digest: bytes) -> str:
        if digest in texts:
            return texts[digest]
        if digest in _decoded:
            return _decoded[digest]
        row = rows.get(digest)
        base_text = None if row is None or row[1] is None else text_of(row[1])
        if row is None or (row[1] is not None and row[1] in missing):
            missing.add(digest)
            texts[digest] = lost(digest)
            return texts[digest]
        compression, _base, data = row
        raw = decompress(data, base_text) if compression == "zlib" else bytes(data)
        texts[digest] = remember(digest, raw.decode("utf-8"))
        return texts[digest]

    return {digest: text_of(digest) for digest in wanted}
