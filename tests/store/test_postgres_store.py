"""What only the PostgreSQL store has: its schema next to SQLite's, migrating on a shared server, change
notifications and their fallback, the background lease, the principal-reference triggers in plpgsql, byte order
under any database collation, and URLs that carry a password.

The Store contract itself runs on both stores in the other modules of tests/store; these tests open their
stores on the session's database (``stores``, emptied before each test) or, where the database itself matters
(a fresh schema, a collation), on one of their own.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from tests.helpers.postgres import PostgresDatabases, configured_dsn, with_database
from tests.store.records import ACCOUNT, REGION, T0, key_id, make_access_key, make_alias, make_key, role, user
from tests.store.store_kinds import AnyStore, Stores, Ticks, saw_a_change, saw_no_change

import kmsd.store.postgres.notifications as notifications
from kmsd.store.base import Conflict, StoreError
from kmsd.store.inspect import inspect_store
from kmsd.store.migrations import LATEST_VERSION
from kmsd.store.models import Account, InlinePolicy, ManagedPolicy
from kmsd.store.postgres import PostgresStore
from kmsd.store.postgres.connections import WRITER_LOCK
from kmsd.store.sqlite import SqliteStore
from kmsd.store.urls import open_store, redacted

# Every test here is a PostgreSQL test: `stores` opens PostgreSQL stores, the ids end in [postgresql], and
# `--store-kind sqlite` deselects them.
pytestmark = pytest.mark.parametrize("store_kind", ["postgresql"], indirect=True)


@pytest.fixture(autouse=True)
def _every_test_has_a_store_kind(store_kind: str) -> None:
    """Puts ``store_kind`` in every test's fixtures, where the parametrization above needs it."""


OTHER = "444455556666"


@pytest.fixture
def fresh_database(postgres_databases: PostgresDatabases) -> Iterator[str]:
    """A new, empty database of the test's own (not the session's, which is migrated already)."""
    url = postgres_databases.create()
    try:
        yield url
    finally:
        postgres_databases.drop(url)


def open_postgres(url: str) -> PostgresStore:
    return PostgresStore(url, description=redacted(url))


