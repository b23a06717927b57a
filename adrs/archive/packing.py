"""The compact JSON columns (compact.py) through SQLAlchemy: names stored once, dictionaries packed and unpacked.

Owns: `pack_values`, which turns the metrics, features and per-instance dictionaries of a row
about to be written into arrays under a names key, making sure of the names row in `metric_names`
in the writer's own transaction (an insert that does nothing when the row is there: so a
transaction that rolls back can never leave a reference to a names row that is not stored); and
`unpack_values`, which reads the names a batch of stored values needs (one query for those this
process has not seen yet).

Must not: decide what is stored (store.py, rescores.py, integrity.py, migrate.py do) or be
imported outside adrs/archive/.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from adrs.archive.compact import PACKED_COLUMNS, learn_names, missing_names, pack
from adrs.archive.schema import MetricNames

_NAMES = MetricNames.__table__
_CHUNK = 500  # keys per IN (...) query
_WRITTEN = "adrs_names_written"  # in a DBAPI connection's info: (transaction, keys it made sure of)
# Per open database, the keys whose row was found holding the right names (rows never change).
_verified: WeakKeyDictionary[Engine, set[str]] = WeakKeyDictionary()


def pack_values(c: Connection, values: dict[str, Any]) -> dict[str, Any]:
    """`values` with each dictionary of PACKED_COLUMNS stored as an array where that is shorter."""
    store = functools.partial(_store_names, c)
    return {name: pack(value, store) if name in PACKED_COLUMNS else value for name, value in values.items()}


def unpack_values(s: Session | Connection, values: Iterable[Any]) -> None:
    """Learn the names every stored value among `values` needs (then `compact.unpack` reads them)."""
    keys = sorted(missing_names(values))
    for start in range(0, len(keys), _CHUNK):
        query = select(_NAMES.c.key, _NAMES.c.names).where(_NAMES.c.key.in_(keys[start : start + _CHUNK]))
        learn_names(s.execute(query).all())


def _store_names(c: Connection, key: str, names: tuple[str, ...]) -> bool:
    """Make sure `metric_names` holds `names` under `key`, in the caller's transaction (once per
    transaction and key); False if it holds another list there (12 hex digits of a sha256
    colliding: the dictionary is then stored whole)."""
    transaction = c.get_transaction()
    held = c.info.get(_WRITTEN)
    if held is None or held[0] is not transaction:
        held = c.info[_WRITTEN] = (transaction, set())
    written = held[1]
    if key in written:
        return True
    inserted = c.execute(_insert_ignore(c.dialect.name), {"key": key, "names": list(names)}).rowcount == 1
    if not inserted:
        verified = _verified.setdefault(c.engine, set())
        if key not in verified:
            stored = c.execute(select(_NAMES.c.names).where(_NAMES.c.key == key)).scalar()
            if list(stored or []) != list(names):
                return False
            verified.add(key)  # a row is never changed: if it is there, it holds these names
    written.add(key)
    return True


@functools.cache
def _insert_ignore(dialect: str) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(MetricNames).on_conflict_do_nothing(index_elements=["key"])
