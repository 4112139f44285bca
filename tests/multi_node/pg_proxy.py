"""A TCP proxy in front of PostgreSQL that records every statement a node sends, by connection.

It reads the frontend half of PostgreSQL's wire protocol (protocol 3.0: after the startup packet, each message
is a type byte and a length that counts itself) and notes each round trip: a simple Query (``Q``) or a Sync
(``S``) that ends an extended-protocol exchange, with the SQL of its Parse (or of the statement a Bind names,
once psycopg has prepared it).  The node must connect without TLS (``sslmode=disable``), or there is nothing
to read.  Counting on the wire, rather than in PostgreSQL's statistics (flushed late and shared by every
session of the database), says exactly which statements a node's requests cost; :func:`split` sorts them from
what kmsd sends on its own clock (the listener's probes, the background lease, the periodic sweep).
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import struct
import threading
from collections import Counter
from dataclasses import dataclass, field

# Startup-phase requests that precede the real startup packet (the server answers each with one byte).
_NEGOTIATION_CODES = (80877103, 80877104)  # SSLRequest, GSSENCRequest


@dataclass(frozen=True)
class RoundTrip:
    connection: int  # the proxy's number for the client connection, in order of arrival
    sql: str


@dataclass
class _Connection:
    number: int
    statements: dict[str, str] = field(default_factory=dict)  # prepared statement name -> SQL
    pending: list[str] = field(default_factory=list)  # SQL of the exchange the next Sync ends


class PostgresProxy:
    """Listens on 127.0.0.1 (``port``) and forwards to ``upstream``; ``round_trips`` grows as statements pass."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self.round_trips: list[RoundTrip] = []
        self.first_sql: dict[int, str] = {}  # what each connection sent first: names the listener and the lease
        self._numbers = itertools.count(1)
        self._sockets: dict[int, tuple[socket.socket, socket.socket]] = {}  # by connection number
        # While set, a connection that sends LISTEN is cut at once: the node cannot hear notifications.
        self.deaf = threading.Event()
        # Set while a connection's bytes flow; a stalled one holds them (both ways) and stays open, as a network
        # path that went dark does.
        self._flowing: dict[int, threading.Event] = {}
        threading.Thread(target=self._accept, name="pg-proxy", daemon=True).start()

    def since(self, mark: int) -> list[RoundTrip]:
        with self._lock:
            return self.round_trips[mark:]

    def mark(self) -> int:
        with self._lock:
            return len(self.round_trips)

    def close(self) -> None:
        self._listener.close()
        for client, server in list(self._sockets.values()):
            client.close()
            server.close()

    def stall_listeners(self, stalled: bool) -> None:
        """Hold (or let flow again) the bytes of every connection that listens for notifications."""
        for number, sql in list(self.first_sql.items()):
            if sql.startswith("LISTEN"):
                (self._flowing[number].clear if stalled else self._flowing[number].set)()

    def cut_listeners(self) -> None:
        """Drop every connection that listens for notifications (both sides, as a network failure would)."""
        for number, sql in list(self.first_sql.items()):
            if sql.startswith("LISTEN") and number in self._sockets:
                client, server = self._sockets[number]
                _close(client)
                _close(server)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self._upstream)
            connection = _Connection(next(self._numbers))
            self._sockets[connection.number] = (client, server)
            flowing = self._flowing[connection.number] = threading.Event()
            flowing.set()
            threading.Thread(target=self._frontend, args=(client, server, connection), daemon=True).start()
            threading.Thread(target=_pump, args=(server, client, flowing), daemon=True).start()

    def _frontend(self, client: socket.socket, server: socket.socket, connection: _Connection) -> None:
        """Forward the client's bytes, reading its messages on the way."""
        buffer = b""
        started = False
        while data := _relay(client, server, self._flowing[connection.number]):
            buffer += data
            while True:
                if not started:
                    if len(buffer) < 8:
                        break
                    length, code = struct.unpack("!ii", buffer[:8])
                    if len(buffer) < length:
                        break
                    buffer = buffer[length:]
                    started = code not in _NEGOTIATION_CODES
                    continue
                if len(buffer) < 5:
                    break
                kind = buffer[:1]
                length = struct.unpack("!i", buffer[1:5])[0]
                if len(buffer) < 1 + length:
                    break
                body, buffer = buffer[5 : 1 + length], buffer[1 + length :]
                self._message(connection, kind, body)

    def _message(self, connection: _Connection, kind: bytes, body: bytes) -> None:
        if kind == b"Q":
            self._note(connection, body.split(b"\0", 1)[0].decode())
        elif kind == b"P":
            name, sql, _ = body.split(b"\0", 2)
            if name:
                connection.statements[name.decode()] = sql.decode()
            connection.pending.append(sql.decode())
        elif kind == b"B":
            _, statement, _ = body.split(b"\0", 2)
            if statement and statement.decode() in connection.statements:
                connection.pending.append(connection.statements[statement.decode()])
        elif kind == b"S":
            self._note(connection, "; ".join(dict.fromkeys(connection.pending)) or "(sync)")
            connection.pending.clear()

    def _note(self, connection: _Connection, sql: str) -> None:
        if sql.startswith("LISTEN") and self.deaf.is_set():
            client, server = self._sockets[connection.number]
            _close(client)
            _close(server)
        with self._lock:
            self.first_sql.setdefault(connection.number, sql)
            self.round_trips.append(RoundTrip(connection.number, sql))


