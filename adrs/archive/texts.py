"""Large texts stored once: content-addressed by (128 bits of) sha256, compressed against a similar text.

Owns: what goes into the `texts` table and what comes back out. A program's code and diff, an
evaluation's feedback and error (repeated evaluations too), an LLM call's prompt and reply pass
through `store_texts` before their row is inserted (every writer of those tables in adrs/archive/
calls it, inside the insert's transaction): a text of `INLINE_MAX` characters or more goes into
`texts` (once per digest, whoever stores it again: a duplicate, a migrant, another run) and the
row's column holds a reference, `\\x01<digest in base64url>` (textcodec.py: the digest is 16 bytes
since version 5; the 32-byte references of version 4 and the hex ones of version 3 read the same);
shorter ones stay in the row. A
stored text is zlib-compressed with a similar, already stored text as the preset dictionary (its
`base`): a program's code with its parent's code, a diff with the program's code, feedback with
the parent's feedback of the same stage, a prompt with the run's previous prompt, a reply with its
prompt; so a child costs about what changed. A chain of bases is at most `MAX_DEPTH` long, which
bounds the reads one text needs; a text whose natural base ends a full chain is built on the link
halfway up that chain instead. The writer's record keeps the text itself, so a record made
right away is whole.

Reading is explicit: `as_records` turns rows into records with every reference replaced by its
text, all texts of one read fetched together (one query per level of bases), and a program's
features and an evaluation's metrics read whole from their compact layout (compact.py). Rows an
older adrs wrote hold their text inline and pass through unchanged, so both layouts read alike and
no text is migrated. A reference whose text (or one of its bases) is missing, as in a salvaged
archive that lost the page, reads as a one-line placeholder naming the digest, never as a crash.
Texts never change once stored, so decoded ones (and the depth of those written) are kept in a
small per-process cache keyed by digest. `lost_texts` lists the references whose text, or a base
of it, is no longer stored (for `adrs doctor`). The format itself (references, compression,
decoding a chain of bases) is textcodec.py's, which the sqlite3 reader of the read-only commands
shares.

Must not: decide what a text means, delete a text (another may use it as its base), or be imported
outside adrs/archive/.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable
from typing import Any, TypeVar

from sqlalchemy import Select, bindparam, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from adrs.archive.compact import PACKED_COLUMNS, borrowed, full_features, unpack
from adrs.archive.packing import unpack_values
from adrs.archive.records import ProgramRecord
from adrs.archive.schema import EvaluationRow, LLMCall, Program, RepeatEvaluation, StoredText, replace_surrogates
from adrs.archive.textcodec import (
    CACHED,
    IN_ROW,
    INLINE_MAX,
    MAX_DEPTH,
    REFERENCE,
    compress,
    decode_texts,
    digest_of,
    in_row,
    reference,
    remember,
    text_digest,
    unpack_in_rows,
)
from adrs.archive.textcodec import lost as _lost

T = TypeVar("T")

# The columns whose long texts live in `texts`, per table. The error of an LLM call stays in its row:
# queries filter on it (calls.py).
STORED_ONCE: dict[type, tuple[str, ...]] = {
    Program: ("code", "diff"),
    EvaluationRow: ("feedback", "error"),
    RepeatEvaluation: ("feedback", "error"),
    LLMCall: ("prompt", "response"),
}
_RECORD_FIELDS = frozenset(name for names in STORED_ONCE.values() for name in names)
_depths: dict[bytes, int] = {}  # the depth of texts this process wrote or read (texts never change)
_UNKNOWN = object()  # store_texts: the caller does not know the program's parent


# writing: explicit, before each insert of a row of STORED_ONCE ---------------------------------
def store_texts(
    connection: Connection, table: type, values: dict[str, Any], *, parent_id: int | None | object = _UNKNOWN
) -> dict[str, Any]:
    """`values` of a row about to be inserted into `table` (a class of STORED_ONCE), with each long
    text stored in `texts` and replaced by its reference; the caller's record keeps the texts.

    `parent_id`: the program's parent where the caller knows it (evaluation rows), which saves a
    query for the base of its feedback."""
    out = dict(values)
    stored: dict[str, bytes] = {}  # digests written for this row: the next text may use them as base
    for name in STORED_ONCE[table]:
        value = out.get(name)
        if value is None:
            continue
        # A base holding NUL is left out: PostgreSQL keeps a short one in its row as the characters
        # \x00 (SafeText), so it would not read back as the text it was compressed against.
        if name in IN_ROW and isinstance(row_base := values.get(IN_ROW[name]), str) and "\x00" not in row_base:
            packed = in_row(replace_surrogates(value), replace_surrogates(row_base))
            if packed is not None:  # compressed against its own row's prompt or code
                out[name] = packed
                continue
        if len(value) < INLINE_MAX and not REFERENCE.fullmatch(value):
            continue  # short: stays in the row (a value that looks like a reference never does)
        base = _base_of(connection, table, out, name, stored, parent_id)
        stored[name] = _store(connection, replace_surrogates(value), base)
        out[name] = reference(stored[name])
    return out


def _store(connection: Connection, text: str, base: bytes | None) -> bytes:
    """Insert `text` into `texts` unless its digest is there; its digest."""
    raw = text.encode("utf-8")
    digest = text_digest(raw)
    depth, base_text = 0, None
    if base is not None and base != digest:
        found = _depth_of(connection, base)
        if found is not None and found >= MAX_DEPTH:
            # Its chain is full: build on the link halfway up it, a text a few steps older, rather
            # than on nothing (a prompt compressed alone costs ten times one built on another).
            base, found = _link_at(connection, base, MAX_DEPTH // 2)
        if base is not None and base != digest and found is not None and found < MAX_DEPTH:
            known = _texts_by_digest(connection, [base])[base]
            if known != _lost(base):
                depth, base_text = found + 1, known
    packed = compress(raw, base_text)
    row = {"digest": digest, "compression": "zlib", "base": base if base_text else None, "depth": depth, "data": packed}
    if len(packed) >= len(raw):
        row.update(compression="", base=None, depth=0, data=raw)
    if connection.execute(_insert_ignore(connection.dialect.name), row).rowcount == 1:
        _depths[digest] = row["depth"]  # the row as written: what a later text based on it reads
    remember(digest, text)
    return digest


def _link_at(connection: Connection, digest: bytes, target: int) -> tuple[bytes | None, int | None]:
    """The text `digest` is built on, followed up its chain to the first at depth `target` or less
    (None: the chain is broken, as in a salvaged archive)."""
    depth = _depth_of(connection, digest)
    while depth is not None and depth > target:
        row = connection.execute(_BASE, {"digest": digest}).first()
        if row is None or row[0] is None:
            return None, None
        digest = bytes(row[0])
        depth = _depth_of(connection, digest)
    return digest, depth


def _depth_of(connection: Connection, digest: bytes) -> int | None:
    """The stored depth of a text (None: not stored); texts never change, so a known depth is kept."""
    if digest in _depths:
        return _depths[digest]
    found = connection.execute(_DEPTH, {"digest": digest}).first()
    if found is None:
        return None
    if len(_depths) >= CACHED:
        _depths.clear()
    _depths[digest] = found[0]
    return found[0]


@functools.cache
def _insert_ignore(dialect: str) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(StoredText).on_conflict_do_nothing(index_elements=["digest"])


_P, _E, _L = Program.__table__, EvaluationRow.__table__, LLMCall.__table__
_DEPTH = select(StoredText.depth).where(StoredText.digest == bindparam("digest"))
_BASE = select(StoredText.base).where(StoredText.digest == bindparam("digest"))
_PARENT_CODE = select(_P.c.code).where(_P.c.id == bindparam("id"))
_PARENT_OF = select(_P.c.parent_id).where(_P.c.id == bindparam("id"))
_STAGE_FEEDBACK = select(_E.c.feedback).where(_E.c.program_id == bindparam("program"), _E.c.stage == bindparam("stage"))
_PREVIOUS_PROMPT = select(_L.c.prompt).where(_L.c.run_id == bindparam("run")).order_by(_L.c.id.desc()).limit(1)


def _base_of(
    connection: Connection,
    table: type,
    values: dict[str, Any],
    name: str,
    stored: dict[str, bytes],
    parent_id: int | None | object,
) -> bytes | None:
    """The digest of a stored text much like `values[name]` is likely to be, if there is one.

    Only texts of committed rows, or of this row, are used: a base must outlive the text built on it."""
    if table is Program:
        if name == "diff":
            return stored.get("code") or digest_of(values.get("code"))
        if values.get("parent_id") is None:
            return None
        return _first(connection, _PARENT_CODE, {"id": values["parent_id"]})
    if table in (EvaluationRow, RepeatEvaluation) and name == "feedback":
        if table is RepeatEvaluation:  # the same stage's first evaluation
            program = values["program_id"]
        elif parent_id is _UNKNOWN:  # the parent's evaluation of the same stage
            found = connection.execute(_PARENT_OF, {"id": values["program_id"]}).first()
            program = None if found is None else found[0]
        else:
            program = parent_id
        if program is None:
            return None
        return _first(connection, _STAGE_FEEDBACK, {"program": program, "stage": values["stage"]})
    if table is LLMCall:
        if name == "response":
            return stored.get("prompt") or digest_of(values.get("prompt"))
        return _first(connection, _PREVIOUS_PROMPT, {"run": values["run_id"]})
    return None


def _first(connection: Connection, stmt: Any, params: dict[str, Any]) -> bytes | None:
    row = connection.execute(stmt, params).first()
    return None if row is None else digest_of(row[0])


# reading ---------------------------------------------------------------------------------------
def _texts_by_digest(connection: Connection | Session, digests: Iterable[bytes]) -> dict[bytes, str]:
    """The text of each digest (a placeholder for one that is missing or whose base is)."""
    columns = select(StoredText.digest, StoredText.compression, StoredText.base, StoredText.data)
    return decode_texts(lambda chunk: connection.execute(columns.where(StoredText.digest.in_(chunk))), digests)


def texts_of(s: Session | Connection, values: Iterable[Any]) -> dict[str, str]:
    """The text behind each reference among `values` (anything else is left out)."""
    wanted = {value: digest for value in values if (digest := digest_of(value)) is not None}
    if not wanted:
        return {}
    found = _texts_by_digest(s, wanted.values())
    return {value: found[digest] for value, digest in wanted.items()}


def evaluation_rows() -> Select:
    """A query of `evaluations` rows, each with what its program's row stores in `metrics` and
    `features` (as `program_metrics`, `program_features`), which `as_records` gives a row that stores
    none of its own (compact.py); add the conditions."""
    return select(_E, _P.c.metrics.label("program_metrics"), _P.c.features.label("program_features")).outerjoin(
        _P, _P.c.id == _E.c.program_id
    )


def as_records(s: Session | Connection, cls: type[T], rows: Iterable[Any]) -> list[T]:
    """The record `cls` of each row (as `as_record`), with every stored-once text read back and
    every dictionary whole (compact.py): a program's features overlaid on its metrics, and an
    evaluation row's metrics or features that it borrows from its program's row (the query selects
    those as `program_metrics` and `program_features`: `evaluation_rows`)."""
    names, long_names = _field_names(cls)
    rows = list(rows)
    fields = [{name: getattr(row, name) for name in names} for row in rows]
    if long_names:
        texts = texts_of(s, (values[name] for values in fields for name in long_names))
        if texts:
            for values in fields:
                for name in long_names:
                    value = values[name]
                    if value in texts:
                        values[name] = texts[value]
        for values in fields:
            unpack_in_rows(values)
    packed = [name for name in names if name in PACKED_COLUMNS]
    if not packed:
        return [cls(**values) for values in fields]
    lenders = [(getattr(row, "program_metrics", None), getattr(row, "program_features", None)) for row in rows]
    unpack_values(s, [*(values[name] for values in fields for name in packed), *(v for pair in lenders for v in pair)])
    for values in fields:
        for name in packed:
            values[name] = unpack(values[name])
    if cls is ProgramRecord:
        for values in fields:
            values["features"] = full_features(values["metrics"], values["features"])
    else:
        for values, (metrics, features) in zip(fields, lenders, strict=True):
            values["metrics"] = borrowed(values["metrics"], unpack(metrics))
            if "features" in values:
                values["features"] = borrowed(values["features"], unpack(features))
    return [cls(**values) for values in fields]


@functools.cache
def _field_names(cls: type) -> tuple[list[str], list[str]]:
    """A record's field names, and those that may hold a stored-once text."""
    names = [f.name for f in dataclasses.fields(cls)]
    return names, [name for name in names if name in _RECORD_FIELDS]


