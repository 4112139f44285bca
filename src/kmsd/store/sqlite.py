"""The :class:`~kmsd.store.base.Store` on one SQLite file, for a single node (several processes may share it).

Durability.  The file runs in WAL journal mode with ``synchronous=NORMAL``.
A commit appends the transaction to the ``-wal`` file with ``write()`` before
``COMMIT`` returns; the WAL is fsynced only at checkpoints.  The contract
kmsd offers is "a key acknowledged to the client survives ``kill -9`` of the
server": once ``write()`` returned, the data is in the operating system's page
cache and outlives the process, so NORMAL is enough (``tests/store`` kills a
writer with SIGKILL right after its commit and reopens the file).  A power
loss may lose the last commits but never corrupts the file; ``synchronous=FULL``
would be the setting for that stronger promise, at an fsync per commit.

Concurrency.  ``busy_timeout`` lets another process (``kmsd accounts create``
next to a running server) wait for the write lock instead of failing.  Inside
this process the store is used from the event loop thread and from worker
threads.  All writes go through one *writer* connection, serialised by a
lock and wrapped in ``BEGIN IMMEDIATE`` by :meth:`SqliteStore.transaction`;
reads outside a transaction use a per-thread, ``query_only`` *reader*
connection, so they never wait for the lock and never see another thread's
uncommitted writes, while a thread inside its own transaction reads through
the writer and sees its own writes.  Measured against the alternative (one
connection for everything, behind the same lock) on the 2-core build machine,
Python 3.11, SQLite 3.40, 1 000 keys, lookups drawn from ``get_key`` /
``get_key_material`` / ``get_access_key`` (median of 5 runs; last column one 2-second run):

==========================  ========  =========  ===============================
lookups per second          1 thread  4 threads  2 readers + 1 writer, while
                                                 another process holds the
                                                 write lock 50 ms in every 100
==========================  ========  =========  ===============================
one connection + lock       52 000    32 000     13 600/s, slowest read 79 ms
reader per thread (kept)    58 000    24 000     29 200/s, slowest read 8 ms
==========================  ========  =========  ===============================

Four threads on two cores lose to the GIL either way (``sqlite3`` releases it
around every step); the single connection suffers less from that convoy, but
every read must then wait behind any write transaction of this process,
including one that sits in ``busy_timeout`` for another process, which stalls
the event loop.  The reader-per-thread design is faster where the server
spends its time (one thread, or reads next to writes) and never makes a read
wait for a write.

Change detection.  ``PRAGMA data_version`` on a connection changes when
*another* connection commits and "is unchanged for commits made on the same
database connection" (sqlite.org/pragma.html#pragma_data_version; checked by
hand on SQLite 3.40 and by ``tests/store``; a rollback elsewhere changes nothing).
Because every write of this store goes through the writer connection, asking
the writer tells exactly "someone else committed": another process, or
another ``SqliteStore`` on the same file.

Key cache.  Every KMS call reads its key, so :meth:`SqliteStore.get_key`
keeps the records it read (outside a transaction) in memory.  The end of
every transaction of this store empties the cache, and a read that was under
way meanwhile does not fill it (a generation counter), so this process never
sees a key older than its own last commit.  Another process's commits empty
it when :meth:`SqliteStore.changed_since_last_check` sees them, and
``get_key`` itself asks ``data_version`` at least every
``KEY_CACHE_CHECK_SECONDS``, so a foreign change to a key is seen within
that bound even by a store nobody asks about changes.  A thread inside its
own transaction always reads the database (its uncommitted writes count).

Errors.  Every ``sqlite3`` error leaves as :class:`StoreError`; a uniqueness
violation on insert (or an IAM rename onto a name already taken, in any case)
leaves as :class:`Conflict`; a write naming a record that does not exist (a
member of an unknown group, a version of an unknown policy) is a plain
:class:`StoreError`.  The schema and its rules (case-insensitive IAM names,
cascades) are described in ``migrations.py``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kmsd.store.base import Conflict, StoreError
from kmsd.store.migrations import LATEST_VERSION, MIGRATIONS
from kmsd.store.models import (
    AccessKeyRecord,
    Account,
    AliasRecord,
    GrantRecord,
    IamGroup,
    IamRole,
    IamUser,
    InlinePolicy,
    KeyMaterialRecord,
    KeyRecord,
    ManagedPolicy,
    OwnerKind,
    PolicyAttachment,
    PolicyVersion,
    SessionRecord,
)

BUSY_TIMEOUT_MS = 10_000
# How stale a cached key may be after another process changed it; DESIGN.md allows a second.
KEY_CACHE_CHECK_SECONDS = 0.1
_KEY_CACHE_LIMIT = 10_000

_UNIQUE_VIOLATIONS = frozenset({"SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE"})

_KEY_COLUMNS = (
    "key_id, account_id, region, description, key_usage, key_spec, origin, key_state, creation_date, "
    "policy, current_material_version, deletion_date, pending_deletion_window_days, rotation_enabled, "
    "rotation_period_days, next_rotation_date, multi_region, tags"
)
_KEY_PLACEHOLDERS = ", ".join("?" * 18)
_KEY_UPDATE = ", ".join(f"{column.strip()} = ?" for column in _KEY_COLUMNS.split(",")[1:])
_MATERIAL_COLUMNS = "key_id, version, material_id, wrapped_material, created_at, rotation_type"
_ALIAS_COLUMNS = "account_id, region, alias_name, target_key_id, creation_date, last_updated_date"
_ACCESS_KEY_COLUMNS = (
    "access_key_id, account_id, principal_arn, wrapped_secret, status, created_at, "
    "user_id, last_used_at, last_used_service, last_used_region"
)
_USER_COLUMNS = ("user_id", "account_id", "user_name", "path", "created_at", "permissions_boundary_arn", "tags")
_GROUP_COLUMNS = ("group_id", "account_id", "group_name", "path", "created_at")
_ROLE_COLUMNS = (
    "role_id",
    "account_id",
    "role_name",
    "path",
    "created_at",
    "assume_role_policy",
    "description",
    "max_session_duration",
    "permissions_boundary_arn",
    "tags",
)
_POLICY_COLUMNS = (
    "arn",
    "policy_id",
    "account_id",
    "policy_name",
    "path",
    "default_version_id",
    "created_at",
    "updated_at",
    "description",
    "next_version_number",
    "tags",
)
_POLICY_VERSION_COLUMNS = "policy_arn, version_id, document, created_at"
_SESSION_COLUMNS = (
    "access_key_id",
    "wrapped_secret",
    "token_hash",
    "account_id",
    "kind",
    "principal_arn",
    "user_id",
    "created_at",
    "expires_at",
    "role_id",
    "session_name",
    "source_user_id",
    "session_policy",
    "session_policy_arns",
    "tags",
    "transitive_tag_keys",
)
_GRANT_COLUMNS = (
    "grant_id",
    "key_id",
    "grantee_principal",
    "operations",
    "issuing_account",
    "created_at",
    "name",
    "retiring_principal",
    "encryption_context_equals",
    "encryption_context_subset",
)
# Inline policies and attachments have one owner column per kind (see migrations.py).
_OWNER_COLUMNS: dict[OwnerKind, str] = {"user": "user_id", "group": "group_id", "role": "role_id"}
_OWNER_SELECT = (
    "CASE WHEN user_id IS NOT NULL THEN 'user' WHEN group_id IS NOT NULL THEN 'group' ELSE 'role' END, "
    "coalesce(user_id, group_id, role_id)"
)
# AWS's PathPrefix is a plain, case-sensitive string prefix; LIKE would fold case and treat `_` as a wildcard.
_PATH_PREFIX_MATCH = "substr(path, 1, length(?)) = ?"

Row = tuple[Any, ...]


def encode_time(value: datetime) -> str:
    """The stored form: UTC, microseconds, fixed width, so that text order is time order."""
    if value.tzinfo is None:
        # A naive datetime would be read as local time and silently shift; records promise aware UTC.
        raise StoreError(f"naive datetime `{value.isoformat()}`: the store needs timezone-aware datetimes")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def decode_time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _encode_optional_time(value: datetime | None) -> str | None:
    return None if value is None else encode_time(value)


def _decode_optional_time(text: str | None) -> datetime | None:
    return None if text is None else decode_time(text)


def _key_to_row(key: KeyRecord) -> Row:
    return (
        key.key_id,
        key.account_id,
        key.region,
        key.description,
        key.key_usage,
        key.key_spec,
        key.origin,
        key.key_state,
        encode_time(key.creation_date),
        key.policy,
        key.current_material_version,
        _encode_optional_time(key.deletion_date),
        key.pending_deletion_window_days,
        int(key.rotation_enabled),
        key.rotation_period_days,
        _encode_optional_time(key.next_rotation_date),
        int(key.multi_region),
        _encode_json(key.tags),
    )


def _key_from_row(row: Row) -> KeyRecord:
    return KeyRecord(
        key_id=row[0],
        account_id=row[1],
        region=row[2],
        description=row[3],
        key_usage=row[4],
        key_spec=row[5],
        origin=row[6],
        key_state=row[7],
        creation_date=decode_time(row[8]),
        policy=row[9],
        current_material_version=row[10],
        deletion_date=_decode_optional_time(row[11]),
        pending_deletion_window_days=row[12],
        rotation_enabled=bool(row[13]),
        rotation_period_days=row[14],
        next_rotation_date=_decode_optional_time(row[15]),
        multi_region=bool(row[16]),
        tags=json.loads(row[17]),
    )


def _material_from_row(row: Row) -> KeyMaterialRecord:
    return KeyMaterialRecord(
        key_id=row[0],
        version=row[1],
        material_id=row[2],
        wrapped_material=bytes(row[3]),
        created_at=decode_time(row[4]),
        rotation_type=row[5],
    )


def _alias_from_row(row: Row) -> AliasRecord:
    return AliasRecord(
        account_id=row[0],
        region=row[1],
        alias_name=row[2],
        target_key_id=row[3],
        creation_date=decode_time(row[4]),
        last_updated_date=decode_time(row[5]),
    )


def _access_key_to_row(key: AccessKeyRecord) -> Row:
    return (
        key.access_key_id,
        key.account_id,
        key.principal_arn,
        key.wrapped_secret,
        key.status,
        encode_time(key.created_at),
        key.user_id,
        _encode_optional_time(key.last_used_at),
        key.last_used_service,
        key.last_used_region,
    )


def _access_key_from_row(row: Row) -> AccessKeyRecord:
    return AccessKeyRecord(
        access_key_id=row[0],
        account_id=row[1],
        principal_arn=row[2],
        wrapped_secret=bytes(row[3]),
        status=row[4],
        created_at=decode_time(row[5]),
        user_id=row[6],
        last_used_at=_decode_optional_time(row[7]),
        last_used_service=row[8],
        last_used_region=row[9],
    )


def _encode_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _columns(names: Sequence[str], table_alias: str = "") -> str:
    prefix = f"{table_alias}." if table_alias else ""
    return ", ".join(prefix + name for name in names)


def _placeholders(names: Sequence[str]) -> str:
    return ", ".join("?" * len(names))


def _assignments(names: Sequence[str]) -> str:
    """``a = ?, b = ?`` for every column but the first (the identity a row is updated by)."""
    return ", ".join(f"{name} = ?" for name in names[1:])


def _owner_column(owner_kind: OwnerKind) -> str:
    try:
        return _OWNER_COLUMNS[owner_kind]
    except KeyError:
        raise StoreError(f"unknown owner kind `{owner_kind}`: expected user, group or role") from None


def _user_to_row(user: IamUser) -> Row:
    return (
        user.user_id,
        user.account_id,
        user.user_name,
        user.path,
        encode_time(user.created_at),
        user.permissions_boundary_arn,
        _encode_json(user.tags),
    )


def _user_from_row(row: Row) -> IamUser:
    return IamUser(
        user_id=row[0],
        account_id=row[1],
        user_name=row[2],
        path=row[3],
        created_at=decode_time(row[4]),
        permissions_boundary_arn=row[5],
        tags=json.loads(row[6]),
    )


def _group_to_row(group: IamGroup) -> Row:
    return (group.group_id, group.account_id, group.group_name, group.path, encode_time(group.created_at))


def _group_from_row(row: Row) -> IamGroup:
    return IamGroup(group_id=row[0], account_id=row[1], group_name=row[2], path=row[3], created_at=decode_time(row[4]))


def _role_to_row(role: IamRole) -> Row:
    return (
        role.role_id,
        role.account_id,
        role.role_name,
        role.path,
        encode_time(role.created_at),
        role.assume_role_policy,
        role.description,
        role.max_session_duration,
        role.permissions_boundary_arn,
        _encode_json(role.tags),
    )


def _role_from_row(row: Row) -> IamRole:
    return IamRole(
        role_id=row[0],
        account_id=row[1],
        role_name=row[2],
        path=row[3],
        created_at=decode_time(row[4]),
        assume_role_policy=row[5],
        description=row[6],
        max_session_duration=row[7],
        permissions_boundary_arn=row[8],
        tags=json.loads(row[9]),
    )


def _policy_to_row(policy: ManagedPolicy) -> Row:
    return (
        policy.arn,
        policy.policy_id,
        policy.account_id,
        policy.policy_name,
        policy.path,
        policy.default_version_id,
        encode_time(policy.created_at),
        encode_time(policy.updated_at),
        policy.description,
        policy.next_version_number,
        _encode_json(policy.tags),
    )


def _policy_from_row(row: Row) -> ManagedPolicy:
    return ManagedPolicy(
        arn=row[0],
        policy_id=row[1],
        account_id=row[2],
        policy_name=row[3],
        path=row[4],
        default_version_id=row[5],
        created_at=decode_time(row[6]),
        updated_at=decode_time(row[7]),
        description=row[8],
        next_version_number=row[9],
        tags=json.loads(row[10]),
    )


def _policy_version_from_row(row: Row) -> PolicyVersion:
    return PolicyVersion(policy_arn=row[0], version_id=row[1], document=row[2], created_at=decode_time(row[3]))


def _inline_policy_from_row(row: Row) -> InlinePolicy:
    return InlinePolicy(account_id=row[0], owner_kind=row[1], owner_id=row[2], policy_name=row[3], document=row[4])


def _attachment_from_row(row: Row) -> PolicyAttachment:
    return PolicyAttachment(account_id=row[0], owner_kind=row[1], owner_id=row[2], policy_arn=row[3])


def _session_to_row(session: SessionRecord) -> Row:
    return (
        session.access_key_id,
        session.wrapped_secret,
        session.token_hash,
        session.account_id,
        session.kind,
        session.principal_arn,
        session.user_id,
        encode_time(session.created_at),
        encode_time(session.expires_at),
        session.role_id,
        session.session_name,
        session.source_user_id,
        session.session_policy,
        _encode_json(list(session.session_policy_arns)),
        _encode_json(session.tags),
        _encode_json(list(session.transitive_tag_keys)),
    )


def _session_from_row(row: Row) -> SessionRecord:
    return SessionRecord(
        access_key_id=row[0],
        wrapped_secret=bytes(row[1]),
        token_hash=bytes(row[2]),
        account_id=row[3],
        kind=row[4],
        principal_arn=row[5],
        user_id=row[6],
        created_at=decode_time(row[7]),
        expires_at=decode_time(row[8]),
        role_id=row[9],
        session_name=row[10],
        source_user_id=row[11],
        session_policy=row[12],
        session_policy_arns=tuple(json.loads(row[13])),
        tags=json.loads(row[14]),
        transitive_tag_keys=tuple(json.loads(row[15])),
    )


def _encode_optional_json(value: object | None) -> str | None:
    return None if value is None else _encode_json(value)


def _decode_optional_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _grant_to_row(grant: GrantRecord) -> Row:
    return (
        grant.grant_id,
        grant.key_id,
        grant.grantee_principal,
        _encode_json(list(grant.operations)),
        grant.issuing_account,
        encode_time(grant.created_at),
        grant.name,
        grant.retiring_principal,
        _encode_optional_json(grant.encryption_context_equals),
        _encode_optional_json(grant.encryption_context_subset),
    )


def _grant_from_row(row: Row) -> GrantRecord:
    return GrantRecord(
        grant_id=row[0],
        key_id=row[1],
        grantee_principal=row[2],
        operations=tuple(json.loads(row[3])),
        issuing_account=row[4],
        created_at=decode_time(row[5]),
        name=row[6],
        retiring_principal=row[7],
        encryption_context_equals=_decode_optional_json(row[8]),
        encryption_context_subset=_decode_optional_json(row[9]),
    )


def _connect(path: str, *, query_only: bool) -> sqlite3.Connection:
    # isolation_level=None: the store issues BEGIN/COMMIT itself instead of the module's implicit ones.
    # check_same_thread=False: the writer is shared under a lock, and close() may run on any thread.
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    try:
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        connection.execute("PRAGMA foreign_keys = ON")
        connection.execute("PRAGMA synchronous = NORMAL")
        if query_only:
            # A reader that wrote would make its commits invisible to the writer's data_version.
            connection.execute("PRAGMA query_only = ON")
    except BaseException:
        connection.close()
        raise
    return connection


class _ReaderSlot:
    """One thread's reader connection, closed when the thread ends (its thread-local slot is collected)."""

    __slots__ = ("__weakref__", "connection")

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        weakref.finalize(self, connection.close)