def _pump(source: socket.socket, target: socket.socket, flowing: threading.Event) -> None:
    while _relay(source, target, flowing):
        pass


def _relay(source: socket.socket, target: socket.socket, flowing: threading.Event) -> bytes:
    """Pass on what ``source`` sends next (once ``flowing``); b"" once either side is gone (the other is then
    shut down too)."""
    try:
        data = source.recv(65536)
    except OSError:
        data = b""
    if not data:
        _close(target)
        return b""
    flowing.wait()
    try:
        target.sendall(data)
    except OSError:
        _close(source)
        return b""
    return data


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


# What the node's periodic sweep reads and writes (KmsService.sweep, StsService.sweep), on the pool's connections:
# imported material past its ValidTo, keys whose deletion window ended, the purge count, rotations due, and the
# deletion of sessions expired a day ago.
SWEEP_MARKERS = (
    "FROM imported_key_materials WHERE valid_to IS NOT NULL",
    "FROM keys WHERE key_state = 'PendingDeletion'",
    "SELECT value FROM settings WHERE name",
    "FROM keys WHERE rotation_enabled = 1 AND next_rotation_date",
    "DELETE FROM sts_sessions WHERE expires_at",
)
# The statements around one write of a transaction (PostgresConnections.transaction and _write).
TRANSACTION_CONTROL = (
    "BEGIN",
    "SELECT pg_advisory_xact_lock($1)",
    "SAVEPOINT kmsd_write",
    "RELEASE SAVEPOINT kmsd_write",
    "COMMIT",
)


def lease_connections(proxy: PostgresProxy) -> set[int]:
    """The background lease's connection: each sweep starts with a statement on it."""
    return {number for number, sql in proxy.first_sql.items() if "pg_try_advisory_lock" in sql}


def background_connections(proxy: PostgresProxy) -> set[int]:
    """The lease's connection and the listener's: each talks on its own clock, not per request."""
    return lease_connections(proxy) | {number for number, sql in proxy.first_sql.items() if sql.startswith("LISTEN")}


@dataclass
class Split:
    """A node's round trips, by what they were for."""

    requests: list[str]  # on the pool's connections, for requests: what a warm hot path must not have
    sweep: list[str]  # the periodic sweep's own statements (SWEEP_MARKERS)
    control: list[str]  # transaction control, of the sweep's write or of a request's
    background: Counter[str]  # on the listener's and the lease's connections
    # The audit trail's own transactions (each a list of its statements): its writer thread's batches of
    # read-only calls' events and retention's deletions; never one per request.
    audit: list[list[str]] = field(default_factory=list)

    def sweep_transactions_only(self) -> bool:
        """Whether all transaction control belongs to the sweep's one write (expired sessions) per sweep."""
        deletions = sum(sql.startswith("DELETE FROM sts_sessions") for sql in self.sweep)
        return len(self.control) == len(TRANSACTION_CONTROL) * deletions


def split(proxy: PostgresProxy, trips: list[RoundTrip]) -> Split:
    background = background_connections(proxy)
    on_pool, audit = _audit_transactions([trip for trip in trips if trip.connection not in background])
    sweep = [sql for sql in on_pool if any(marker in sql for marker in SWEEP_MARKERS)]
    control = [sql for sql in on_pool if sql in TRANSACTION_CONTROL]
    return Split(
        [sql for sql in on_pool if sql not in sweep and sql not in control],
        sweep,
        control,
        Counter(trip.sql for trip in trips if trip.connection in background),
        audit,
    )


def _audit_transactions(trips: list[RoundTrip]) -> tuple[list[str], list[list[str]]]:
    """``trips`` without the audit trail's transactions (those that touch its tables), and those transactions.

    A transaction is what one connection sends from BEGIN to COMMIT or ROLLBACK (a connection serves one thread at
    a time); a statement outside one stands alone.  The window may open in the middle of one: what comes before
    the connection's first BEGIN is counted as one transaction.
    """
    groups: list[list[RoundTrip]] = []
    open_groups: dict[int, list[RoundTrip]] = {}
    for trip in trips:
        group = open_groups.get(trip.connection)
        if group is None or trip.sql == "BEGIN":
            group = []
            groups.append(group)
            open_groups[trip.connection] = group
        group.append(trip)
        if trip.sql in ("COMMIT", "ROLLBACK") or (trip.sql not in TRANSACTION_CONTROL and len(group) == 1):
            del open_groups[trip.connection]
    audit = [group for group in groups if any("audit_" in trip.sql for trip in group)]
    # A transaction cut by the window's edge (begun before it, or ending after it) may show nothing but its
    # transaction control: what it was for is outside the window, so it is counted with neither side.
    cut = [
        group
        for group in groups
        if all(trip.sql in TRANSACTION_CONTROL for trip in group)
        and not (group[0].sql == "BEGIN" and group[-1].sql in ("COMMIT", "ROLLBACK"))
    ]
    set_apart = {id(trip) for group in (*audit, *cut) for trip in group}
    return [trip.sql for trip in trips if id(trip) not in set_apart], [[trip.sql for trip in group] for group in audit]