def as_one_record(s: Session | Connection, cls: type[T], row: Any) -> T:
    return as_records(s, cls, [row])[0]


# checking ---------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class LostText:
    """A reference whose text cannot be read back: its `texts` row, or one of its bases', is gone."""

    table: str  # programs, evaluations, repeat_evaluations, llm_calls
    row_id: int
    column: str
    digest: bytes  # the text the row names
    missing: bytes  # the row not found: the text's own, or a base it was compressed against
    program_id: int | None  # the program the row belongs to (an LLM call's child, when it has one)


def lost_texts(s: Session, run_id: int | None = None, absent: frozenset[str] = frozenset()) -> list[LostText]:
    """Every reference (of one run, or of all) whose text or one of its bases is not stored.

    One pass over the `texts` digests and one over each STORED_ONCE column; a text is readable when
    its whole chain of bases, at most MAX_DEPTH long, is stored."""
    if "texts" in absent:
        return []
    stored = s.execute(select(StoredText.digest, StoredText.base))
    base_of = {bytes(d): None if b is None else bytes(b) for d, b in stored}
    found: list[LostText] = []
    for model, columns in STORED_ONCE.items():
        table = model.__table__
        if table.name in absent:
            continue
        owner = table.c.id if model is Program else table.c.program_id
        stmt = select(table.c.id, owner, *(table.c[name] for name in columns)).order_by(table.c.id)
        if run_id is not None:
            if model in (Program, LLMCall):
                stmt = stmt.where(table.c.run_id == run_id)
            else:
                stmt = stmt.where(table.c.program_id.in_(select(_P.c.id).where(_P.c.run_id == run_id)))
        for row_id, program_id, *values in s.execute(stmt):
            for name, value in zip(columns, values, strict=True):
                digest = digest_of(value)
                if digest is not None and (missing := _missing_link(base_of, digest)) is not None:
                    found.append(LostText(table.name, row_id, name, digest, missing, program_id))
    return found


def _missing_link(base_of: dict[bytes, bytes | None], digest: bytes) -> bytes | None:
    link: bytes | None = digest
    for _ in range(MAX_DEPTH + 2):  # a chain longer than any writer makes ends the walk: not "lost"
        if link is None:
            return None
        if link not in base_of:
            return link
        link = base_of[link]
    return None
