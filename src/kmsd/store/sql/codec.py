"""One generic codec between a frozen record dataclass and a row of its SQLite table.

A :class:`RowCodec` is declared once per record (see :mod:`kmsd.store.sql.rows`): the
columns are the dataclass's fields, in their order and under their names, and the
declaration adds only what differs from "store the value as it is": a
:class:`Conversion` for the fields stored in another form (times as fixed-width UTC
text, booleans as 0/1, dicts and tuples as JSON) and, for a column read through an SQL
expression, that expression.  From this the codec builds, once, the column lists and
statements the query modules use and the per-column converters; turning a row into a
record is then one pass over precomputed functions, with no reflection per row (a
``get_key`` miss decodes a row on the request path).  No SQL is executed here.
"""

from __future__ import annotations

import dataclasses
import json
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from kmsd.store.base import StoreError

Row = tuple[Any, ...]
R = TypeVar("R")


def encode_time(value: datetime) -> str:
    """The stored form: UTC, microseconds, fixed width, so that text order is time order."""
    if value.tzinfo is None:
        # A naive datetime would be read as local time and silently shift; records promise aware UTC.
        raise StoreError(f"naive datetime `{value.isoformat()}`: the store needs timezone-aware datetimes")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def decode_time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def encode_json(value: object) -> str:
    """Compact JSON, non-ASCII kept as it is (the stored form of tags, lists and encryption contexts)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class Conversion:
    """How one field is stored: ``encode`` turns the field's value into the column's, ``decode`` back.

    ``None`` is passed through both ways without calling either when ``optional`` is set,
    so one declaration serves ``datetime`` and ``datetime | None`` alike.
    """

    encode: Callable[[Any], Any]
    decode: Callable[[Any], Any]
    optional: bool = False

    def or_none(self) -> Conversion:
        """The same conversion for a nullable column."""
        return Conversion(self.encode, self.decode, optional=True)


TIME = Conversion(encode_time, decode_time)
# SQLite has no boolean: the schema stores 0 or 1.
BOOL = Conversion(int, bool)
# Tags and encryption contexts: a JSON object.
JSON_OBJECT = Conversion(encode_json, json.loads)
# Tuples of strings (grant operations, session policy ARNs, transitive tag keys): a JSON array.
JSON_TUPLE = Conversion(lambda value: encode_json(list(value)), lambda text: tuple(json.loads(text)))
# Wrapped secrets and material: a BLOB, read back as ``bytes`` whatever buffer type the driver hands out.
BLOB = Conversion(bytes, bytes)


def _encoder(conversion: Conversion) -> Callable[[Any], Any]:
    if not conversion.optional:
        return conversion.encode
    encode = conversion.encode
    return lambda value: None if value is None else encode(value)


def _decoder(conversion: Conversion) -> Callable[[Any], Any]:
    if not conversion.optional:
        return conversion.decode
    decode = conversion.decode
    return lambda value: None if value is None else decode(value)


class RowCodec(Generic[R]):
    """The columns of ``table`` for the record type ``record``, and the two directions between them.

    The first field is the identity a row is updated by (``update_sql`` sets every other
    column ``WHERE`` it matches), unless ``identity`` names the fields that are (a key's id
    and Region).  ``expressions`` maps a field to the SQL expression that
    selects it when it is not a plain column (an inline policy's owner kind, say): such a
    codec still decodes rows but is not meant for ``insert_sql``.
    """

    def __init__(
        self,
        record: type[R],
        table: str,
        conversions: Mapping[str, Conversion] | None = None,
        expressions: Mapping[str, str] | None = None,
        identity: tuple[str, ...] | None = None,
    ) -> None:
        names = tuple(field.name for field in dataclasses.fields(record))  # type: ignore[arg-type]
        identity = identity or names[:1]
        conversions = conversions or {}
        expressions = expressions or {}
        unknown = (set(conversions) | set(expressions) | set(identity)) - set(names)
        if unknown:
            raise StoreError(f"{record.__name__} has no field {', '.join(sorted(unknown))}: the column table is wrong")
        self.record = record
        self._make: Callable[..., R] = record
        self.table = table
        self.names = names
        self._selected = tuple(expressions.get(name, name) for name in names)
        self.columns = ", ".join(self._selected)
        self.placeholders = ", ".join("?" * len(names))
        self._identity = tuple(names.index(name) for name in identity)
        self._others = tuple(index for index, name in enumerate(names) if name not in identity)
        self.assignments = ", ".join(f"{names[index]} = ?" for index in self._others)
        matches = " AND ".join(f"{name} = ?" for name in identity)
        self.insert_sql = f"INSERT INTO {table} ({self.columns}) VALUES ({self.placeholders})"
        self.select_sql = f"SELECT {self.columns} FROM {table}"
        self.update_sql = f"UPDATE {table} SET {self.assignments} WHERE {matches}"
        # Built once: the fields read in one C call, and (position, converter) for the converted columns
        # only, so that a row costs a copy plus one call per converted value (get_key decodes on a miss).
        if len(names) < 2:
            # attrgetter of one name returns the bare value, not a tuple; every table has an identity and more.
            raise StoreError(f"{record.__name__} has fewer than two fields: not a record of a table")
        self._values_of = operator.attrgetter(*names)
        converted = [(index, conversions[name]) for index, name in enumerate(names) if name in conversions]
        self._encoders = tuple((index, _encoder(conversion)) for index, conversion in converted)
        self._decoders = tuple((index, _decoder(conversion)) for index, conversion in converted)
        self._width = len(names)

    def columns_of(self, table_alias: str) -> str:
        """The column list qualified by ``table_alias`` (for a join); plain columns only."""
        if self._selected != self.names:
            raise StoreError(f"{self.record.__name__} is read through SQL expressions, which a join cannot qualify")
        return ", ".join(f"{table_alias}.{name}" for name in self.names)

    def to_row(self, record: R) -> Row:
        """The record's values in column order, in their stored forms."""
        values = list(self._values_of(record))
        for index, encode in self._encoders:
            values[index] = encode(values[index])
        return tuple(values)

    def update_values(self, record: R) -> Row:
        """The parameters of ``update_sql``: every column but the identity, then the identity."""
        row = self.to_row(record)
        return (*(row[index] for index in self._others), *(row[index] for index in self._identity))

    def from_row(self, row: Row) -> R:
        """The record a row of ``columns`` holds (the fields are positional, in declaration order)."""
        if len(row) != self._width:
            # A wrong column list, never a record with its fields shifted.
            raise StoreError(f"a row of {len(row)} columns is no {self.record.__name__} ({self._width} columns)")
        values = list(row)
        for index, decode in self._decoders:
            values[index] = decode(values[index])
        return self._make(*values)
