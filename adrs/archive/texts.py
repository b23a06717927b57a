"""Large texts stored once: content-addressed by sha256, compressed against a similar text.

Owns: what goes into the `texts` table and what comes back out. A program's code and diff, an
evaluation's feedback and error (repeated evaluations too), an LLM call's prompt and reply are
written through mapper events: a text of `INLINE_MAX` characters or more goes into `texts` (once per
digest, whoever stores it again: a duplicate, a migrant, another run) and the row's column holds a
reference, `\\x01sha256:<hex digest>`; shorter ones stay in the row. A stored text is zlib-compressed
with a similar, already stored text as the preset dictionary (its `base`): a program's code with
its parent's code, a diff with the program's code, feedback with the parent's feedback of the same
stage, a prompt with the run's previous prompt, a reply with its prompt; so a child costs about
what changed. A chain of bases is at most `MAX_DEPTH` long, which bounds the reads one text needs.
After the insert the object holds the text again, so a record made from it right away is whole.

Reading is explicit: `as_records` turns rows into records with every reference replaced by its
text, all texts of one read fetched together (one query per level of bases). Rows an older adrs
wrote hold their text inline and pass through unchanged, so both layouts read alike and nothing is
migrated. A reference whose text (or one of its bases) is missing, as in a salvaged archive that
lost the page, reads as a one-line placeholder naming the digest, never as a crash. Texts never
change once stored, so decoded ones are kept in a small per-process cache keyed by digest. The
format itself (references, compression, decoding a chain of bases) is textcodec.py's, which the
sqlite3 reader of the read-only commands shares.

Must not: decide what a text means, delete a text (another may use it as its base), or be imported
outside adrs/archive/.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable
from typing import Any, TypeVar

from sqlalchemy import event, inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from adrs.archive.schema import EvaluationRow, LLMCall, Program, RepeatEvaluation, StoredText, replace_surrogates
from adrs.archive.textcodec import (
    INLINE_MAX,
    MAX_DEPTH,
    REFERENCE,
    compress,
    decode_texts,
    digest_of,
    reference,
    remember,
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


# writing: mapper events on every table of STORED_ONCE --------------------------------------------
_TEXTS_HELD = "_adrs_texts_held"  # the texts an object held before its flush, put back after it


def _before_write(_mapper: Any, connection: Connection, target: Any) -> None:
    state = inspect(target)
    held: dict[str, str] = {}
    stored: dict[str, bytes] = {}  # digests written for this row: the next text may use them as base
    for name in STORED_ONCE[type(target)]:
        if state.has_identity and not state.attrs[name].history.has_changes():
            continue  # an update that leaves this text alone
        value = getattr(target, name)
        if value is None or (len(value) < INLINE_MAX and not REFERENCE.fullmatch(value)):
            continue  # short: stays in the row (a value that looks like a reference never does)
        digest = _store(connection, replace_surrogates(value), _base_of(connection, target, name, stored))
        stored[name] = digest
        held[name] = value
        setattr(target, name, reference(digest))
    if held:
        target.__dict__[_TEXTS_HELD] = held


def _after_write(_mapper: Any, _connection: Connection, target: Any) -> None:
    for name, value in target.__dict__.pop(_TEXTS_HELD, {}).items():
        set_committed_value(target, name, value)


def _store(connection: Connection, text: str, base: bytes | None) -> bytes:
    """Insert `text` into `texts` unless its digest is there; its digest."""
    raw = text.encode("utf-8")
    digest = hashlib.sha256(raw).digest()
    depth, base_text = 0, None
    if base is not None and base != digest:
        found = connection.execute(select(StoredText.depth).where(StoredText.digest == base)).first()
        if found is not None and found[0] < MAX_DEPTH:
            known = _texts_by_digest(connection, [base])[base]
            if known != _lost(base):
                depth, base_text = found[0] + 1, known
    packed = compress(raw, base_text)
    row = {"digest": digest, "compression": "zlib", "base": base if base_text else None, "depth": depth, "data": packed}
    if len(packed) >= len(raw):
        row.update(compression="", base=None, depth=0, data=raw)
    connection.execute(_insert_ignore(connection), [row])
    remember(digest, text)
    return digest


def _insert_ignore(connection: Connection) -> Any:
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(StoredText).on_conflict_do_nothing(index_elements=["digest"])


def _base_of(connection: Connection, target: Any, name: str, stored: dict[str, bytes]) -> bytes | None:
    """The digest of a stored text much like `target.name` is likely to be, if there is one.

    Only texts of committed rows, or of this row, are used: a base must outlive the text built on it."""
    if isinstance(target, Program):
        if name == "diff":
            return stored.get("code") or digest_of(target.code)
        if target.parent_id is None:
            return None
        return _first(connection, select(Program.code).where(Program.id == target.parent_id))
    if isinstance(target, EvaluationRow | RepeatEvaluation) and name == "feedback":
        if isinstance(target, RepeatEvaluation):  # the same stage's first evaluation
            program = target.program_id
        else:  # the parent's evaluation of the same stage
            parent = connection.execute(select(Program.parent_id).where(Program.id == target.program_id)).first()
            program = None if parent is None else parent[0]
        if program is None:
            return None
        return _first(
            connection,
            select(EvaluationRow.feedback).where(
                EvaluationRow.program_id == program, EvaluationRow.stage == target.stage
            ),
        )
    if isinstance(target, LLMCall):
        if name == "response":
            return stored.get("prompt") or digest_of(target.prompt)
        previous = select(LLMCall.prompt).where(LLMCall.run_id == target.run_id).order_by(LLMCall.id.desc())
        return _first(connection, previous.limit(1))
    return None


def _first(connection: Connection, stmt: Any) -> bytes | None:
    row = connection.execute(stmt).first()
    return None if row is None else digest_of(row[0])


for _table in STORED_ONCE:
    event.listen(_table, "before_insert", _before_write)
    event.listen(_table, "before_update", _before_write)
    event.listen(_table, "after_insert", _after_write)
    event.listen(_table, "after_update", _after_write)


# reading ---------------------------------------------------------------------------------------
def _texts_by_digest(connection: Connection | Session, digests: Iterable[bytes]) -> dict[bytes, str]:
    """The text of each digest (a placeholder for one that is missing or whose base is)."""
    columns = select(StoredText.digest, StoredText.compression, StoredText.base, StoredText.data)
    return decode_texts(lambda chunk: connection.execute(columns.where(StoredText.digest.in_(chunk))), digests)


def texts_of(s: Session, values: Iterable[Any]) -> dict[str, str]:
    """The text behind each reference among `values` (anything else is left out)."""
    wanted = {value: digest for value in values if (digest := digest_of(value)) is not None}
    if not wanted:
        return {}
    found = _texts_by_digest(s, wanted.values())
    return {value: found[digest] for value, digest in wanted.items()}


def as_records(s: Session, cls: type[T], rows: Iterable[Any]) -> list[T]:
    """The record `cls` of each row (as `as_record`), with every stored-once text read back."""
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    long_names = [name for name in names if name in _RECORD_FIELDS]
    fields = [{name: getattr(row, name) for name in names} for row in rows]
    if long_names:
        texts = texts_of(s, (values[name] for values in fields for name in long_names))
        if texts:
            for values in fields:
                for name in long_names:
                    value = values[name]
                    if value in texts:
                        values[name] = texts[value]
    return [cls(**values) for values in fields]


def as_one_record(s: Session, cls: type[T], row: Any) -> T:
    return as_records(s, cls, [row])[0]
