"""How a stored-once text is written down and read back, without a database library.

Owns: the digest that names a stored text (the first 16 bytes of its sha256 since schema version
5; versions 3 and 4 used all 32), the reference a row holds instead of a long text (`\\x01` and the
digest in base64url; or as version 3 wrote it, `\\x01sha256:<hex digest>`; every form reads), the
zlib stream with a similar text as its preset dictionary, the in-row form of a text compressed
against another column of its own row (`\\x02` and base85 of the zlib stream: an LLM call's reply
against its prompt, a program's diff against its code; `IN_ROW`), the placeholder for a text lost
from the archive, the per-process cache of decoded texts (texts never change once stored), and
`decode_texts`: the text of each digest, following chains of bases, given a function that fetches
`texts` rows by digest. texts.py (SQLAlchemy: what the engine and most commands use) and
sqlite_reader.py (the stdlib sqlite3 reader of the read-only commands) both read through it, so
the two paths decode alike.

Must not: import SQLAlchemy or open a database (the caller's `fetch` runs the query), or be
imported outside adrs/archive/.
"""

from __future__ import annotations

import base64
import hashlib
import re
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

# A shorter text stays in its row: the reference and a texts row cost about as much.
INLINE_MAX = 160
MAX_DEPTH = 16  # bases behind one text at most: a read of one text needs at most this many more
# A text's digest: the first DIGEST_BYTES of its sha256. 128 bits: a collision by chance among the
# texts of any archive is out of reach (2^64 texts for even odds), and so is one made on purpose
# within a sandbox's time limit; it halves what every `texts` row, its index and every reference
# spend on naming (schema version 5; 4 and 3 used the whole sha256, and their texts read as before).
DIGEST_BYTES = 16
# A reference is \x01 and the digest in unpadded base64url (23 characters; version 4: 44), or,
# as version 3 wrote it and still read, \x01sha256: and the whole sha256 in hex (72 characters).
PREFIX = "\x01"
REFERENCE = re.compile("\x01(?:sha256:([0-9a-f]{64})|([A-Za-z0-9_-]{43}|[A-Za-z0-9_-]{22}))")
# Columns whose text is compressed against another column of the same row (column -> base column),
# kept in the row as \x02 and base85 of the zlib stream wherever that is shorter than the text
# itself (schema version 5): a reply quotes its prompt, a diff its program's code, so each costs
# about what is new in it, without a `texts` row, its index and a reference. A text that begins
# with \x02 is always stored so, so the mark never stands for itself.
IN_ROW = {"diff": "code", "response": "prompt"}
IN_ROW_PREFIX = "\x02"
CHUNK = 500  # digests per IN (...) query
CACHED = 4096  # decoded texts kept per process
_decoded: OrderedDict[bytes, str] = OrderedDict()

# One `texts` row as a fetch returns it: (digest, compression, base digest or None, data).
TextRow = tuple[bytes, str, bytes | None, bytes]


def text_digest(raw: bytes) -> bytes:
    """The digest a text is stored under (its UTF-8 bytes)."""
    return hashlib.sha256(raw).digest()[:DIGEST_BYTES]


def reference(digest: bytes) -> str:
    return PREFIX + base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def digest_of(value: Any) -> bytes | None:
    """The digest a reference (either form) names; None for anything else (an inline text, None)."""
    if isinstance(value, str) and value.startswith(PREFIX) and (match := REFERENCE.fullmatch(value)):
        hexadecimal, short = match.groups()
        return bytes.fromhex(hexadecimal) if hexadecimal else base64.urlsafe_b64decode(short + "=" * (-len(short) % 4))
    return None


def compress(raw: bytes, base: str | None) -> bytes:
    packer = zlib.compressobj(9, zdict=base.encode("utf-8")) if base else zlib.compressobj(9)
    return packer.compress(raw) + packer.flush()


def decompress(data: bytes, base: str | None) -> bytes:
    unpacker = zlib.decompressobj(zdict=base.encode("utf-8")) if base else zlib.decompressobj()
    return unpacker.decompress(bytes(data)) + unpacker.flush()


def pack_in_row(text: str, base: str) -> str:
    """`text` compressed against `base` (another column of its row), as a row holds it."""
    return IN_ROW_PREFIX + base64.b85encode(compress(text.encode("utf-8"), base or None)).decode("ascii")


def in_row(text: str, base: str) -> str | None:
    """What a row stores for `text` of an IN_ROW column whose row holds `base`: the in-row form where
    it is shorter (or `text` begins with its mark), else None (stored as any other text)."""
    packed = pack_in_row(text, base)
    return packed if len(packed) < len(text) or text.startswith(IN_ROW_PREFIX) else None


def unpack_in_rows(fields: dict[str, Any]) -> None:
    """Each IN_ROW column of a row's `fields` read back, its base column already read (a text that
    cannot be, its base lost from the archive, reads as a placeholder)."""
    for name, base in IN_ROW.items():
        value = fields.get(name)
        if isinstance(value, str) and value.startswith(IN_ROW_PREFIX) and base in fields:
            try:
                fields[name] = decompress(base64.b85decode(value[1:]), fields[base] or None).decode("utf-8")
            except (ValueError, zlib.error):
                fields[name] = f"[text lost from the archive: the {name} compressed against this row's {base}]"


def remember(digest: bytes, text: str) -> str:
    _decoded[digest] = text
    _decoded.move_to_end(digest)
    while len(_decoded) > CACHED:
        _decoded.popitem(last=False)
    return text


def lost(digest: bytes) -> str:
    return f"[text lost from the archive: sha256 {digest.hex()}{'' if len(digest) == 32 else '…'}]"


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
