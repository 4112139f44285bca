"""The audit trail's rows: events appended to the hash chain, the chain's state, lookups, retention's deletions.

Appending is bookkeeping (:meth:`~kmsd.store.sql.connections.SqlConnections.bookkeeping_transaction`): no cache
holds an event, so writing one neither empties the key cache nor tells other nodes of a change.  Lookups answer
newest first, by ``(event_time, sequence)``, which is also their paging position.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from kmsd.store.audit_records import AuditChainState, AuditEventQuery, AuditEventRow
from kmsd.store.sql.codec import Row, decode_time, encode_time
from kmsd.store.sql.connections import SqlConnections

_EVENT_COLUMNS = (
    "sequence",
    "account_id",
    "event_id",
    "event_time",
    "event_source",
    "event_name",
    "read_only",
    "username",
    "access_key_id",
    "principal_arn",
    "error_code",
    "record",
    "previous_hash",
    "hash",
)
_SELECT_EVENTS = f"SELECT {', '.join(_EVENT_COLUMNS)} FROM audit_events"
_RESOURCE_COLUMNS = ("sequence", "position", "account_id", "event_time", "resource_type", "resource_name")
_CHAIN_COLUMNS = ("head_sequence", "head_hash", "head_seal", "pruned_sequence", "pruned_hash", "pruned_seal")
# Rows per INSERT: 14 columns × 500 stays far below SQLite's 32 766 parameters.
_INSERT_ROWS = 500


class AuditEventQueries(SqlConnections):
    """The audit_events, audit_event_resources and audit_chain tables."""

    def audit_chain(self) -> AuditChainState | None:
        """The chain's state; None before the first event was ever written."""
        row = self._fetchone(f"SELECT {', '.join(_CHAIN_COLUMNS)} FROM audit_chain WHERE id = 1")
        if row is None:
            return None
        return AuditChainState(int(row[0]), str(row[1]), str(row[2]), int(row[3]), str(row[4]), str(row[5]))

    def put_audit_chain(self, state: AuditChainState) -> None:
        values = (
            state.head_sequence,
            state.head_hash,
            state.head_seal,
            state.pruned_sequence,
            state.pruned_hash,
            state.pruned_seal,
        )
        updates = ", ".join(f"{column} = excluded.{column}" for column in _CHAIN_COLUMNS)
        self._write(
            f"INSERT INTO audit_chain (id, {', '.join(_CHAIN_COLUMNS)}) VALUES (1, ?, ?, ?, ?, ?, ?) "
            f"ON CONFLICT (id) DO UPDATE SET {updates}",
            values,
            "the audit chain's state",
        )

    def insert_audit_events(self, rows: Sequence[AuditEventRow]) -> None:
        """Append ``rows`` (sequences not taken yet) with their resources."""
        for start in range(0, len(rows), _INSERT_ROWS):
            page = rows[start : start + _INSERT_ROWS]
            self._insert_many("audit_events", _EVENT_COLUMNS, [_event_values(row) for row in page])
            resources = [
                (row.sequence, position, row.account_id, encode_time(row.event_time), kind, name)
                for row in page
                for position, (kind, name) in enumerate(row.resources)
            ]
            for first in range(0, len(resources), _INSERT_ROWS):
                self._insert_many("audit_event_resources", _RESOURCE_COLUMNS, resources[first : first + _INSERT_ROWS])

    def _insert_many(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        if not rows:
            return
        row_values = "(" + ", ".join(["?"] * len(columns)) + ")"
        self._write(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES " + ", ".join([row_values] * len(rows)),
            [value for row in rows for value in row],
            f"rows of {table}",
        )

    def find_audit_events(self, query: AuditEventQuery, limit: int) -> list[AuditEventRow]:
        """The events ``query`` matches, newest first (by time, then by sequence), at most ``limit``."""
        where: list[str] = []
        parameters: list[Any] = []

        def match(condition: str, *values: Any) -> None:
            where.append(condition)
            parameters.extend(values)

        if query.account_id is not None:
            match("account_id = ?", query.account_id)
        if query.start is not None:
            match("event_time >= ?", encode_time(query.start))
        if query.end is not None:
            match("event_time <= ?", encode_time(query.end))
        for column, value in (
            ("event_id", query.event_id),
            ("event_name", query.event_name),
            ("event_source", query.event_source),
            ("username", query.username),
            ("access_key_id", query.access_key_id),
            ("principal_arn", query.principal_arn),
            ("error_code", query.error_code),
        ):
            if value is not None:
                match(f"{column} = ?", value)
        if query.read_only is not None:
            match("read_only = ?", int(query.read_only))
        if query.errors_only:
            where.append("error_code IS NOT NULL")
        account = "account_id = ? AND " if query.account_id is not None else ""
        account_values = (query.account_id,) if query.account_id is not None else ()
        if query.resource_type is not None:
            match(
                f"sequence IN (SELECT sequence FROM audit_event_resources WHERE {account}resource_type = ?)",
                *account_values,
                query.resource_type,
            )
        if query.resource_name is not None:
            match(
                f"sequence IN (SELECT sequence FROM audit_event_resources WHERE {account}resource_name = ?)",
                *account_values,
                query.resource_name,
            )
        if query.resource_key_id is not None:
            # A KMS key's ARN ends in ":key/<id>", in whichever account and Region it lives.
            suffix = f":key/{query.resource_key_id}"
            match(
                f"sequence IN (SELECT sequence FROM audit_event_resources WHERE {account}"
                "substr(resource_name, length(resource_name) - ? + 1) = ?)",
                *account_values,
                len(suffix),
                suffix,
            )
        if query.before is not None:
            when, sequence = query.before
            stamp = encode_time(when)
            match("(event_time < ? OR (event_time = ? AND sequence < ?))", stamp, stamp, sequence)
        condition = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self._fetchall(
            f"{_SELECT_EVENTS}{condition} ORDER BY event_time DESC, sequence DESC LIMIT ?", (*parameters, limit)
        )
        return self._with_resources(rows)

    def audit_events_after(self, sequence: int, limit: int) -> list[AuditEventRow]:
        """Up to ``limit`` events with a sequence above ``sequence``, in chain order (kmsd audit verify)."""
        rows = self._fetchall(f"{_SELECT_EVENTS} WHERE sequence > ? ORDER BY sequence LIMIT ?", (sequence, limit))
        return self._with_resources(rows)

    def audit_event_with_hash(self, hash_value: str, first: int, last: int) -> AuditEventRow | None:
        """The stored event whose hash is ``hash_value`` among the sequences ``first`` to ``last`` (where a broken
        link points: hashes are not indexed, the sequence range is)."""
        rows = self._fetchall(
            f"{_SELECT_EVENTS} WHERE sequence BETWEEN ? AND ? AND hash = ? ORDER BY sequence LIMIT 1",
            (first, last, hash_value),
        )
        found = self._with_resources(rows)
        return found[0] if found else None

    def first_audit_sequence_since(self, when: datetime) -> int | None:
        """The lowest sequence of an event at or after ``when`` (retention keeps it and what follows)."""
        row = self._fetchone("SELECT min(sequence) FROM audit_events WHERE event_time >= ?", (encode_time(when),))
        return None if row is None or row[0] is None else int(row[0])

    def delete_audit_events_through(self, sequence: int) -> int:
        """Delete every event with a sequence up to ``sequence`` and their resources; how many events went."""
        self._write("DELETE FROM audit_event_resources WHERE sequence <= ?", (sequence,), "the audit events' resources")
        return self._write("DELETE FROM audit_events WHERE sequence <= ?", (sequence,), "audit events")

    def _with_resources(self, rows: list[Row]) -> list[AuditEventRow]:
        if not rows:
            return []
        sequences = [int(row[0]) for row in rows]
        found: dict[int, list[tuple[str, str]]] = {sequence: [] for sequence in sequences}
        marks = ", ".join(["?"] * len(sequences))
        for sequence, kind, name in self._fetchall(
            f"SELECT sequence, resource_type, resource_name FROM audit_event_resources WHERE sequence IN ({marks}) "
            "ORDER BY sequence, position",
            sequences,
        ):
            found[int(sequence)].append((str(kind), str(name)))
        return [_event_row(row, tuple(found[int(row[0])])) for row in rows]


def _event_values(row: AuditEventRow) -> Row:
    return (
        row.sequence,
        row.account_id,
        row.event_id,
        encode_time(row.event_time),
        row.event_source,
        row.event_name,
        int(row.read_only),
        row.username,
        row.access_key_id,
        row.principal_arn,
        row.error_code,
        row.record,
        row.previous_hash,
        row.hash,
    )


def _event_row(row: Row, resources: tuple[tuple[str, str], ...]) -> AuditEventRow:
    return AuditEventRow(
        sequence=int(row[0]),
        account_id=str(row[1]),
        event_id=str(row[2]),
        event_time=decode_time(str(row[3])),
        event_source=str(row[4]),
        event_name=str(row[5]),
        read_only=bool(row[6]),
        username=row[7],
        access_key_id=row[8],
        principal_arn=row[9],
        error_code=row[10],
        resources=resources,
        record=str(row[11]),
        previous_hash=str(row[12]),
        hash=str(row[13]),
    )