class SqliteStore:
    """The Store protocol on one SQLite file; safe to share between threads and processes."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) in ("", ":memory:"):
            # Every thread's reader would get its own empty in-memory database.
            raise StoreError("an in-memory SQLite store is not supported: give a file path")
        self._lock = threading.Lock()
        self._owner: int | None = None  # thread ident holding the open transaction
        self._doomed = False
        self._local = threading.local()
        self._readers: weakref.WeakSet[_ReaderSlot] = weakref.WeakSet()
        self._closed = False
        self._key_cache: dict[str, KeyRecord] = {}
        self._key_cache_lock = threading.Lock()  # orders filling the cache against emptying it
        self._key_cache_generation = 0  # advanced whenever the cache is emptied
        self._key_cache_data_version: int | None = None  # the writer's data_version the cache is valid for
        self._key_cache_checked_at = time.monotonic()
        self._create_private_file()
        try:
            self._writer = _connect(str(self.path), query_only=False)
        except sqlite3.Error as error:
            raise StoreError(f"cannot open the SQLite store at {self.path}: {error}") from error
        try:
            self._enable_wal()
            self._migrate()
            self._seen_data_version = self._data_version(self._writer)
            self._key_cache_data_version = self._seen_data_version
        except BaseException:
            self.close()
            raise

    def _create_private_file(self) -> None:
        # The file holds wrapped secrets and key policies: owner-only from the start.  SQLite
        # gives the -wal and -shm files the database file's permissions.
        try:
            descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            return
        except OSError as error:
            raise StoreError(f"cannot create the SQLite store at {self.path}: {error}") from error
        os.close(descriptor)

    def _enable_wal(self) -> None:
        try:
            mode = self._writer.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.Error as error:
            raise StoreError(f"cannot open the SQLite store at {self.path}: {error}") from error
        if str(mode).lower() != "wal":
            raise StoreError(
                f"the SQLite store at {self.path} cannot use WAL journal mode (got `{mode}`); "
                "network file systems do not support it"
            )

    def _migrate(self) -> None:
        with self.transaction():
            try:
                current = int(self._writer.execute("PRAGMA user_version").fetchone()[0])
            except sqlite3.Error as error:
                raise StoreError(f"cannot read the schema version of {self.path}: {error}") from error
            if current > LATEST_VERSION:
                raise StoreError(
                    f"the SQLite store at {self.path} has schema version {current}, newer than the "
                    f"{LATEST_VERSION} this kmsd knows: upgrade kmsd to open it"
                )
            for version in range(current + 1, LATEST_VERSION + 1):
                try:
                    for statement in MIGRATIONS[version - 1]:
                        self._writer.execute(statement)
                    # PRAGMA takes no bound parameters; version is an int from range().
                    self._writer.execute(f"PRAGMA user_version = {version}")
                except sqlite3.Error as error:
                    raise StoreError(
                        f"migrating the SQLite store at {self.path} to schema version {version} failed: {error}"
                    ) from error

    # --- connections ---------------------------------------------------------

    def _read_connection(self) -> sqlite3.Connection:
        if self._owner == threading.get_ident():
            return self._writer
        try:
            slot: _ReaderSlot = self._local.slot
        except AttributeError:
            return self._open_reader()
        return slot.connection

    def _open_reader(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError("the store is closed")
        slot = _ReaderSlot(_connect(str(self.path), query_only=True))
        self._local.slot = slot
        self._readers.add(slot)
        return slot.connection

    def _fetchone(self, sql: str, parameters: Sequence[Any] = ()) -> Row | None:
        try:
            cursor = self._read_connection().execute(sql, parameters)
            try:
                row: Row | None = cursor.fetchone()
            finally:
                # A statement left unfinished keeps the reader's WAL snapshot open, and every
                # later read on this thread would miss newer commits.
                cursor.close()
        except sqlite3.Error as error:
            raise StoreError(str(error)) from error
        return row

    def _fetchall(self, sql: str, parameters: Sequence[Any] = ()) -> list[Row]:
        try:
            rows: list[Row] = self._read_connection().execute(sql, parameters).fetchall()
        except sqlite3.Error as error:
            raise StoreError(str(error)) from error
        return rows

    def _write(self, sql: str, parameters: Sequence[Any], what: str) -> int:
        """Run one statement in the caller's transaction, or in one of its own; the number of rows changed.

        A constraint violation aborts just its statement, so a Conflict raised here leaves
        the caller's transaction usable: ``except Conflict`` may carry on.  Other errors (disk
        full, I/O) may make SQLite roll the whole transaction back by itself; the transaction
        is then doomed, so that later statements cannot commit one by one in autocommit mode.
        """
        if self._owner != threading.get_ident():
            with self.transaction():
                return self._execute_write(sql, parameters, what)
        if self._doomed or not self._writer.in_transaction:
            self._doomed = True
            raise StoreError(f"{what}: the transaction was already rolled back after an error")
        return self._execute_write(sql, parameters, what)

    def _execute_write(self, sql: str, parameters: Sequence[Any], what: str) -> int:
        try:
            return self._writer.execute(sql, parameters).rowcount
        except sqlite3.IntegrityError as error:
            if error.sqlite_errorname in _UNIQUE_VIOLATIONS:
                raise Conflict(f"{what} already exists") from error
            if error.sqlite_errorname == "SQLITE_CONSTRAINT_FOREIGNKEY":
                raise StoreError(f"{what} refers to a record that does not exist") from error
            raise StoreError(f"{what}: {error}") from error
        except sqlite3.Error as error:
            self._doomed = True
            raise StoreError(f"{what}: {error}") from error

    @contextmanager
    def _holding_writer(self) -> Iterator[sqlite3.Connection]:
        """The writer connection, for this thread alone, without opening a transaction."""
        if self._owner == threading.get_ident():
            yield self._writer
            return
        with self._lock:
            yield self._writer

    # --- lifecycle -------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Commit everything in the block together, or nothing.

        Nested blocks join the outermost one.  Any exception rolls the whole
        transaction back, even one that an outer block catches: the outermost
        block then raises StoreError instead of committing half of the work.
        The transaction belongs to the calling thread, so a block must not
        ``await``: another coroutine on the event loop would join it.
        """
        me = threading.get_ident()
        if self._owner == me:
            try:
                yield
            except BaseException:
                self._doomed = True
                raise
            return
        with self._lock:
            self._execute_control("BEGIN IMMEDIATE")
            self._owner = me
            self._doomed = False
            try:
                try:
                    yield
                except BaseException:
                    self._rollback()
                    raise
                if self._doomed:
                    self._rollback()
                    raise StoreError(
                        "rolled back: an error inside the transaction was caught before the outermost block"
                    )
                try:
                    self._writer.execute("COMMIT")
                except sqlite3.Error as error:
                    self._rollback()
                    raise StoreError(f"commit failed: {error}") from error
            finally:
                # Committed or not, a key read while the transaction was open may be outdated now.
                self._forget_cached_keys()
                self._owner = None
                self._doomed = False

    def _execute_control(self, sql: str) -> None:
        try:
            self._writer.execute(sql)
        except sqlite3.Error as error:
            raise StoreError(f"{sql} failed on {self.path}: {error}") from error

    def _rollback(self) -> None:
        # The rollback must not hide the exception that caused it; a failed one (no
        # transaction left open, or a closed connection) has nothing more to undo.
        with suppress(sqlite3.Error):
            if self._writer.in_transaction:
                self._writer.execute("ROLLBACK")

    def schema_version(self) -> int:
        row = self._fetchone("PRAGMA user_version")
        assert row is not None
        return int(row[0])

    def ping(self) -> bool:
        try:
            return self._fetchone("PRAGMA user_version") is not None
        except StoreError:
            return False

    @staticmethod
    def _data_version(writer: sqlite3.Connection) -> int:
        try:
            return int(writer.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error as error:
            raise StoreError(str(error)) from error

    def changed_since_last_check(self) -> bool:
        with self._holding_writer() as writer:
            version = self._data_version(writer)
            changed = version != self._seen_data_version
            self._seen_data_version = version
            self._note_data_version(version)
        return changed

    # --- key cache -------------------------------------------------------------

    def _forget_cached_keys(self) -> None:
        with self._key_cache_lock:
            self._key_cache_generation += 1
            self._key_cache.clear()

    def _note_data_version(self, version: int) -> None:
        """Empty the key cache if someone else committed since it was last checked."""
        self._key_cache_checked_at = time.monotonic()
        if version != self._key_cache_data_version:
            self._forget_cached_keys()
            self._key_cache_data_version = version

    def _key_cache_is_current(self) -> bool:
        """Whether the cache may answer: checked against other processes' commits recently enough."""
        if time.monotonic() - self._key_cache_checked_at < KEY_CACHE_CHECK_SECONDS:
            return True
        # Another thread writing holds the writer: rather than wait (on the event loop), read the database.
        if not self._lock.acquire(blocking=False):
            return False
        try:
            self._note_data_version(self._data_version(self._writer))
        finally:
            self._lock.release()
        return True

    def close(self) -> None:
        with self._holding_writer() as writer:
            self._closed = True
            for slot in list(self._readers):
                slot.connection.close()
            writer.close()

    # --- settings ----------------------------------------------------------------

    def get_setting(self, name: str) -> str | None:
        row = self._fetchone("SELECT value FROM settings WHERE name = ?", (name,))
        return None if row is None else str(row[0])

    def set_setting(self, name: str, value: str) -> None:
        self._write(
            "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, value),
            f"setting `{name}`",
        )

    # --- accounts and access keys ------------------------------------------------------

    def create_account(self, account: Account) -> None:
        self._write(
            "INSERT INTO accounts (account_id, created_at) VALUES (?, ?)",
            (account.account_id, encode_time(account.created_at)),
            f"account `{account.account_id}`",
        )

    def get_account(self, account_id: str) -> Account | None:
        row = self._fetchone("SELECT account_id, created_at FROM accounts WHERE account_id = ?", (account_id,))
        return None if row is None else Account(account_id=row[0], created_at=decode_time(row[1]))

    def list_accounts(self) -> list[Account]:
        rows = self._fetchall("SELECT account_id, created_at FROM accounts ORDER BY account_id")
        return [Account(account_id=row[0], created_at=decode_time(row[1])) for row in rows]

    def put_access_key(self, key: AccessKeyRecord) -> None:
        """Insert, or replace every field of the key with the same id (the last-used fields too)."""
        self._write(
            f"INSERT INTO access_keys ({_ACCESS_KEY_COLUMNS}) VALUES ({', '.join('?' * 10)}) "
            "ON CONFLICT (access_key_id) DO UPDATE SET account_id = excluded.account_id, "
            "principal_arn = excluded.principal_arn, wrapped_secret = excluded.wrapped_secret, "
            "status = excluded.status, created_at = excluded.created_at, user_id = excluded.user_id, "
            "last_used_at = excluded.last_used_at, last_used_service = excluded.last_used_service, "
            "last_used_region = excluded.last_used_region",
            _access_key_to_row(key),
            f"access key `{key.access_key_id}`",
        )

    def get_access_key(self, access_key_id: str) -> AccessKeyRecord | None:
        row = self._fetchone(f"SELECT {_ACCESS_KEY_COLUMNS} FROM access_keys WHERE access_key_id = ?", (access_key_id,))
        return None if row is None else _access_key_from_row(row)

    def list_access_keys(self, account_id: str) -> list[AccessKeyRecord]:
        rows = self._fetchall(
            f"SELECT {_ACCESS_KEY_COLUMNS} FROM access_keys WHERE account_id = ? ORDER BY created_at, access_key_id",
            (account_id,),
        )
        return [_access_key_from_row(row) for row in rows]

    # --- KMS keys ------------------------------------------------------------------

    def insert_key(self, key: KeyRecord) -> None:
        self._write(
            f"INSERT INTO keys ({_KEY_COLUMNS}) VALUES ({_KEY_PLACEHOLDERS})",
            _key_to_row(key),
            f"key `{key.key_id}`",
        )

    def update_key(self, key: KeyRecord) -> None:
        row = _key_to_row(key)
        changed = self._write(
            f"UPDATE keys SET {_KEY_UPDATE} WHERE key_id = ?", (*row[1:], row[0]), f"key `{key.key_id}`"
        )
        if changed == 0:
            raise StoreError(f"key `{key.key_id}` cannot be updated: it is not stored")

    def get_key(self, key_id: str) -> KeyRecord | None:
        """The key, from the key cache when this thread is outside a transaction (see the module docstring)."""
        if self._owner == threading.get_ident() or not self._key_cache_is_current():
            return self._read_key(key_id)
        cached = self._key_cache.get(key_id)
        if cached is not None:
            return cached
        generation = self._key_cache_generation
        key = self._read_key(key_id)
        # Absent keys are not cached: a key created elsewhere must be found at once.
        if key is not None:
            with self._key_cache_lock:
                if generation == self._key_cache_generation:
                    if len(self._key_cache) >= _KEY_CACHE_LIMIT:
                        self._key_cache.clear()
                    self._key_cache[key_id] = key
        return key

    def _read_key(self, key_id: str) -> KeyRecord | None:
        row = self._fetchone(f"SELECT {_KEY_COLUMNS} FROM keys WHERE key_id = ?", (key_id,))
        return None if row is None else _key_from_row(row)

    def list_keys(self, account_id: str, region: str, after_key_id: str | None, limit: int) -> list[KeyRecord]:
        if limit < 0:
            raise StoreError(f"list_keys limit must not be negative, got {limit}")
        rows = self._fetchall(
            f"SELECT {_KEY_COLUMNS} FROM keys WHERE account_id = ? AND region = ? AND key_id > ? "
            "ORDER BY key_id LIMIT ?",
            (account_id, region, after_key_id or "", limit),
        )
        return [_key_from_row(row) for row in rows]

    def delete_key(self, key_id: str) -> None:
        """Remove the key, its material, aliases and grants (by foreign-key cascade); no-op when absent."""
        self._write("DELETE FROM keys WHERE key_id = ?", (key_id,), f"key `{key_id}`")

    def keys_pending_deletion_before(self, when: datetime) -> list[KeyRecord]:
        """Keys in PendingDeletion whose deletion date is at or before ``when``, soonest first."""
        rows = self._fetchall(
            f"SELECT {_KEY_COLUMNS} FROM keys WHERE key_state = 'PendingDeletion' AND deletion_date <= ? "
            "ORDER BY deletion_date, key_id",
            (encode_time(when),),
        )
        return [_key_from_row(row) for row in rows]

    def keys_due_for_rotation(self, when: datetime) -> list[KeyRecord]:
        """Keys with rotation enabled whose next rotation date is at or before ``when``, soonest first.

        Whatever their key state: AWS rotates a disabled key when it is re-enabled
        if the date has passed, so that decision belongs to the KMS service.
        """
        rows = self._fetchall(
            f"SELECT {_KEY_COLUMNS} FROM keys WHERE rotation_enabled = 1 AND next_rotation_date <= ? "
            "ORDER BY next_rotation_date, key_id",
            (encode_time(when),),
        )
        return [_key_from_row(row) for row in rows]

    # --- key material ---------------------------------------------------------------

    def add_key_material(self, material: KeyMaterialRecord) -> None:
        self._write(
            f"INSERT INTO key_materials ({_MATERIAL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
            (
                material.key_id,
                material.version,
                material.material_id,
                material.wrapped_material,
                encode_time(material.created_at),
                material.rotation_type,
            ),
            f"key material version {material.version} of key `{material.key_id}`",
        )

    def get_key_material(self, key_id: str, version: int) -> KeyMaterialRecord | None:
        row = self._fetchone(
            f"SELECT {_MATERIAL_COLUMNS} FROM key_materials WHERE key_id = ? AND version = ?",
            (key_id, version),
        )
        return None if row is None else _material_from_row(row)

    def list_key_materials(self, key_id: str) -> list[KeyMaterialRecord]:
        rows = self._fetchall(
            f"SELECT {_MATERIAL_COLUMNS} FROM key_materials WHERE key_id = ? ORDER BY version", (key_id,)
        )
        return [_material_from_row(row) for row in rows]

    # --- aliases ---------------------------------------------------------------------

    def insert_alias(self, alias: AliasRecord) -> None:
        self._write(
            f"INSERT INTO aliases ({_ALIAS_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
            (
                alias.account_id,
                alias.region,
                alias.alias_name,
                alias.target_key_id,
                encode_time(alias.creation_date),
                encode_time(alias.last_updated_date),
            ),
            f"alias `{alias.alias_name}` in {alias.account_id}/{alias.region}",
        )

    def update_alias(self, alias: AliasRecord) -> None:
        """Point the stored alias (same account, region, name) at ``target_key_id``, with the given dates."""
        what = f"alias `{alias.alias_name}` in {alias.account_id}/{alias.region}"
        changed = self._write(
            "UPDATE aliases SET target_key_id = ?, creation_date = ?, last_updated_date = ? "
            "WHERE account_id = ? AND region = ? AND alias_name = ?",
            (
                alias.target_key_id,
                encode_time(alias.creation_date),
                encode_time(alias.last_updated_date),
                alias.account_id,
                alias.region,
                alias.alias_name,
            ),
            what,
        )
        if changed == 0:
            raise StoreError(f"{what} cannot be updated: it is not stored")

    def delete_alias(self, account_id: str, region: str, alias_name: str) -> None:
        """Remove the alias; no-op when absent."""
        self._write(
            "DELETE FROM aliases WHERE account_id = ? AND region = ? AND alias_name = ?",
            (account_id, region, alias_name),
            f"alias `{alias_name}` in {account_id}/{region}",
        )

    def get_alias(self, account_id: str, region: str, alias_name: str) -> AliasRecord | None:
        row = self._fetchone(
            f"SELECT {_ALIAS_COLUMNS} FROM aliases WHERE account_id = ? AND region = ? AND alias_name = ?",
            (account_id, region, alias_name),
        )
        return None if row is None else _alias_from_row(row)

    def list_aliases(self, account_id: str, region: str, key_id: str | None = None) -> list[AliasRecord]:
        if key_id is None:
            rows = self._fetchall(
                f"SELECT {_ALIAS_COLUMNS} FROM aliases WHERE account_id = ? AND region = ? ORDER BY alias_name",
                (account_id, region),
            )
        else:
            rows = self._fetchall(
                f"SELECT {_ALIAS_COLUMNS} FROM aliases WHERE account_id = ? AND region = ? "
                "AND target_key_id = ? ORDER BY alias_name",
                (account_id, region, key_id),
            )
        return [_alias_from_row(row) for row in rows]

    # --- IAM: users, groups, roles ----------------------------------------------------------
    # Names compare case-insensitively (the columns are COLLATE NOCASE, see migrations.py), so
    # a lookup by name finds the entity whatever the spelling and lists sort as a person would.

    def _update_stored(self, sql: str, parameters: Sequence[Any], what: str) -> None:
        if self._write(sql, parameters, what) == 0:
            raise StoreError(f"{what} cannot be updated: it is not stored")

    def insert_user(self, user: IamUser) -> None:
        self._write(
            f"INSERT INTO iam_users ({_columns(_USER_COLUMNS)}) VALUES ({_placeholders(_USER_COLUMNS)})",
            _user_to_row(user),
            f"user `{user.user_name}` in account {user.account_id}",
        )

    def update_user(self, user: IamUser) -> None:
        row = _user_to_row(user)
        self._update_stored(
            f"UPDATE iam_users SET {_assignments(_USER_COLUMNS)} WHERE user_id = ?",
            (*row[1:], row[0]),
            f"user `{user.user_name}` ({user.user_id}) in account {user.account_id}",
        )

    def get_user(self, account_id: str, user_name: str) -> IamUser | None:
        row = self._fetchone(
            f"SELECT {_columns(_USER_COLUMNS)} FROM iam_users WHERE account_id = ? AND user_name = ?",
            (account_id, user_name),
        )
        return None if row is None else _user_from_row(row)

    def get_user_by_id(self, user_id: str) -> IamUser | None:
        row = self._fetchone(f"SELECT {_columns(_USER_COLUMNS)} FROM iam_users WHERE user_id = ?", (user_id,))
        return None if row is None else _user_from_row(row)

    def list_users(self, account_id: str, path_prefix: str = "/") -> list[IamUser]:
        rows = self._fetchall(
            f"SELECT {_columns(_USER_COLUMNS)} FROM iam_users WHERE account_id = ? AND {_PATH_PREFIX_MATCH} "
            "ORDER BY user_name, user_id",
            (account_id, path_prefix, path_prefix),
        )
        return [_user_from_row(row) for row in rows]

    def delete_user(self, user_id: str) -> None:
        """Remove the user with its memberships, attachments, inline policies and access keys; no-op when absent."""
        self._write("DELETE FROM iam_users WHERE user_id = ?", (user_id,), f"user {user_id}")

    def insert_group(self, group: IamGroup) -> None:
        self._write(
            f"INSERT INTO iam_groups ({_columns(_GROUP_COLUMNS)}) VALUES ({_placeholders(_GROUP_COLUMNS)})",
            _group_to_row(group),
            f"group `{group.group_name}` in account {group.account_id}",
        )

    def update_group(self, group: IamGroup) -> None:
        row = _group_to_row(group)
        self._update_stored(
            f"UPDATE iam_groups SET {_assignments(_GROUP_COLUMNS)} WHERE group_id = ?",
            (*row[1:], row[0]),
            f"group `{group.group_name}` ({group.group_id}) in account {group.account_id}",
        )

    def get_group(self, account_id: str, group_name: str) -> IamGroup | None:
        row = self._fetchone(
            f"SELECT {_columns(_GROUP_COLUMNS)} FROM iam_groups WHERE account_id = ? AND group_name = ?",
            (account_id, group_name),
        )
        return None if row is None else _group_from_row(row)

    def get_group_by_id(self, group_id: str) -> IamGroup | None:
        row = self._fetchone(f"SELECT {_columns(_GROUP_COLUMNS)} FROM iam_groups WHERE group_id = ?", (group_id,))
        return None if row is None else _group_from_row(row)

    def list_groups(self, account_id: str, path_prefix: str = "/") -> list[IamGroup]:
        rows = self._fetchall(
            f"SELECT {_columns(_GROUP_COLUMNS)} FROM iam_groups WHERE account_id = ? AND {_PATH_PREFIX_MATCH} "
            "ORDER BY group_name, group_id",
            (account_id, path_prefix, path_prefix),
        )
        return [_group_from_row(row) for row in rows]

    def delete_group(self, group_id: str) -> None:
        """Remove the group with its memberships, attachments and inline policies; no-op when absent."""
        self._write("DELETE FROM iam_groups WHERE group_id = ?", (group_id,), f"group {group_id}")

    def add_user_to_group(self, group_id: str, user_id: str) -> None:
        """Idempotent; StoreError when the group or the user does not exist."""
        self._write(
            "INSERT INTO iam_group_members (group_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (group_id, user_id),
            f"membership of user {user_id} in group {group_id}",
        )

    def remove_user_from_group(self, group_id: str, user_id: str) -> None:
        """No-op when the user is not a member."""
        self._write(
            "DELETE FROM iam_group_members WHERE group_id = ? AND user_id = ?",
            (group_id, user_id),
            f"membership of user {user_id} in group {group_id}",
        )

    def list_group_members(self, group_id: str) -> list[IamUser]:
        """Ordered by user name."""
        rows = self._fetchall(
            f"SELECT {_columns(_USER_COLUMNS, 'u')} FROM iam_group_members m "
            "JOIN iam_users u ON u.user_id = m.user_id WHERE m.group_id = ? ORDER BY u.user_name, u.user_id",
            (group_id,),
        )
        return [_user_from_row(row) for row in rows]

    def list_groups_for_user(self, user_id: str) -> list[IamGroup]:
        """Ordered by group name."""
        rows = self._fetchall(
            f"SELECT {_columns(_GROUP_COLUMNS, 'g')} FROM iam_group_members m "
            "JOIN iam_groups g ON g.group_id = m.group_id WHERE m.user_id = ? ORDER BY g.group_name, g.group_id",
            (user_id,),
        )
        return [_group_from_row(row) for row in rows]

    def insert_role(self, role: IamRole) -> None:
        self._write(
            f"INSERT INTO iam_roles ({_columns(_ROLE_COLUMNS)}) VALUES ({_placeholders(_ROLE_COLUMNS)})",
            _role_to_row(role),
            f"role `{role.role_name}` in account {role.account_id}",
        )

    def update_role(self, role: IamRole) -> None:
        row = _role_to_row(role)
        self._update_stored(
            f"UPDATE iam_roles SET {_assignments(_ROLE_COLUMNS)} WHERE role_id = ?",
            (*row[1:], row[0]),
            f"role `{role.role_name}` ({role.role_id}) in account {role.account_id}",
        )

    def get_role(self, account_id: str, role_name: str) -> IamRole | None:
        row = self._fetchone(
            f"SELECT {_columns(_ROLE_COLUMNS)} FROM iam_roles WHERE account_id = ? AND role_name = ?",
            (account_id, role_name),
        )
        return None if row is None else _role_from_row(row)

    def get_role_by_id(self, role_id: str) -> IamRole | None:
        row = self._fetchone(f"SELECT {_columns(_ROLE_COLUMNS)} FROM iam_roles WHERE role_id = ?", (role_id,))
        return None if row is None else _role_from_row(row)

    def list_roles(self, account_id: str, path_prefix: str = "/") -> list[IamRole]:
        rows = self._fetchall(
            f"SELECT {_columns(_ROLE_COLUMNS)} FROM iam_roles WHERE account_id = ? AND {_PATH_PREFIX_MATCH} "
            "ORDER BY role_name, role_id",
            (account_id, path_prefix, path_prefix),
        )
        return [_role_from_row(row) for row in rows]

    def delete_role(self, role_id: str) -> None:
        """Remove the role with its attachments and inline policies (not its sessions); no-op when absent."""
        self._write("DELETE FROM iam_roles WHERE role_id = ?", (role_id,), f"role {role_id}")

    # --- IAM: access keys of users -------------------------------------------------------------

    def list_user_access_keys(self, user_id: str) -> list[AccessKeyRecord]:
        rows = self._fetchall(
            f"SELECT {_ACCESS_KEY_COLUMNS} FROM access_keys WHERE user_id = ? ORDER BY created_at, access_key_id",
            (user_id,),
        )
        return [_access_key_from_row(row) for row in rows]

    def delete_access_key(self, access_key_id: str) -> None:
        """No-op when absent."""
        self._write(
            "DELETE FROM access_keys WHERE access_key_id = ?", (access_key_id,), f"access key `{access_key_id}`"
        )

    def record_access_key_use(self, access_key_id: str, when: datetime, service: str, region: str) -> None:
        """Set the last-used fields unless a later use is already recorded; no-op for an unknown key.

        Concurrent requests may finish out of order; keeping the latest time means
        GetAccessKeyLastUsed never goes backwards.
        """
        stamp = encode_time(when)
        self._write(
            "UPDATE access_keys SET last_used_at = ?, last_used_service = ?, last_used_region = ? "
            "WHERE access_key_id = ? AND (last_used_at IS NULL OR last_used_at <= ?)",
            (stamp, service, region, access_key_id, stamp),
            f"access key `{access_key_id}`",
        )

    # --- IAM: managed policies and their versions -----------------------------------------------
    # Policies are addressed by ARN, compared exactly; the name is unique per owner
    # ("aws" for AWS managed policies) whatever its case.

    def insert_policy(self, policy: ManagedPolicy) -> None:
        self._write(
            f"INSERT INTO iam_policies ({_columns(_POLICY_COLUMNS)}) VALUES ({_placeholders(_POLICY_COLUMNS)})",
            _policy_to_row(policy),
            f"policy `{policy.policy_name}` in account {policy.account_id}",
        )

    def update_policy(self, policy: ManagedPolicy) -> None:
        row = _policy_to_row(policy)
        self._update_stored(
            f"UPDATE iam_policies SET {_assignments(_POLICY_COLUMNS)} WHERE arn = ?",
            (*row[1:], row[0]),
            f"policy `{policy.arn}`",
        )

    def get_policy(self, policy_arn: str) -> ManagedPolicy | None:
        row = self._fetchone(f"SELECT {_columns(_POLICY_COLUMNS)} FROM iam_policies WHERE arn = ?", (policy_arn,))
        return None if row is None else _policy_from_row(row)

    def list_policies(self, account_id: str | None, path_prefix: str = "/") -> list[ManagedPolicy]:
        """Ordered by name, then ARN (an account's policy may share its name with an AWS managed one)."""
        if account_id is None:
            rows = self._fetchall(
                f"SELECT {_columns(_POLICY_COLUMNS)} FROM iam_policies WHERE {_PATH_PREFIX_MATCH} "
                "ORDER BY policy_name, arn",
                (path_prefix, path_prefix),
            )
        else:
            rows = self._fetchall(
                f"SELECT {_columns(_POLICY_COLUMNS)} FROM iam_policies WHERE account_id = ? "
                f"AND {_PATH_PREFIX_MATCH} ORDER BY policy_name, arn",
                (account_id, path_prefix, path_prefix),
            )
        return [_policy_from_row(row) for row in rows]

    def delete_policy(self, policy_arn: str) -> None:
        """Remove the policy and its versions; StoreError while it is still attached; no-op when absent."""
        with self.transaction():
            attached = self._fetchone("SELECT count(*) FROM iam_policy_attachments WHERE policy_arn = ?", (policy_arn,))
            if attached is not None and attached[0] > 0:
                raise StoreError(
                    f"policy `{policy_arn}` cannot be deleted: it is still attached to {attached[0]} entities"
                )
            self._write("DELETE FROM iam_policies WHERE arn = ?", (policy_arn,), f"policy `{policy_arn}`")

    def add_policy_version(self, version: PolicyVersion) -> None:
        self._write(
            f"INSERT INTO iam_policy_versions ({_POLICY_VERSION_COLUMNS}) VALUES (?, ?, ?, ?)",
            (version.policy_arn, version.version_id, version.document, encode_time(version.created_at)),
            f"version {version.version_id} of policy `{version.policy_arn}`",
        )

    def get_policy_version(self, policy_arn: str, version_id: str) -> PolicyVersion | None:
        row = self._fetchone(
            f"SELECT {_POLICY_VERSION_COLUMNS} FROM iam_policy_versions WHERE policy_arn = ? AND version_id = ?",
            (policy_arn, version_id),
        )
        return None if row is None else _policy_version_from_row(row)

    def list_policy_versions(self, policy_arn: str) -> list[PolicyVersion]:
        # Version ids are "v<n>" and n only grows, so n breaks ties between versions created at one instant.
        rows = self._fetchall(
            f"SELECT {_POLICY_VERSION_COLUMNS} FROM iam_policy_versions WHERE policy_arn = ? "
            "ORDER BY created_at, length(version_id), version_id",
            (policy_arn,),
        )
        return [_policy_version_from_row(row) for row in rows]

    def delete_policy_version(self, policy_arn: str, version_id: str) -> None:
        """No-op when absent."""
        self._write(
            "DELETE FROM iam_policy_versions WHERE policy_arn = ? AND version_id = ?",
            (policy_arn, version_id),
            f"version {version_id} of policy `{policy_arn}`",
        )

    # --- IAM: inline policies and attachments ------------------------------------------------------

    def put_inline_policy(self, policy: InlinePolicy) -> None:
        """Insert, or replace the document of the owner's policy of that name; StoreError for a missing owner."""
        column = _owner_column(policy.owner_kind)
        self._write(
            f"INSERT INTO iam_inline_policies (account_id, {column}, policy_name, document) VALUES (?, ?, ?, ?) "
            f"ON CONFLICT ({column}, policy_name) DO UPDATE SET document = excluded.document",
            (policy.account_id, policy.owner_id, policy.policy_name, policy.document),
            f"inline policy `{policy.policy_name}` of {policy.owner_kind} {policy.owner_id}",
        )

    def get_inline_policy(self, owner_kind: OwnerKind, owner_id: str, policy_name: str) -> InlinePolicy | None:
        row = self._fetchone(
            f"SELECT account_id, {_OWNER_SELECT}, policy_name, document FROM iam_inline_policies "
            f"WHERE {_owner_column(owner_kind)} = ? AND policy_name = ?",
            (owner_id, policy_name),
        )
        return None if row is None else _inline_policy_from_row(row)

    def list_inline_policies(self, owner_kind: OwnerKind, owner_id: str) -> list[InlinePolicy]:
        rows = self._fetchall(
            f"SELECT account_id, {_OWNER_SELECT}, policy_name, document FROM iam_inline_policies "
            f"WHERE {_owner_column(owner_kind)} = ? ORDER BY policy_name",
            (owner_id,),
        )
        return [_inline_policy_from_row(row) for row in rows]

    def delete_inline_policy(self, owner_kind: OwnerKind, owner_id: str, policy_name: str) -> None:
        """No-op when absent."""
        self._write(
            f"DELETE FROM iam_inline_policies WHERE {_owner_column(owner_kind)} = ? AND policy_name = ?",
            (owner_id, policy_name),
            f"inline policy `{policy_name}` of {owner_kind} {owner_id}",
        )

    def attach_policy(self, attachment: PolicyAttachment) -> None:
        """Idempotent; StoreError when the owner or the policy does not exist."""
        column = _owner_column(attachment.owner_kind)
        self._write(
            f"INSERT INTO iam_policy_attachments (account_id, {column}, policy_arn) VALUES (?, ?, ?) "
            f"ON CONFLICT ({column}, policy_arn) DO NOTHING",
            (attachment.account_id, attachment.owner_id, attachment.policy_arn),
            f"attachment of `{attachment.policy_arn}` to {attachment.owner_kind} {attachment.owner_id}",
        )

    def detach_policy(self, owner_kind: OwnerKind, owner_id: str, policy_arn: str) -> None:
        """No-op when not attached."""
        self._write(
            f"DELETE FROM iam_policy_attachments WHERE {_owner_column(owner_kind)} = ? AND policy_arn = ?",
            (owner_id, policy_arn),
            f"attachment of `{policy_arn}` to {owner_kind} {owner_id}",
        )

    def list_attached_policies(self, owner_kind: OwnerKind, owner_id: str) -> list[str]:
        rows = self._fetchall(
            f"SELECT policy_arn FROM iam_policy_attachments WHERE {_owner_column(owner_kind)} = ? ORDER BY policy_arn",
            (owner_id,),
        )
        return [str(row[0]) for row in rows]

    def list_policy_attachments(self, policy_arn: str, account_id: str | None = None) -> list[PolicyAttachment]:
        """Ordered by owner kind (group, role, user), then owner id."""
        select = f"SELECT account_id, {_OWNER_SELECT}, policy_arn FROM iam_policy_attachments WHERE policy_arn = ?"
        if account_id is None:
            rows = self._fetchall(f"{select} ORDER BY 2, 3", (policy_arn,))
        else:
            rows = self._fetchall(f"{select} AND account_id = ? ORDER BY 2, 3", (policy_arn, account_id))
        return [_attachment_from_row(row) for row in rows]

    # --- STS sessions ---------------------------------------------------------------------------------

    def insert_session(self, session: SessionRecord) -> None:
        self._write(
            f"INSERT INTO sts_sessions ({_columns(_SESSION_COLUMNS)}) VALUES ({_placeholders(_SESSION_COLUMNS)})",
            _session_to_row(session),
            f"session `{session.access_key_id}`",
        )

    def get_session(self, access_key_id: str) -> SessionRecord | None:
        """The session, expired or not: telling an expired token from an unknown one is the caller's job."""
        row = self._fetchone(
            f"SELECT {_columns(_SESSION_COLUMNS)} FROM sts_sessions WHERE access_key_id = ?", (access_key_id,)
        )
        return None if row is None else _session_from_row(row)

    def delete_sessions_expired_before(self, when: datetime) -> int:
        """Remove sessions whose expiry is strictly before ``when``; how many were removed."""
        return self._write("DELETE FROM sts_sessions WHERE expires_at < ?", (encode_time(when),), "expired sessions")

    # --- KMS grants -----------------------------------------------------------------------------------
    # Lists are oldest first; the grant id breaks ties between grants created at one instant, so
    # the order is total and ListGrants can page through it with a marker.

    def insert_grant(self, grant: GrantRecord) -> None:
        """Conflict for a grant id already stored; StoreError when the grant's key does not exist."""
        self._write(
            f"INSERT INTO grants ({_columns(_GRANT_COLUMNS)}) VALUES ({_placeholders(_GRANT_COLUMNS)})",
            _grant_to_row(grant),
            f"grant `{grant.grant_id}` on key `{grant.key_id}`",
        )

    def get_grant(self, grant_id: str) -> GrantRecord | None:
        row = self._fetchone(f"SELECT {_columns(_GRANT_COLUMNS)} FROM grants WHERE grant_id = ?", (grant_id,))
        return None if row is None else _grant_from_row(row)

    def list_grants(self, key_id: str) -> list[GrantRecord]:
        rows = self._fetchall(
            f"SELECT {_columns(_GRANT_COLUMNS)} FROM grants WHERE key_id = ? ORDER BY created_at, grant_id",
            (key_id,),
        )
        return [_grant_from_row(row) for row in rows]

    def list_grants_retirable_by(self, retiring_principal: str) -> list[GrantRecord]:
        """Grants on keys of any account and Region: narrowing them down is the KMS service's job."""
        rows = self._fetchall(
            f"SELECT {_columns(_GRANT_COLUMNS)} FROM grants WHERE retiring_principal = ? ORDER BY created_at, grant_id",
            (retiring_principal,),
        )
        return [_grant_from_row(row) for row in rows]

    def delete_grant(self, grant_id: str) -> None:
        """No-op when absent."""
        self._write("DELETE FROM grants WHERE grant_id = ?", (grant_id,), f"grant `{grant_id}`")