def execute(url: str, statement: str, parameters: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Run one statement on a connection of its own, outside any store; its rows."""
    with psycopg.connect(url, autocommit=True) as connection:
        cursor = connection.execute(statement.encode(), parameters)
        return cursor.fetchall() if cursor.description is not None else []


# --- the schema and its migrations -------------------------------------------------------------------------


def _sqlite_columns(store: SqliteStore) -> dict[str, list[str]]:
    tables = store._fetchall("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    return {
        str(table): [str(column[1]) for column in store._fetchall(f"PRAGMA table_info({table})")] for (table,) in tables
    }


def _postgres_columns(store: PostgresStore) -> dict[str, list[str]]:
    rows = store._fetchall(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' "
        "AND table_name <> 'kmsd_schema_version' ORDER BY table_name, ordinal_position"
    )
    columns: dict[str, list[str]] = {}
    for table, column in rows:
        columns.setdefault(str(table), []).append(str(column))
    return columns


def test_a_fresh_postgresql_store_has_the_tables_and_columns_of_a_fresh_sqlite_store(
    tmp_path: Path, stores: Stores
) -> None:
    # The session's database was created by opening a store on an empty one, exactly as a fresh store is.
    sqlite = SqliteStore(tmp_path / "kmsd.db")
    postgres = open_postgres(stores.location)
    try:
        assert sqlite.schema_version() == postgres.schema_version() == LATEST_VERSION
        sqlite_columns, postgres_columns = _sqlite_columns(sqlite), _postgres_columns(postgres)
        assert sorted(postgres_columns) == sorted(sqlite_columns)
        # Names, not positions: PostgreSQL adds a column at the end where SQLite's table rebuild may not.
        assert {table: sorted(names) for table, names in postgres_columns.items()} == {
            table: sorted(names) for table, names in sqlite_columns.items()
        }
        assert len(sqlite_columns) > 15
    finally:
        postgres.close()
        sqlite.close()


def test_stores_opening_a_fresh_database_at_once_migrate_it_once(fresh_database: str) -> None:
    start = threading.Barrier(4)
    opened: list[PostgresStore] = []
    errors: list[BaseException] = []

    def open_one(n: int) -> None:
        try:
            start.wait(10)
            store = open_postgres(fresh_database)
            opened.append(store)
            store.set_setting(f"opener-{n}", "opened")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=open_one, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        # A second migration would have failed on the tables the first made.
        assert errors == []
        assert execute(fresh_database, "SELECT version FROM kmsd_schema_version") == [(LATEST_VERSION,)]
        assert [opened[0].get_setting(f"opener-{n}") for n in range(4)] == ["opened"] * 4
    finally:
        for store in opened:
            store.close()


def test_a_newer_schema_is_refused_without_telling_the_password(fresh_database: str) -> None:
    # The test server trusts every connection: a password is accepted, and a working store keeps it to itself.
    with_password = fresh_database.replace("://postgres@", "://postgres:s3cret-pw@", 1)
    assert "s3cret-pw" in with_password
    store = open_store(with_password)
    try:
        assert isinstance(store, PostgresStore)
        assert "s3cret-pw" not in store.description
    finally:
        store.close()
    execute(fresh_database, "UPDATE kmsd_schema_version SET version = %s", (LATEST_VERSION + 1,))
    with pytest.raises(
        StoreError, match=f"schema version {LATEST_VERSION + 1}, newer than the {LATEST_VERSION}"
    ) as refused:
        open_store(with_password)
    assert "s3cret-pw" not in _everything_said(refused.value)
    assert execute(fresh_database, "SELECT version FROM kmsd_schema_version") == [(LATEST_VERSION + 1,)]


# --- writes of several nodes ----------------------------------------------------------------------------------


def test_a_write_waits_for_another_node_holding_the_writer_lock(stores: Stores) -> None:
    store = stores.open()
    other = psycopg.connect(stores.location, autocommit=True)
    try:
        other.execute("BEGIN")
        other.execute("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK,))
        other.execute("INSERT INTO settings (name, value) VALUES ('holder', 'other')")
        holding = threading.Timer(0.3, lambda: other.execute("COMMIT"))
        holding.start()
        started = time.monotonic()
        store.set_setting("waiter", "store")
        waited = time.monotonic() - started
        holding.join()
    finally:
        other.close()
    assert waited >= 0.25
    assert store.get_setting("holder") == "other"
    assert store.get_setting("waiter") == "store"


# --- change notifications -----------------------------------------------------------------------------------


def test_a_key_another_node_changed_is_read_again_within_a_second(stores: Stores) -> None:
    writer, reader = stores.open(), stores.open()
    writer.insert_key(make_key(1))
    assert saw_a_change(reader)  # heard, so that the check below can only be the update's
    assert reader.get_key(key_id(1), REGION) == make_key(1)  # now in the reader's key cache
    disabled = make_key(1, key_state="Disabled")
    writer.update_key(disabled)
    assert saw_a_change(reader)
    assert reader.get_key(key_id(1), REGION) == disabled
    # The writer's own commit is no news to it.
    assert saw_no_change(writer)


def test_a_freshly_opened_store_reports_no_change(stores: Stores) -> None:
    # Nothing was cached before the listener listened, so nothing can be outdated (it used to say True once).
    stores.open().set_setting("x", "1")
    assert stores.open().changed_since_last_check() is False


def test_bookkeeping_writes_and_transactions_that_write_nothing_are_not_reported(stores: Stores) -> None:
    writer, reader = stores.open(), stores.open()
    with writer.transaction():  # one commit, one notification
        writer.create_account(Account(ACCOUNT, T0))
        writer.put_access_key(make_access_key("A"))
        writer.insert_key(make_key(1))
    assert saw_a_change(reader)
    # Frequent (every key and access key in use) and held by no cache: no notification to empty caches.
    writer.record_key_use(key_id(1), REGION, "Encrypt", T0, "request-1")
    writer.record_access_key_use(make_access_key("A").access_key_id, T0, "kms", REGION)
    with writer.transaction():
        writer.get_key(key_id(1), REGION)
    assert saw_no_change(reader)
    usage = reader.get_key_last_usage(key_id(1), REGION)
    assert usage is not None and usage.request_id == "request-1"
    writer.set_setting("x", "1")
    assert saw_a_change(reader)


def test_a_deaf_store_drops_its_caches_every_half_second_and_listens_again(
    stores: Stores, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Longer than the default, so that the steps below run while the store is certainly deaf.
    monkeypatch.setattr(notifications, "RECONNECT_SECONDS", 1.0)
    ticks = Ticks()
    writer = stores.open()
    deaf = PostgresStore(stores.location, description="deaf", monotonic=ticks)
    try:
        listener = deaf._listener
        assert listener is not None and listener.listening
        writer.insert_key(make_key(1))
        assert deaf.get_key(key_id(1), REGION) == make_key(1)
        # Every listener of the database (the writer's too, which does not matter here).
        terminated = execute(
            stores.location,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = %s",
            (notifications.LISTENER_APPLICATION_NAME,),
        )
        assert terminated and all(row == (True,) for row in terminated)
        cut_off = time.monotonic()
        while listener.listening:
            assert time.monotonic() - cut_off < 2, "the listener did not notice its connection ended"
            time.sleep(0.005)

        # Deaf: a change made meanwhile reaches the key cache within FALLBACK_SECONDS, without any request.
        disabled = make_key(1, key_state="Disabled")
        writer.update_key(disabled)
        ticks.seconds += notifications.FALLBACK_SECONDS
        assert deaf.get_key(key_id(1), REGION) == disabled
        # ... and the checks of requests say True at most every FALLBACK_SECONDS, on a timer of their own: the key
        # cache's expiry just now does not take their turn (their caches, grants and credentials, would then wait
        # a whole period more).
        assert deaf.changed_since_last_check() is True
        assert deaf.changed_since_last_check() is False
        ticks.seconds += notifications.FALLBACK_SECONDS - 0.01
        assert deaf.changed_since_last_check() is False
        ticks.seconds += 0.01
        assert deaf.changed_since_last_check() is True
        assert deaf.changed_since_last_check() is False
        assert not listener.listening, "the steps above must run while the store is deaf"

        # Listening again, it reports a change once, for whatever it missed, then only real ones.
        while not listener.listening:
            assert time.monotonic() - cut_off < 2.5, "the listener did not listen again"
            time.sleep(0.005)
        assert deaf.changed_since_last_check() is True
        assert deaf.changed_since_last_check() is False
        writer.set_setting("x", "1")
        assert saw_a_change(deaf)
    finally:
        deaf.close()


def test_closing_a_store_does_not_wait_for_the_listeners_poll(stores: Stores, monkeypatch: pytest.MonkeyPatch) -> None:
    # The listener's own wait, not the shorter one the other tests use (tests/store/conftest.py).
    monkeypatch.setattr(notifications, "WAIT_SECONDS", 0.1)
    for _ in range(3):
        store = stores.open()
        started = time.monotonic()
        store.close()
        # The listener probes its connection every POLL_SECONDS (0.5 s) of quiet; closing never waits for that.
        assert time.monotonic() - started < notifications.POLL_SECONDS / 2


# --- the background lease ---------------------------------------------------------------------------------


def test_the_background_lease_has_one_holder_and_is_free_once_it_closes(stores: Stores) -> None:
    second = stores.open()
    # Several rounds: a lease freed only when the holder's backend had exited was still held here one time in ten.
    for _ in range(8):
        first = stores.open()
        assert first.try_hold_background_lease() is True
        assert first.try_hold_background_lease() is True  # it still holds it
        assert second.try_hold_background_lease() is False
        first.close()
        assert second.try_hold_background_lease() is True
        second.close()
        second = stores.open()


# --- the principal-reference index ------------------------------------------------------------------------


def _references(store: AnyStore) -> set[tuple[str, str | None, str | None]]:
    rows = store._fetchall("SELECT principal, key_id, role_id FROM principal_references")
    return {(str(row[0]), row[1], row[2]) for row in rows}


@pytest.fixture
def both(stores: Stores, tmp_path: Path) -> Iterator[tuple[AnyStore, AnyStore]]:
    """A PostgreSQL store and a SQLite store with the same two accounts, to compare."""
    postgres = stores.open()
    sqlite = SqliteStore(tmp_path / "kmsd.db")
    try:
        for store in (postgres, sqlite):
            store.create_account(Account(ACCOUNT, T0))
            store.create_account(Account(OTHER, T0))
        yield postgres, sqlite
    finally:
        sqlite.close()


def test_an_escaped_solidus_and_duplicate_members_are_indexed_as_sqlite_indexes_them(
    both: tuple[AnyStore, AnyStore],
) -> None:
    alice, deployer = user("Alice"), role("Deployer")
    # A JSON text may escape "/" and repeat a member name; both members are read, as SQLite's json_tree does.
    escaped = alice.arn.replace("/", "\\/")
    policy = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*",'
        f'"Principal":{{"AWS":"{escaped}","AWS":"{deployer.arn}"}}}}]}}'
    )
    assert "user\\/Alice" in policy
    for store in both:
        store.insert_key(make_key(1, policy=policy))
    expected = {(alice.arn.lower(), key_id(1), None), (deployer.arn.lower(), key_id(1), None)}
    assert [_references(store) for store in both] == [expected, expected]


def test_an_unreadable_document_is_indexed_under_the_unreadable_marker(both: tuple[AnyStore, AnyStore]) -> None:
    postgres, _ = both
    postgres.insert_key(make_key(1, policy='{"Statement": [not json'))
    assert _references(postgres) == {("?", key_id(1), None)}


def test_a_nul_character_in_a_string_is_indexed_as_unreadable_and_the_deletion_still_rewrites_it(
    both: tuple[AnyStore, AnyStore],
) -> None:
    postgres, _ = both
    alice = user("Alice")
    postgres.insert_user(alice)
    # Valid JSON that PostgreSQL cannot turn into text: json accepts \u0000, the text it would make may not.
    policy = json.dumps(
        {"Statement": [{"Effect": "Allow", "Principal": {"AWS": alice.arn}, "Sid": "a\u0000b", "Resource": "*"}]}
    )
    assert "\\u0000" in policy
    postgres.insert_key(make_key(1, policy=policy))
    assert _references(postgres) == {("?", key_id(1), None)}
    # The marker makes every deletion read the document itself: the ARN in it is rewritten all the same.
    postgres.delete_user(alice.user_id)
    stored = postgres.get_key(key_id(1), REGION)
    assert stored is not None
    assert json.loads(stored.policy)["Statement"][0]["Principal"] == {"AWS": alice.user_id}
    assert json.loads(stored.policy)["Statement"][0]["Sid"] == "a\u0000b"


# --- ordering under another collation ------------------------------------------------------------------------


def _a_language_collation(admin: psycopg.Connection[tuple[object, ...]]) -> sql.Composable:
    """CREATE DATABASE options for a collation that does not compare bytes: en_US.UTF-8, or ICU's en-US.

    This machine's PostgreSQL has no en_US.UTF-8 (libc) locale but has ICU's; either orders ``alias/a-b``
    after ``alias/ab`` (punctuation is ignored at first) and ``aB`` after ``ab``, unlike SQLite.
    """
    libc = admin.execute(
        "SELECT collcollate FROM pg_collation WHERE collprovider = 'c' AND collname IN ('en_US.utf8', 'en_US.UTF-8')"
    ).fetchone()
    if libc is not None:
        locale = sql.Literal(str(libc[0]))
        return sql.SQL("TEMPLATE template0 LC_COLLATE {} LC_CTYPE {}").format(locale, locale)
    icu = admin.execute("SELECT 1 FROM pg_collation WHERE collprovider = 'i' AND collname = 'en-US-x-icu'").fetchone()
    assert icu is not None, "the test PostgreSQL has neither an en_US.UTF-8 nor an ICU en-US collation"
    return sql.SQL("TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'")


@pytest.fixture
def collated_database(postgres_databases: PostgresDatabases) -> Iterator[str]:
    name = f"{postgres_databases.prefix}_collated"
    with psycopg.connect(configured_dsn(), autocommit=True) as admin:
        options = _a_language_collation(admin)
        admin.execute(sql.SQL("CREATE DATABASE {} ").format(sql.Identifier(name)) + options)
        try:
            yield with_database(configured_dsn(), name)
        finally:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


ALIASES = ("alias/ab", "alias/aB", "alias/a-b", "alias/a_b", "alias/AB")
NAMES = ("bc", "b-c", "Bd", "ba", "b_c", "Zed", "a.b")


def _fill(store: AnyStore) -> None:
    store.create_account(Account(ACCOUNT, T0))
    store.insert_key(make_key(1))
    owner = user("owner")
    store.insert_user(owner)
    for alias in ALIASES:
        store.insert_alias(make_alias(alias, 1))
    for name in NAMES:
        store.insert_user(user(name))
        store.insert_role(role(name))
        store.insert_policy(
            ManagedPolicy(
                arn=f"arn:aws:iam::{ACCOUNT}:policy/{name}",
                policy_id=f"ANPA{name}",
                account_id=ACCOUNT,
                policy_name=name,
                path="/",
                default_version_id="v1",
                created_at=T0,
                updated_at=T0,
            )
        )
        store.put_inline_policy(InlinePolicy(ACCOUNT, "user", owner.user_id, name, "{}"))


def _listings(store: AnyStore) -> dict[str, list[str]]:
    owner = user("owner").user_id
    return {
        "aliases": [alias.alias_name for alias in store.list_aliases(ACCOUNT, REGION)],
        "users": [record.user_name for record in store.list_users(ACCOUNT)],
        "roles": [record.role_name for record in store.list_roles(ACCOUNT)],
        "policies": [record.policy_name for record in store.list_policies(ACCOUNT)],
        "inline policies": [record.policy_name for record in store.list_inline_policies("user", owner)],
    }


def test_lists_keep_sqlites_order_in_a_database_with_a_language_collation(
    collated_database: str, tmp_path: Path
) -> None:
    # The precondition: this database's own collation does not order as SQLite does.
    [(collated,)] = execute(
        collated_database, "SELECT array_agg(name ORDER BY name) FROM unnest(%s::text[]) AS name", (list(ALIASES),)
    )
    assert collated != sorted(ALIASES)
    sqlite = SqliteStore(tmp_path / "kmsd.db")
    postgres = open_postgres(collated_database)
    try:
        for store in (sqlite, postgres):
            _fill(store)
        listings = _listings(postgres)
        assert listings == _listings(sqlite)
        # Byte order for what compares exactly; IAM names in ASCII case-insensitive order, as NOCASE sorts.
        assert listings["aliases"] == ["alias/AB", "alias/a-b", "alias/aB", "alias/a_b", "alias/ab"]
        assert listings["inline policies"] == ["Bd", "Zed", "a.b", "b-c", "b_c", "ba", "bc"]
        assert listings["users"] == ["a.b", "b-c", "b_c", "ba", "bc", "Bd", "owner", "Zed"]
        # Paging continues after a marker in the same order.
        assert [key.key_id for key in postgres.list_keys(ACCOUNT, REGION, key_id(0), 10)] == [key_id(1)]
        # IAM names stay unique regardless of case there too.
        with pytest.raises(Conflict):
            postgres.insert_user(replace(user("BA"), user_id="AIDAANOTHERUSERID123"))
        assert postgres.get_user(ACCOUNT, "ZED") == user("Zed")
    finally:
        postgres.close()
        sqlite.close()


# --- URLs with passwords ----------------------------------------------------------------------------------


def _everything_said(error: BaseException) -> str:
    """The message and the whole printed traceback, chained exceptions included."""
    return "".join(traceback.format_exception(error))


@pytest.mark.parametrize(
    "url",
    [
        # A URL libpq cannot read: its complaint quotes the password.
        "postgresql://postgres:s3cr%zzet@127.0.0.1:5432/postgres",
        # Nobody listens there.
        "postgresql://postgres:s3cret-pw@127.0.0.1:1/kmsd",
        # The password as libpq's query parameter.
        "postgresql://postgres@127.0.0.1:1/kmsd?password=s3cret-pw",
        "postgresql://postgres@127.0.0.1:1/kmsd?sslmode=disable&password=s3cret-pw",
    ],
    ids=["unreadable-url", "unreachable", "query-parameter", "second-query-parameter"],
)
def test_a_store_that_cannot_open_never_tells_the_password(url: str) -> None:
    # Opening it to serve, and inspecting it (kmsd store check, copy), refuse it the same way.
    for attempt in (open_store, inspect_store):
        with pytest.raises(StoreError) as refused:
            attempt(url)
        said = _everything_said(refused.value)
        assert "s3cr" not in said
        assert "cannot connect to the PostgreSQL store at postgresql://postgres" in str(refused.value)
